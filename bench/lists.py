"""List benchmark: `GET /v1/flows` and `GET /v1/deployments` over 10,000 flows on SQLite and PostgreSQL.

For each database: seeds one org with 10,000 flows x 3 versions and a deployment for 2,000 of
them (bulk inserts through SQLAlchemy Core, a few seconds), starts `dagy server --no-worker`
against it and drives it with wrk (one thread, `--connections`, default 2) on loopback:

- `GET /v1/flows?limit=100` and `GET /v1/deployments` (100 a page): latency p50/p99
- `GET /v1/flows?limit=20`: throughput
- `GET /v1/flows?limit=100&next_token=...` from page 50 (flows 5,001-5,100): a deep page costs
  what the first one costs (keyset, never OFFSET)
- references: `GET /v1/me` (no database) and `GET /v1/dag-drafts` on an org without drafts (one
  indexed query, nothing found), the floor under any list on this stack

Each `--database-url` must name a fresh, empty database. By default: a SQLite file in a
temporary DAGY_HOME, and a throw-away database created on the PostgreSQL server of
`--postgres-server` (dropped afterwards). Needs `wrk` (Debian package `wrk`).

    python bench/lists.py [--duration 10] [--repeat 5] [--database-url URL ...]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from run import SUPERADMIN, Result, median, print_table, start_server, wrk
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from dagy.server.db.base import new_id
from dagy.server.db.migrate import upgrade
from dagy.server.db.models import Deployment, Flow, FlowVersion
from dagy.server.domains.flows.spec import code_hash

FLOWS = 10_000
VERSIONS = 3
DEPLOYED = 2_000
BATCH = 2_000
TARGET_P50_MS = 30.0
TARGET_RPS = 1_000.0

NODE_CODE = (
    "def main(inputs, params):\n    rows = inputs.get('extract', [])\n    return {'count': len(rows)}\n"
)


def flow_spec(i: int, version: int) -> dict[str, Any]:
    """A three-node spec of realistic size (~700 bytes), different per flow and version."""
    nodes = [
        {"id": step, "type": "python_function", "data": {"code": NODE_CODE, "entrypoint": "main"}}
        for step in ("extract", "transform", "load")
    ]
    edges = [{"source": "extract", "target": "transform"}, {"source": "transform", "target": "load"}]
    return {"name": f"flow-{i:05d}", "nodes": nodes, "edges": edges, "description": f"v{version}"}


def seed(engine: Engine, org_id: str) -> float:
    """10,000 flows x 3 versions and 2,000 deployments, in batches; returns seconds taken."""
    start = time.monotonic()
    base = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as connection:
        for first in range(0, FLOWS, BATCH):
            flows, versions, deployments = [], [], []
            for i in range(first, min(first + BATCH, FLOWS)):
                created = base + timedelta(seconds=i)
                flow_id = new_id("flow")
                flows.append(_flow_row(flow_id, org_id, i, created))
                rows = [_version_row(flow_id, org_id, i, v, created) for v in range(1, VERSIONS + 1)]
                versions += rows
                if i < DEPLOYED:
                    deployments.append(_deployment_row(org_id, i, flow_id, rows[-1]["id"], created))
            connection.execute(insert(Flow.__table__), flows)
            connection.execute(insert(FlowVersion.__table__), versions)
            if deployments:
                connection.execute(insert(Deployment.__table__), deployments)
    return time.monotonic() - start


def _flow_row(flow_id: str, org_id: str, i: int, created: datetime) -> dict[str, Any]:
    return {
        "id": flow_id,
        "org_id": org_id,
        "name": f"flow-{i:05d}",
        "namespace": f"team-{i % 20}/pipelines",
        "tags": {"team": f"team-{i % 20}", "env": "prod"},
        "latest_version": str(VERSIONS),
        "status": "active",
        "created_at": created,
        "updated_at": created + timedelta(minutes=VERSIONS),
    }


def _version_row(flow_id: str, org_id: str, i: int, version: int, created: datetime) -> dict[str, Any]:
    spec = flow_spec(i, version)
    return {
        "id": new_id("fv"),
        "org_id": org_id,
        "flow_id": flow_id,
        "version": str(version),
        "deployment_version": version,
        "flow_spec": spec,
        "artifact_s3_uri": None,
        "code_hash": code_hash(spec),
        "status": "active",
        "default_executor": "local",
        "schedule": None,
        "created_at": created + timedelta(minutes=version),
        "updated_at": created + timedelta(minutes=version),
    }


def _deployment_row(org_id: str, i: int, flow_id: str, version_id: str, created: datetime) -> dict[str, Any]:
    return {
        "id": new_id("deploy"),
        "org_id": org_id,
        "name": f"flow-{i:05d}-prod",
        "flow_id": flow_id,
        "flow_version_id": version_id,
        "environment_id": None,
        "status": "active",
        "schedule": "0 9 * * *",
        "default_executor": "local",
        "execution_mode": "nano",
        "tags": {"tier": "critical"},
        "dep_package_slugs": [],
        "max_retries": 0,
        "promoted_from_env": None,
        "promoted_from_deployment": None,
        "promoted_at": None,
        "created_at": created,
        "updated_at": created,
    }


@contextmanager
def throwaway_postgres(server: str) -> Iterator[str]:
    """A fresh database on `server` for this run, dropped afterwards."""
    url = make_url(server)
    name = f"dagy_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sign_in(base: str) -> tuple[str, str]:
    """The super admin signs in and creates the org the flows are seeded into: (token, org_id)."""
    token = httpx.post(f"{base}/v1/auth/login", json={"email": SUPERADMIN}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"org_name": "bench-lists", "plan": "enterprise"}
    org = httpx.post(f"{base}/v1/orgs", json=body, headers=headers)
    org.raise_for_status()
    return token, str(org.json()["org_id"])


def deep_token(base: str, headers: dict[str, str], page: int, limit: int) -> str:
    """The `next_token` that page `page + 1` starts from, walking the pages as a client would."""
    token = None
    for _ in range(page):
        params = {"limit": limit} | ({"next_token": token} if token else {})
        response = httpx.get(f"{base}/v1/flows", params=params, headers=headers)
        response.raise_for_status()
        token = response.json()["next_token"]
    assert token, "fewer pages than expected"
    return token


def org_script(org_id: str) -> Path:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f'wrk.headers["X-Org-Id"] = "{org_id}"\n')
    return script


def check_counts(base: str, headers: dict[str, str]) -> None:
    """The server sees what was seeded: a full first page of each list."""
    flows = httpx.get(f"{base}/v1/flows", params={"limit": 100}, headers=headers).json()
    deployments = httpx.get(f"{base}/v1/deployments", headers=headers).json()
    assert len(flows["items"]) == 100 and flows["next_token"], flows
    assert len(deployments["items"]) == 100 and deployments["next_token"], deployments


def measure(database_url: str, args: argparse.Namespace) -> tuple[list[Result], float]:
    with tempfile.TemporaryDirectory() as home:
        upgrade(database_url)
        server = start_server(Path(home), args.port, database_url=database_url, worker=False)
        try:
            base = f"http://127.0.0.1:{args.port}"
            token, org_id = sign_in(base)
            engine = create_engine(database_url)
            seconds = seed(engine, org_id)
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(text("VACUUM ANALYZE"))  # what autovacuum does shortly after
            engine.dispose()
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
            check_counts(base, headers)
            deep = deep_token(base, headers, page=50, limit=100)
            return run_wrk(base, token, org_script(org_id), deep, args), seconds
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


def run_wrk(base: str, token: str, lua: Path, deep: str, args: argparse.Namespace) -> list[Result]:
    common: dict[str, Any] = {
        "token": token,
        "connections": args.connections,
        "duration": args.duration,
        "lua": lua,
    }
    endpoints = [
        ("GET /v1/flows?limit=100", f"{base}/v1/flows?limit=100"),
        ("GET /v1/flows?limit=100, page 51", f"{base}/v1/flows?limit=100&next_token={deep}"),
        ("GET /v1/deployments", f"{base}/v1/deployments"),
        ("GET /v1/flows?limit=20", f"{base}/v1/flows?limit=20"),
        # References: the same stack without a database (identity is cached), and with one
        # indexed query that finds nothing (the org has no drafts): the floor under any list.
        ("ref: GET /v1/me", f"{base}/v1/me"),
        ("ref: GET /v1/dag-drafts (empty)", f"{base}/v1/dag-drafts"),
    ]
    return [median(args.repeat, lambda n=name, u=url: wrk(n, u, **common)) for name, url in endpoints]


def verdict(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        if r.name.startswith("ref: "):
            continue
        if r.name == "GET /v1/flows?limit=20":
            met = r.requests_per_second >= TARGET_RPS
            lines.append(
                f"{r.name}: {r.requests_per_second:.0f} req/s (target >= {TARGET_RPS:.0f}): {_ok(met)}"
            )
        else:
            met = r.p50_ms < TARGET_P50_MS
            lines.append(f"{r.name}: p50 {r.p50_ms:.2f} ms (target < {TARGET_P50_MS:.0f} ms): {_ok(met)}")
    return lines


def _ok(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per endpoint; the median is shown")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument(
        "--database-url", action="append", default=[], help="a fresh, empty database (repeatable)"
    )
    parser.add_argument(
        "--postgres-server",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the default throw-away PostgreSQL database is created",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if args.database_url:
        for url in args.database_url:
            report(url, *measure(url, args))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'dagy.db'}"
        report("SQLite", *measure(url, args))
    with throwaway_postgres(args.postgres_server) as url:
        report("PostgreSQL", *measure(url, args))


def report(database: str, results: list[Result], seed_seconds: float) -> None:
    rows = FLOWS + FLOWS * VERSIONS + DEPLOYED
    print(f"\n== {database}: {FLOWS:,} flows x {VERSIONS} versions, {DEPLOYED:,} deployments")
    print(f"   seeded {rows:,} rows in {seed_seconds:.1f} s")
    print_table(results)
    for line in verdict(results):
        print("  ", line)
    print("\n| endpoint | req/s | p50 ms | p99 ms | errors | note |\n|---|---:|---:|---:|---:|---|")
    for r in results:
        figures = f"{r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors}"
        print(f"| `{r.name}` | {figures} | {r.note} |")


if __name__ == "__main__":
    main()
