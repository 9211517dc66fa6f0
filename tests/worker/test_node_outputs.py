"""Large node outputs in the object store, with real processes: a `dagy worker --url` (no access to
the server's folder, so its runs use the object routes) persists a table of a few MB as Parquet; a
worker killed after that node loses its lease, and the next attempt resumes from the stored table
without running the producer again, the downstream node receiving the identical value. A
`file_read` on a remote worker reads an object over HTTP, and its large non-tabular output is
stored as JSON. Deleting the flow removes its runs' objects.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import NodeRun
from dagy.server.settings import Settings
from tests.factories import new_org
from tests.flow_factories import python_node, spec
from tests.worker.live import Workers, api_for, finished, register, wait

pytestmark = pytest.mark.slow

ROWS = 60_000  # ~4 MB as JSON
PRODUCER = f"""
def main(inputs, params):
    print("produced", flush=True)
    return [row(i) for i in range({ROWS})]


def row(i):
    note = None if i % 7 else "x"
    return {{"id": i, "name": "row-" + str(i), "amount": i * 0.5, "even": i % 2 == 0, "note": note}}
"""
CONSUMER = """
import hashlib, json, time

def main(inputs, params):
    print("started", flush=True)
    time.sleep(params["sleep"])
    rows = inputs["big"]
    return {"rows": len(rows), "sha256": hashlib.sha256(json.dumps(rows).encode()).hexdigest()}
"""
MEASURE = """
def main(inputs, params):
    doc = inputs["read"]
    return {"keys": sorted(doc), "chars": len(doc["text"]), "items": len(doc["items"])}
"""


def expected_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": "row-" + str(i),
            "amount": i * 0.5,
            "even": i % 2 == 0,
            "note": None if i % 7 else "x",
        }
        for i in range(ROWS)
    ]


def node_runs(app: FastAPI, run_id: str) -> list[NodeRun]:
    with app.state.db.transaction(write=False) as session:
        return list(session.execute(select(NodeRun).where(NodeRun.run_id == run_id)).scalars())


def test_a_resumed_attempt_reads_the_stored_table_instead_of_recomputing_it(
    app: FastAPI, client: TestClient, workers: Workers, pool: str, *, settings: Settings
) -> None:
    owner = new_org(app, client)
    api = api_for(workers.url, owner)
    flow_spec = spec(python_node("big", PRODUCER), python_node("sum", CONSUMER), edges=(("big", "sum"),))
    flow = register(api, flow_spec, pool)
    parameters = {"sleep": 2}
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": parameters}).json()["run_id"]

    doomed = workers.start("w-doomed", pool)
    wait(
        lambda: any(e["message"] == "started" for e in api.get(f"/runs/{run_id}/logs").json()["events"]),
        30,
        "the consumer to start",
    )
    time.sleep(0.6)  # the producer's completion reaches the server with the next flush
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    workers.start("w-heir", pool)

    run = finished(api, run_id)
    digest = hashlib.sha256(json.dumps(expected_rows()).encode()).hexdigest()
    assert (run["status"], run["output"]) == ("completed", {"rows": ROWS, "sha256": digest})
    messages = [e["message"] for e in api.get(f"/runs/{run_id}/logs").json()["events"]]
    assert messages.count("produced") == 1  # the producer ran once, in the first attempt

    rows = {(n.attempt, n.node_id): n for n in node_runs(app, run_id)}
    reference = rows[(1, "big")].output
    assert rows[(2, "big")].output == reference  # the resumed attempt reports the same reference
    stored = reference["$dagy_output"]
    assert stored["key"] == f"dagy/runs/{owner.org_id}/{run_id}/outputs/1/big.parquet"
    assert (stored["format"], stored["rows"]) == ("parquet", ROWS)
    assert (settings.home / "objects" / stored["key"]).stat().st_size == stored["bytes"]
    tasks = api.get(f"/runs/{run_id}/tasks").json()["items"]
    assert {t["output"] == reference for t in tasks if t["node_id"] == "big"} == {True}

    assert api.delete(f"/flows/{flow}").status_code in (200, 204)
    assert not (settings.home / "objects" / "dagy" / "runs" / owner.org_id / run_id).exists()


def test_file_read_on_a_remote_worker_and_its_large_output_as_json(
    app: FastAPI, client: TestClient, workers: Workers, pool: str, settings: Settings
) -> None:
    owner = new_org(app, client)
    api = api_for(workers.url, owner)
    document = {"text": "lorem ipsum " * 30_000, "items": list(range(20_000))}
    source = settings.home / "objects" / "dagy" / "data" / owner.org_id / "in" / "doc.json"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps(document))
    flow_spec = spec(
        {"id": "read", "type": "file_read", "data": {"path": "in/doc.json"}},
        python_node("measure", MEASURE),
        edges=(("read", "measure"),),
    )
    flow = register(api, flow_spec, pool)
    run_id = api.post("/runs", json={"flow_name": flow}).json()["run_id"]
    workers.start("w-remote", pool)

    run = finished(api, run_id)
    assert (run["status"], run["output"]) == (
        "completed",
        {"keys": ["items", "text"], "chars": len(document["text"]), "items": 20_000},
    )
    [read] = [n for n in node_runs(app, run_id) if n.node_id == "read"]
    stored = read.output["$dagy_output"]
    assert stored["key"] == f"dagy/runs/{owner.org_id}/{run_id}/outputs/1/read.json"
    assert (stored["format"], stored["rows"]) == ("json", None)
    run_folder = settings.home / "objects" / "dagy" / "runs" / owner.org_id / run_id
    assert json.loads((run_folder / "outputs" / "1" / "read.json").read_text()) == document

    assert api.delete(f"/flows/{flow}").status_code in (200, 204)
    assert not run_folder.exists()
    assert source.exists()  # the org's data is not the run's
