"""deploy/compose.yml: the one-host stack, read as YAML and checked against Dagy's commands, settings
and health routes; and validated by Docker Compose itself (`config`) where a Compose is installed
(Debian's `docker-compose` package, or Docker's compose plugin).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.deploy.operator_interface import DEPLOY, assert_known_variable, image_entrypoint, parse_invocation

COMPOSE_FILE = DEPLOY / "compose.yml"
COMPOSE_TEXT = COMPOSE_FILE.read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DAGY = {name for name, service in SERVICES.items() if service["image"] == "${IMAGE:-dagy:0.1.0}"}
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (DEPLOY / ".env.example").read_text().splitlines()
    if line and not line.startswith("#")
)


def _compose_command() -> list[str] | None:
    """Docker's compose plugin, else the standalone docker-compose; None when neither is here."""
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if plugin and plugin.returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def _env_file(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "compose.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in (ENV_EXAMPLE | values).items()))
    return path


def test_the_stack() -> None:
    assert {"migrate", "server", "services", "worker"} == DAGY
    assert set(SERVICES) == DAGY | {"postgres", "proxy"}
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name in ("server", "services", "worker"):
        assert SERVICES[name]["deploy"]["replicas"] == 2, name


def test_every_dagy_service_runs_a_real_dagy_command() -> None:
    assert image_entrypoint() == ["dagy"]  # compose's `command` is the arguments of the entry point
    commands = {name: parse_invocation(SERVICES[name]["command"]) for name in DAGY}
    assert commands["migrate"][0] == ["db", "upgrade"]
    assert commands["services"][0] == ["services"]
    path, server = commands["server"]
    assert path == ["server"] and server["no_services"] and server["no_worker"]
    path, worker = commands["worker"]
    assert path == ["worker"] and worker["executor"] == "flow-executor"


def test_every_variable_is_a_dagy_setting_and_every_interpolation_is_in_the_env_example() -> None:
    for name in DAGY:
        for variable in SERVICES[name]["environment"]:
            assert_known_variable(variable)
    for variable in ENV_EXAMPLE:
        if variable.startswith("DAGY_"):
            assert_known_variable(variable)
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE_TEXT))
    assert interpolated and interpolated <= set(ENV_EXAMPLE)


def test_workers_hold_the_worker_token_and_no_database_credentials() -> None:
    environment = SERVICES["worker"]["environment"]
    assert set(environment) == {"DAGY_WORKER_URL", "DAGY_WORKER_TOKEN"}
    assert environment["DAGY_WORKER_URL"] == "http://proxy:8080"
    # Run isolation needs a root, privileged worker (docs/isolation.md); nothing else is either.
    assert SERVICES["worker"]["user"] == "0" and SERVICES["worker"]["privileged"] is True
    assert not [name for name in SERVICES if name != "worker" and SERVICES[name].get("privileged")]


def test_the_database_url_names_the_postgres_service() -> None:
    postgres = SERVICES["postgres"]["environment"]
    url = SERVICES["server"]["environment"]["DAGY_DATABASE_URL"]
    assert url.startswith(f"postgresql+psycopg://{postgres['POSTGRES_USER']}:")
    assert url.endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
    for name in ("migrate", "server", "services"):
        assert SERVICES[name]["environment"] == SERVICES["server"]["environment"], name


def test_everything_starts_in_order_and_is_checked() -> None:
    def after(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in SERVICES[name]["depends_on"].items()}

    assert after("migrate") == {"postgres": "service_healthy"}
    assert after("server") == after("services") == {"migrate": "service_completed_successfully"}
    assert after("proxy") == {"server": "service_healthy"}
    assert after("worker") == {"proxy": "service_healthy"}
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("postgres", "server", "proxy"):
        assert SERVICES[name]["healthcheck"]["test"][0] == "CMD", name
    assert SERVICES["postgres"]["healthcheck"]["test"][1] == "pg_isready"


def test_health_checks_call_routes_that_answer(client: TestClient) -> None:
    checks = {
        "server": " ".join(SERVICES["server"]["healthcheck"]["test"]),
        "proxy": " ".join(SERVICES["proxy"]["healthcheck"]["test"]),
    }
    for name, check in checks.items():
        match = re.search(r"http://127\.0\.0\.1:8080(/v1/health/\w+)", check)
        assert match is not None, name
        assert client.get(match.group(1)).status_code == 200, name


def test_the_proxy_balances_over_the_server_replicas() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"^:8080 \{", caddyfile, re.MULTILINE)
    assert re.search(r"dynamic a server 8080 \{", caddyfile)  # every replica, by Docker's DNS
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in SERVICES["proxy"]["volumes"]
    assert SERVICES["proxy"]["ports"] == ["${HTTP_PORT:-8080}:8080"]
    assert not [name for name in DAGY if SERVICES[name].get("ports")]  # only the proxy is published


def test_docker_compose_accepts_it(tmp_path: Path) -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("no Docker Compose here (`apt-get install docker-compose` brings one)")
    filled = _env_file(tmp_path, DAGY_SECRET_KEY="k" * 43, DAGY_WORKER_TOKEN="t" * 43)
    accepted = subprocess.run(
        [*compose, "--file", str(COMPOSE_FILE), "--env-file", str(filled), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr
    # The example's keys are empty on purpose: Compose refuses to start without them.
    refused = subprocess.run(
        [*compose, "--file", str(COMPOSE_FILE), "--env-file", str(_env_file(tmp_path)), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "set DAGY_SECRET_KEY in deploy/.env" in refused.stderr
