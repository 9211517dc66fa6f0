"""The generated `pipeline_python` really runs: for corpus requests marked `runs`, the code the
embedded planner writes is saved as a file and run with `python pipeline.py` (a fresh interpreter,
as a user would), against real peers on loopback: S3 (moto's server) and an HTTP server that serves
JSON and records what webhooks post. Its output is read back from S3 and from the webhook."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner
from tests.server.ai_studio_planner.conftest import CORPUS, Recorder, attachments_of, corpus_entry, turn

RUNS = [entry["id"] for entry in CORPUS if entry.get("runs")]


@dataclass
class Web:
    """An HTTP peer: GET answers `pages[path]` as JSON, POST records its body in `posted`."""

    url: str = ""
    pages: dict[str, Any] = field(default_factory=dict)
    posted: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def web() -> Iterator[Web]:
    state = Web()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path in state.pages:
                self._answer(200, state.pages[self.path])
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.posted.append((self.path, body))
            self._answer(200, {"ok": True})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _bucket(client: Any, name: str) -> None:
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=name)


def _put(client: Any, bucket: str, key: str, records: list[dict[str, Any]], *, lines: bool = False) -> None:
    _bucket(client, bucket)
    body = "\n".join(json.dumps(r) for r in records) if lines else json.dumps(records)
    client.put_object(Bucket=bucket, Key=key, Body=body.encode())


def _written(client: Any, bucket: str, prefix: str) -> list[Any]:
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert len(keys) == 1, keys
    body = client.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
    return json.loads(body) if keys[0].endswith(".json") else [json.loads(line) for line in body.splitlines()]


def _run(code: str, tmp_path: Path, s3: str) -> Any:
    """Runs the generated module as `python pipeline.py`; answers what it printed (the flow's output)."""
    path = tmp_path / "pipeline.py"
    path.write_text(code)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": s3,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DAGY_ALLOW_PRIVATE_NETWORK": "1",
    }
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _plan(request: str, entry: dict[str, Any]) -> str:
    result = EmbeddedPlanner().plan(turn(request, attachments=attachments_of(entry)), Recorder())
    assert result.validation is not None and result.validation.valid, result.validation
    assert result.pipeline_python is not None
    return result.pipeline_python


def test_the_corpus_marks_requests_whose_code_runs() -> None:
    assert len(RUNS) >= 4


def test_reference_example_code_runs(s3: str, tmp_path: Path) -> None:
    """Read, validate, normalise, deduplicate (by id, the guessed key), write back: with the
    placeholder bucket the planner chose, created here."""
    client = _client(s3)
    _put(
        client,
        "your-bucket",
        "orders.json",
        [{"id": 1, "name": " Ana "}, {"id": 1, "name": "Ana"}, {"id": 2}],
    )
    entry = corpus_entry("reference_example")
    output = _run(_plan(entry["request"], entry), tmp_path, s3)
    assert output["bucket"] == "your-bucket" and output["records"] == 2
    assert _written(client, "your-bucket", "processed/") == [{"id": 1, "name": "Ana"}, {"id": 2}]


def test_enrich_orders_stub_passes_the_data_through(s3: str, tmp_path: Path) -> None:
    client = _client(s3)
    orders = [{"order_id": "A-1", "customer": "c1"}, {"order_id": "A-2", "customer": "c2"}]
    _put(client, "acme-orders", "2024/orders.json", orders)
    _bucket(client, "acme-enriched")
    entry = corpus_entry("enrich_orders")
    output = _run(_plan(entry["request"], entry), tmp_path, s3)
    assert output["records"] == 2
    assert _written(client, "acme-enriched", "orders/") == orders


def test_terse_list_validates_trims_and_deduplicates(s3: str, tmp_path: Path) -> None:
    client = _client(s3)
    _put(client, "a-bucket", "in/part-1.json", [{"id": 1, "city": " Oslo "}, {"id": 2, "city": "Lima"}])
    _put(client, "a-bucket", "in/part-2.json", [{"id": 1, "city": "Oslo"}])
    entry = corpus_entry("terse_list")
    _run(_plan(entry["request"], entry), tmp_path, s3)
    assert _written(client, "a-bucket", "out/") == [{"id": 1, "city": "Oslo"}, {"id": 2, "city": "Lima"}]


def test_fetch_dedupe_write_runs_against_an_http_peer(s3: str, web: Web, tmp_path: Path) -> None:
    client = _client(s3)
    _bucket(client, "demo-bucket")
    web.pages["/todos"] = [
        {"userId": 1, "title": "a", "done": False},
        {"userId": 1, "title": "a", "done": True},
        {"userId": 2, "title": "a", "done": False},
    ]
    entry = corpus_entry("fetch_dedupe_write")
    request = entry["request"].replace("https://jsonplaceholder.typicode.com", web.url)
    _run(_plan(request, entry), tmp_path, s3)
    assert _written(client, "demo-bucket", "todos/") == [
        {"userId": 1, "title": "a", "done": False},
        {"userId": 2, "title": "a", "done": False},
    ]


def test_numbered_steps_post_the_deduplicated_entries_to_the_webhook(
    s3: str, web: Web, tmp_path: Path
) -> None:
    client = _client(s3)
    logs = [{"level": "error", "message": "disk full"}, {"level": "error", "message": "disk full"}]
    _put(client, "app-logs", "2024/app.jsonl", logs, lines=True)
    entry = corpus_entry("numbered_steps")
    request = entry["request"].replace("https://hooks.example.net", web.url)
    output = _run(_plan(request, entry), tmp_path, s3)
    assert output["delivered"] is True
    assert web.posted == [("/errors", [{"level": "error", "message": "disk full"}])]


def test_typed_csv_fields_are_cast_before_the_schema_checks_them(s3: str, tmp_path: Path) -> None:
    """CSV cells are text: the generated cast step makes `order_id` an integer and `amount` a
    number, so the schema passes the good rows; the latest duplicate is kept; parquet comes out."""
    import io

    import pyarrow.parquet as pq

    client = _client(s3)
    _bucket(client, "acme-raw")
    _bucket(client, "acme-clean")
    rows = (
        "order_id,email,amount\n1,a@example.com,10.5\n2,b@example.com,7\n1,a@example.com,11\n"
        "x,c@example.com,1\n"
    )
    client.put_object(Bucket="acme-raw", Key="orders/part-1.csv", Body=rows.encode())
    entry = corpus_entry("typed_fields_parquet")
    _run(_plan(entry["request"], entry), tmp_path, s3)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="acme-clean", Prefix="orders/")["Contents"]]
    (key,) = keys
    table = pq.read_table(io.BytesIO(client.get_object(Bucket="acme-clean", Key=key)["Body"].read()))
    # Row "x" fails the schema (its order_id is no integer) and leaves by the invalid port.
    assert table.to_pylist() == [
        {"order_id": 2, "email": "b@example.com", "amount": 7.0},
        {"order_id": 1, "email": "a@example.com", "amount": 11.0},
    ]
