"""`dagy init`: a new project folder with `dagy.yaml`, an example code flow and `.dagyignore`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from dagy.cli import output

MANIFEST = """\
# What `dagy deploy` registers; every field is described in docs/cli.md ("dagy.yaml").
name: {name}
entrypoint: {module}:{function}
# version: "1.0.0"        # default: the next integer label
# namespace: examples
tags: {{}}
secrets: []               # names the code reads with dagy.secrets.get
deployments:
  {name}:
    # environment: staging
    # schedule: "0 6 * * *"
    # timezone: Europe/Paris
    # executor: local
    execution_mode: nano
"""

FLOW = '''\
"""{name}: an example code flow. Try it here with `python {module}.py`, deploy it with `dagy deploy`."""

from dagy import flow, get_run_logger, task


@task(retries=2, retry_delay_seconds=1)
def greet(who: str) -> str:
    get_run_logger().info("greeting %s", who)
    return f"hello, {{who}}"


@task
def shout(text: str, times: int) -> str:
    return " ".join([text.upper()] * times)


@flow(name="{name}")
def {function}(who: str = "world", times: int = 1) -> dict[str, str]:
    return {{"message": shout(greet(who), times)}}


if __name__ == "__main__":
    print({function}())
'''

IGNORE = """\
# Left out of the artifact `dagy deploy` uploads (gitignore syntax; .gitignore applies too).
# .git, __pycache__ and .venv are always left out.
*.pyc
.env
.pytest_cache/
.mypy_cache/
build/
dist/
"""


def init(
    path: Annotated[Path, typer.Argument(help="The project folder (created when missing).")] = Path(),
    name: Annotated[str | None, typer.Option(help="The flow's name (default: the folder's name).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Scaffold a project: dagy.yaml, an example flow using @flow/@task, and .dagyignore.

    Examples:

      dagy init hello && cd hello && dagy deploy

      dagy init . --name daily-sales
    """
    folder = path.resolve()
    flow_name = name or _slug(folder.name)
    module = re.sub(r"[^a-z0-9_]", "_", flow_name.lower()).lstrip("0123456789_") or "flow"
    module = f"{module}_flow"
    function = module.removesuffix("_flow") or "main"
    files = {
        "dagy.yaml": MANIFEST.format(name=flow_name, module=module, function=function),
        f"{module}.py": FLOW.format(name=flow_name, module=module, function=function),
        ".dagyignore": IGNORE,
    }
    existing = [file for file in files if (folder / file).exists()]
    if existing and not force:
        raise typer.BadParameter(f"{', '.join(existing)} already exist in {folder} (--force overwrites)")
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    output.success(f"created {', '.join(files)} in {folder}")
    output.note(f"try it: python {folder / (module + '.py')}   deploy it: dagy deploy {path}")


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")
    return slug[:128] or "my-flow"
