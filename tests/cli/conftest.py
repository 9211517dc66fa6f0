"""A real `dagy server` (with its embedded worker) for the CLI tests, and `dagy` run as a subprocess
against it with a config folder of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import unique, unique_email
from tests.ports import free_port
from tests.worker.live import DAGY

ADMIN = "admin@example.com"


@dataclass
class Server:
    url: str
    home: Path


@dataclass
class Cli:
    """`dagy` with `DAGY_CONFIG_DIR` in the test's folder; `run()` answers the finished process."""

    server: Server
    config_dir: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAGY_")}
        env |= {"DAGY_CONFIG_DIR": str(self.config_dir), "COLUMNS": "200", "NO_COLOR": "1"} | self.env
        return subprocess.run(
            [DAGY, *args],
            env=env,
            cwd=self.cwd,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self.run(*args, input=input)
        assert done.returncode == 0, (
            f"dagy {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`dagy server` on a free loopback port, SQLite and objects in a DAGY_HOME of its own."""
    home = tmp_path_factory.mktemp("dagy-home")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGY_")} | {
        "DAGY_HOME": str(home),
        "DAGY_DATABASE_URL": f"sqlite:///{home / 'dagy.db'}",
        "DAGY_HOST": "127.0.0.1",
        "DAGY_PORT": str(port),
        "DAGY_AUTH_MODE": "email",
        "DAGY_SUPERADMIN_EMAILS": ADMIN,
        "DAGY_RATE_LIMIT_PER_MINUTE": "1000000",
        "DAGY_AUTH_CACHE_SECONDS": "0",
        "DAGY_LOG_LEVEL": "warning",
    }
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([DAGY, "server"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/v1/openapi.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)
    try:
        yield Server(url, home)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Cli:
    """Not logged in yet."""
    work = tmp_path / "work"
    work.mkdir()
    return Cli(server, tmp_path / "config", work)


@pytest.fixture
def owner(server: Server) -> tuple[str, str]:
    """A fresh org and its owner's email: the super admin creates the org and invites the owner."""
    admin = _login(server.url, ADMIN)
    email = unique_email("owner")
    with httpx.Client(base_url=f"{server.url}/v1", headers={"Authorization": f"Bearer {admin}"}) as api:
        created = api.post("/orgs", json={"org_name": unique("org"), "plan": "enterprise"})
        assert created.status_code == 201, created.text
        org_id = created.json()["org_id"]
        invited = api.post(f"/orgs/{org_id}/members", json={"email": email, "role": "owner"})
        assert invited.status_code in (200, 201), invited.text
    return email, org_id


@pytest.fixture
def logged_in(cli: Cli, owner: tuple[str, str]) -> Cli:
    email, org_id = owner
    cli.ok("login", "--url", cli.server.url, "--email", email, "--org", org_id)
    return cli


def _login(url: str, email: str) -> str:
    response = httpx.post(f"{url}/v1/auth/login", json={"email": email})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
