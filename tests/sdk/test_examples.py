"""The shipped example runs as its README says, locally and as a code flow in the run's process."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from dagy.runtime.code_flow import run_code_flow
from dagy.runtime.events import EventWriter
from tests.payloads import run_payload

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_etl_example_runs_locally(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "etl_flow.py"), "2026-11-28"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert "{'day': '2026-11-28', 'products': 4, 'revenue_eur': 124.03}" in done.stdout
    assert "order 1005 has quantity -1; dropped" in done.stderr
    with sqlite3.connect(tmp_path / "warehouse.db") as db:
        rows = db.execute("SELECT sku, quantity, amount_eur FROM daily_sales ORDER BY sku").fetchall()
    assert rows == [
        ("coffee-arabica", 7, 79.34),
        ("rice-basmati", 2, 12.4),
        ("tea-earl-grey", 4, 18.29),
        ("tea-sencha", 2, 14.0),
    ]


def test_the_etl_example_runs_as_a_code_flow(tmp_path: Path) -> None:
    artifact = tmp_path / "run" / "artifact.zip"
    artifact.parent.mkdir()
    with zipfile.ZipFile(artifact, "w") as archive:  # as examples/README.md packages it
        archive.write(EXAMPLES / "etl_flow.py", "etl_flow.py")
        archive.write(EXAMPLES / "data" / "orders.csv", "data/orders.csv")
    stream = io.StringIO()
    payload = run_payload(
        artifact_path=str(artifact),
        entrypoint="etl_flow:daily_sales",
        parameters={"day": "2026-11-28", "db_path": str(tmp_path / "w.db")},
    )
    result = run_code_flow(payload, EventWriter(stream))
    assert (result.status, result.output) == (
        "completed",
        {"day": "2026-11-28", "products": 4, "revenue_eur": 124.03},
    )
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    completed = {e["node_id"] for e in events if e["event"] == "node" and e["status"] == "completed"}
    assert {"extract-1", "summarise-1", "load-1"} <= completed and len(
        [n for n in completed if n.startswith("to_eur")]
    ) == 7
