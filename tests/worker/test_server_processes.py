"""`dagy server --processes N`: several server processes on one port and one PostgreSQL database
(docs/configuration.md); refused on SQLite."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import new_org
from tests.flow_factories import python_node, spec
from tests.worker.live import DAGY, api_for, register, serving

OK = "def main(inputs, params):\n    return params\n"


def test_two_processes_serve_one_port_and_one_database(
    app: FastAPI, client: TestClient, settings: Settings, pool: str, tmp_path: Path
) -> None:
    if app.state.db.is_sqlite:
        pytest.skip("several server processes are PostgreSQL's")
    owner = new_org(app, client)
    with serving(settings, tmp_path, "--processes", "2") as (url, process):
        children = psutil.Process(process.pid).children()
        assert len([c for c in children if "spawn_main" in " ".join(c.cmdline())]) == 2
        flow = register(api_for(url, owner), spec(python_node("only", OK)), pool)

        def trigger(n: int) -> str:
            with api_for(url, owner) as api:  # a connection of its own: any process may answer
                answer = api.post("/runs", json={"flow_name": flow, "parameters": {"n": n}})
                assert answer.status_code == 202, answer.text
                return str(answer.json()["run_id"])

        with ThreadPoolExecutor(4) as threads:
            created = set(threads.map(trigger, range(24)))
        listed = api_for(url, owner).get("/runs", params={"flow_name": flow, "limit": 100}).json()
        assert {run["run_id"] for run in listed["items"]} == created and len(created) == 24
    assert process.returncode is not None


def test_several_processes_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = os.environ | {
        "DAGY_HOME": str(tmp_path / "home"),
        "DAGY_DATABASE_URL": f"sqlite:///{tmp_path / 'dagy.db'}",
    }
    done = subprocess.run(
        [DAGY, "server", "--processes", "2"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "PostgreSQL" in done.stderr
