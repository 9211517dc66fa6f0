"""What a deployment file (deploy/compose.yml, the Helm chart) may name of Dagy: its commands, as
the `dagy` typer app parses them, and its variables, as the settings and the commands read them.

Checked against the code itself, so a renamed option or setting fails these tests rather than a
container at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
import typer.main
import yaml

from dagy.cli.main import app
from dagy.protocol.host import HostSettings
from dagy.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Variables a deployment may set that are not Dagy's own: OpenTelemetry's exporter (docs/metrics.md).
FOREIGN_VARIABLES = frozenset({"OTEL_EXPORTER_OTLP_ENDPOINT"})
# Typer builds on Click, its own copy of it in recent versions: its usage errors, whichever it is.
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _setting_variables(model: type, prefix: str = "DAGY_") -> Iterator[str]:
    """`DAGY_` + the field name in upper case, nested groups joined with `__`."""
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            yield from _setting_variables(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}"


def _commands(command: Any) -> Iterator[Any]:
    """The command and every command under it (a group has `commands`)."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


def _option_variables() -> Iterator[str]:
    """The variables the commands' options read (`dagy worker`'s DAGY_WORKER_URL and the like)."""
    for command in _commands(typer.main.get_command(app)):
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if isinstance(envvar, str):
                yield envvar
            elif envvar:
                yield from envvar


DAGY_VARIABLES = frozenset(
    [*_setting_variables(Settings), *HostSettings.VARIABLES.values(), *_option_variables()]
)


def assert_known_variable(name: str) -> None:
    assert name in DAGY_VARIABLES or name in FOREIGN_VARIABLES, f"{name} is not a Dagy setting"


def parse_invocation(args: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The subcommand path (`["db", "upgrade"]`) and the parsed parameters of `dagy ARGS...`;
    AssertionError when the command does not exist or refuses its arguments."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "commands"):
        assert rest, f"`dagy {' '.join(path)}` needs a subcommand"
        assert rest[0] in command.commands, f"`dagy {' '.join([*path, rest[0]])}` is not a dagy command"
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    try:
        context = command.make_context(" ".join(["dagy", *path]), rest)
    except _CLICK_ERROR as exc:
        raise AssertionError(f"`dagy {' '.join(args)}`: {exc.format_message()}") from exc
    return path, dict(context.params)


def dockerfile_instructions(path: Path = DEPLOY / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, comments dropped and continuation lines joined."""
    joined = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", path.read_text())
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def image_entrypoint() -> list[str]:
    entrypoints = [args for keyword, args in dockerfile_instructions() if keyword == "ENTRYPOINT"]
    entrypoint: list[str] = yaml.safe_load(entrypoints[-1])  # the exec form is a JSON list
    return entrypoint
