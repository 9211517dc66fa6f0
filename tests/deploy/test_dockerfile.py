"""deploy/Dockerfile, read rather than built: no Docker daemon or registry is reachable where the tests
run (docs/scaling.md says so). What can be checked without one is: its stages, that each file it
copies exists and is not left out of the build context by .dockerignore, that the web app's build
lands where Vite writes it and hatch_build.py looks for it, that the extras it installs exist, and
that the image's entry point, command, user and variables are Dagy's.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import tomllib

from tests.deploy.operator_interface import (
    ROOT,
    assert_known_variable,
    dockerfile_instructions,
    image_entrypoint,
    parse_invocation,
)

INSTRUCTIONS = dockerfile_instructions()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """(FROM's arguments, the stage's instructions) for each stage."""
    stages: list[tuple[str, list[tuple[str, str]]]] = []
    for keyword, args in INSTRUCTIONS:
        if keyword == "FROM":
            stages.append((args, []))
        else:
            stages[-1][1].append((keyword, args))
    return stages


def _excluded(path: str) -> bool:
    """Whether .dockerignore leaves `path` (or a folder above it) out of the build context."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")], "exceptions are not read here"
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        regex = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            return True
    return False


def test_three_stages_node_20_then_python_3_11_slim() -> None:
    assert [args for args, _ in _stages()] == [
        "node:20 AS web",
        "python:3.11-slim AS build",
        "python:3.11-slim",
    ]


def test_every_copied_file_exists_in_the_build_context() -> None:
    sources = []
    for keyword, args in INSTRUCTIONS:
        if keyword == "COPY" and not args.startswith("--from"):
            sources += shlex.split(args)[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _excluded(source), f"{source} is in .dockerignore"
    # What the image is made of stays in the context; what would bloat or leak it does not.
    for needed in ("web/src/main.tsx", "web/package-lock.json", "src/dagy/cli/main.py"):
        assert not _excluded(needed), needed
    for left_out in (
        ".venv/bin/python",
        ".git/HEAD",
        "web/node_modules/vite/package.json",
        "src/dagy/server/webapp/index.html",
        "tests/conftest.py",
    ):
        assert _excluded(left_out), left_out


def test_the_web_app_is_built_where_vite_writes_and_hatch_looks() -> None:
    (_, web), (_, build), _ = _stages()
    workdir = next(args for keyword, args in web if keyword == "WORKDIR")
    assert ("RUN", "npm ci --no-audit --no-fund") in web and ("RUN", "npm run build") in web
    assert "build" in json.loads((ROOT / "web" / "package.json").read_text())["scripts"]
    out_dir = re.search(r'outDir:\s*"([^"]+)"', (ROOT / "web" / "vite.config.ts").read_text())
    assert out_dir is not None
    built = posixpath.normpath(posixpath.join(workdir, out_dir.group(1)))
    hatch_build = re.search(r'BUILD = Path\("([^"]+)"\)', (ROOT / "hatch_build.py").read_text())
    assert hatch_build is not None
    [copy] = [args for keyword, args in build if keyword == "COPY" and args.startswith("--from=web")]
    _, source, destination = shlex.split(copy)
    build_workdir = next(args for keyword, args in build if keyword == "WORKDIR")
    assert source.rstrip("/") == built
    assert posixpath.join(build_workdir, destination).rstrip("/") == posixpath.join(
        build_workdir, hatch_build.group(1)
    )


def test_the_extras_it_installs_exist() -> None:
    [install] = [args for keyword, args in INSTRUCTIONS if keyword == "RUN" and "pip install" in args]
    extras = re.search(r"\.\[([a-z,]+)\]", install)
    assert extras is not None
    assert extras.group(1).split(",") == ["server", "kubernetes", "docker", "tracing"]
    for extra in extras.group(1).split(","):
        assert extra in PYPROJECT["project"]["optional-dependencies"], extra


def test_the_image_runs_dagy_as_a_user_of_its_own() -> None:
    _, _, (_, image) = _stages()
    assert image_entrypoint() == ["dagy"] and "dagy" in PYPROJECT["project"]["scripts"]
    [cmd] = [args for keyword, args in image if keyword == "CMD"]
    assert parse_invocation(json.loads(cmd))[0] == ["server"]
    [user] = [args for keyword, args in image if keyword == "USER"]
    assert user.isdigit() and int(user) != 0  # numeric: Kubernetes' runAsNonRoot can check it
    run = " ".join(args for keyword, args in image if keyword == "RUN")
    assert f"--uid {user}" in run and "chown dagy:dagy /var/lib/dagy" in run  # DAGY_HOME is its own
    assert ("EXPOSE", "8080") in image
    assert ("COPY", "--from=build /opt/dagy /opt/dagy") in image


def test_its_variables_are_dagy_settings() -> None:
    _, _, (_, image) = _stages()
    [env] = [args for keyword, args in image if keyword == "ENV"]
    variables = dict(item.split("=", 1) for item in shlex.split(env))
    assert variables["DAGY_HOME"] == "/var/lib/dagy"
    assert variables["PATH"].startswith("/opt/dagy/bin:")
    for name in variables:
        if name.startswith("DAGY_"):
            assert_known_variable(name)
