"""The ingestion node types against real peers: S3 (moto's server), an HTTP server, SQLite and
PostgreSQL on this machine, and Dagy's object store in a folder."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import create_engine, text

from dagy.nodes.base import NodeError
from dagy.nodes.ingestion import FileReadNode, HttpFetchNode, S3IngestNode, S3WriteNode, SqlQueryNode
from dagy.protocol.host import HostSettings
from dagy.runtime.objects import DirectoryObjectStore
from tests.nodes.conftest import HttpPeer, MakeContext, S3Peer

ORDERS = [
    {"order_id": "A-1001", "customer": "Ana Lima", "amount": 120.5, "country": "FR", "paid": True},
    {"order_id": "A-1002", "customer": "Bo Chen", "amount": 80, "country": "DE", "paid": False},
    {"order_id": "A-1003", "customer": "Chloé Roux", "amount": 310.25, "country": "FR", "paid": True},
]


def error_of(call: Any) -> NodeError:
    with pytest.raises(NodeError) as caught:
        call()
    return caught.value


# --- S3 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_format", "value", "read_back"),
    [
        ("json", ORDERS, ORDERS),
        ("jsonl", ORDERS, ORDERS),
        ("parquet", ORDERS, ORDERS),
        # CSV has no types: every cell comes back as the string it was written as.
        (
            "csv",
            ORDERS,
            [{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in o.items()} for o in ORDERS],
        ),
        ("text", "line one\nligne deux, é\n", "line one\nligne deux, é\n"),
    ],
)
def test_s3_write_then_ingest_round_trips_each_format(
    s3: S3Peer, make_context: MakeContext, file_format: str, value: Any, read_back: Any
) -> None:
    bucket = s3.new_bucket()
    context = make_context()
    written = S3WriteNode().run(
        {"orders": value}, s3.config(bucket, key=f"exports/orders.{file_format}", format=file_format), context
    )
    stored = s3.client().get_object(Bucket=bucket, Key=f"exports/orders.{file_format}")
    assert written == {
        "uri": f"s3://{bucket}/exports/orders.{file_format}",
        "bucket": bucket,
        "key": f"exports/orders.{file_format}",
        "bytes": stored["ContentLength"],
        "records": len(value) if isinstance(value, list) else 1,
    }
    read = S3IngestNode().run({}, s3.config(bucket, prefix="exports/", format=file_format), context)
    assert read == read_back


def test_s3_ingest_combines_every_object_under_the_prefix_in_key_order(
    s3: S3Peer, make_context: MakeContext
) -> None:
    bucket = s3.new_bucket()
    client = s3.client()
    client.put_object(Bucket=bucket, Key="in/2026-11-01.json", Body=json.dumps(ORDERS[:2]).encode())
    client.put_object(Bucket=bucket, Key="in/2026-11-02.json", Body=json.dumps(ORDERS[2]).encode())
    client.put_object(Bucket=bucket, Key="in/", Body=b"")  # a folder marker, not a file
    client.put_object(Bucket=bucket, Key="other/ignored.json", Body=b"[1]")
    context = make_context()
    assert S3IngestNode().run({}, s3.config(bucket, prefix="in/", format="json"), context) == ORDERS
    first = S3IngestNode().run({}, s3.config(bucket, prefix="in/", format="json", max_objects=1), context)
    assert first == ORDERS[:2]


def test_s3_ingest_reads_several_text_objects_as_a_list_of_strings(
    s3: S3Peer, make_context: MakeContext
) -> None:
    bucket = s3.new_bucket()
    for name in ("a", "b"):
        s3.client().put_object(Bucket=bucket, Key=f"notes/{name}.txt", Body=f"note {name}".encode())
    config = s3.config(bucket, prefix="notes/", format="text")
    assert S3IngestNode().run({}, config, make_context()) == ["note a", "note b"]
    assert S3IngestNode().run({}, s3.config(bucket, prefix="nothing/", format="text"), make_context()) == []


def test_s3_ingest_turns_parquet_types_into_json(s3: S3Peer, make_context: MakeContext) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "at": pa.array([datetime(2026, 11, 29, 8, 30, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
            "day": pa.array([date(2026, 11, 29)]),
            "price": pa.array([Decimal("19.99")], pa.decimal128(10, 2)),
            "blob": pa.array([b"\x00\x01"]),
            "tags": pa.array([["a", "b"]]),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    bucket = s3.new_bucket()
    s3.client().put_object(Bucket=bucket, Key="typed.parquet", Body=sink.getvalue())
    read = S3IngestNode().run({}, s3.config(bucket, format="parquet"), make_context())
    assert read == [
        {
            "at": "2026-11-29T08:30:00+00:00",
            "day": "2026-11-29",
            "price": 19.99,
            "blob": base64.b64encode(b"\x00\x01").decode(),
            "tags": ["a", "b"],
        }
    ]


def test_s3_ingest_names_the_object_and_line_that_does_not_parse(
    s3: S3Peer, make_context: MakeContext
) -> None:
    bucket = s3.new_bucket()
    s3.client().put_object(Bucket=bucket, Key="events.jsonl", Body=b'{"a": 1}\n{"a": \n')
    error = error_of(lambda: S3IngestNode().run({}, s3.config(bucket, format="jsonl"), make_context()))
    assert error.error_type == "parse_error"
    assert f"s3://{bucket}/events.jsonl" in error.message and "line 2" in error.message


def test_a_missing_bucket_is_named(s3: S3Peer, make_context: MakeContext) -> None:
    missing = f"missing-{secrets.token_hex(4)}"
    context = make_context()
    read = error_of(lambda: S3IngestNode().run({}, s3.config(missing), context))
    written = error_of(lambda: S3WriteNode().run({"x": ORDERS}, s3.config(missing, key="k.json"), context))
    assert read.error_type == written.error_type == "bucket_not_found"
    assert missing in read.message and "NoSuchBucket" in read.message


def test_s3_write_fills_the_key_template_and_refuses_unknown_placeholders(
    s3: S3Peer, make_context: MakeContext
) -> None:
    bucket = s3.new_bucket()
    context = make_context(node_id="export", flow_name="orders-daily")
    config = s3.config(bucket, key="{flow_name}/{date}/{run_id}-{node_id}.jsonl")
    written = S3WriteNode().run({"orders": ORDERS}, config, context)
    today = datetime.now(UTC).date().isoformat()
    assert written["key"] == f"orders-daily/{today}/{context.run_id}-export.jsonl"
    assert written["records"] == 3
    body = s3.client().get_object(Bucket=bucket, Key=written["key"])["Body"].read().decode()
    assert [json.loads(line) for line in body.splitlines()] == ORDERS
    error = error_of(
        lambda: S3WriteNode().run({"o": ORDERS}, s3.config(bucket, key="x/{user}.json"), context)
    )
    assert error.error_type == "invalid_key" and "{user}" in error.message
    assert "{user}" in S3WriteNode.validate({"bucket": bucket, "key": "x/{user}.json"})["key"]
    assert S3WriteNode.validate({"bucket": bucket, "key": "x/{date}/{run_id}.json"}) == {}


def test_s3_write_without_overwrite_refuses_an_existing_object(s3: S3Peer, make_context: MakeContext) -> None:
    bucket = s3.new_bucket()
    context = make_context()
    config = s3.config(bucket, key="latest.json", format="json", overwrite=False)
    S3WriteNode().run({"o": ORDERS[:1]}, config, context)
    error = error_of(lambda: S3WriteNode().run({"o": ORDERS}, config, context))
    assert error.error_type == "object_exists"
    assert S3IngestNode().run({}, s3.config(bucket, format="json"), context) == ORDERS[:1]
    S3WriteNode().run({"o": ORDERS}, {**config, "overwrite": True}, context)
    assert S3IngestNode().run({}, s3.config(bucket, format="json"), context) == ORDERS


def test_s3_write_concatenates_several_upstreams_in_edge_order(s3: S3Peer, make_context: MakeContext) -> None:
    bucket = s3.new_bucket()
    inputs = {"eu": ORDERS[:2], "us": ORDERS[2], "notify": None}
    written = S3WriteNode().run(inputs, s3.config(bucket, key="all.csv", format="csv"), make_context())
    assert written["records"] == 3
    csv_text = s3.client().get_object(Bucket=bucket, Key="all.csv")["Body"].read().decode()
    assert csv_text.splitlines()[0] == "order_id,customer,amount,country,paid"
    assert csv_text.splitlines()[3] == "A-1003,Chloé Roux,310.25,FR,true"


def test_s3_write_refuses_values_its_format_cannot_hold(s3: S3Peer, make_context: MakeContext) -> None:
    bucket = s3.new_bucket()
    context = make_context()
    not_records = error_of(
        lambda: S3WriteNode().run({"x": [1, 2]}, s3.config(bucket, key="k", format="csv"), context)
    )
    mixed = [{"id": 1}, {"id": "two"}]
    mixed_types = error_of(
        lambda: S3WriteNode().run({"x": mixed}, s3.config(bucket, key="k", format="parquet"), context)
    )
    assert (not_records.error_type, mixed_types.error_type) == ("invalid_input", "unsupported_data")
    assert "'id'" in mixed_types.message


def test_the_ssrf_guard_refuses_a_loopback_endpoint(s3: S3Peer, make_context: MakeContext) -> None:
    context = make_context(allow_private_network=False)
    error = error_of(lambda: S3IngestNode().run({}, s3.config("any-bucket"), context))
    assert error.error_type == "blocked_url" and "127.0.0.1" in error.message


def test_credentials_go_in_pairs(make_context: MakeContext) -> None:
    config = {"bucket": "b", "aws_access_key_id": "AKIA-ONLY"}
    error = error_of(lambda: S3IngestNode().run({}, config, make_context()))
    assert error.error_type == "invalid_config" and "aws_secret_access_key" in error.message


# --- HTTP --------------------------------------------------------------------------------------


def test_http_fetch_sends_method_headers_query_body_and_bearer_token(
    http_peer: HttpPeer, make_context: MakeContext
) -> None:
    http_peer.routes["/orders"] = lambda handler, body: (
        201,
        {"Content-Type": "application/json"},
        json.dumps({"received": json.loads(body), "method": handler.command}).encode(),
    )
    config = {
        "url": f"{http_peer.url}/orders",
        "method": "POST",
        "headers": {"X-Team": "data"},
        "query": {"dry_run": "true"},
        "body": {"orders": ORDERS[:1]},
        "auth_token": "s3cr3t",
    }
    answer = HttpFetchNode().run({}, config, make_context())
    assert answer == {"received": {"orders": ORDERS[:1]}, "method": "POST"}
    request = http_peer.requests[0]
    assert request["path"] == "/orders?dry_run=true"
    assert request["headers"]["Authorization"] == "Bearer s3cr3t"
    assert request["headers"]["X-Team"] == "data"


def test_http_fetch_reads_text_and_empty_json(http_peer: HttpPeer, make_context: MakeContext) -> None:
    http_peer.routes["/report.txt"] = lambda _h, _b: (
        200,
        {"Content-Type": "text/plain; charset=utf-8"},
        "ça va".encode(),
    )
    http_peer.routes["/nothing"] = lambda _h, _b: (204, {}, b"")
    context = make_context()
    assert (
        HttpFetchNode().run({}, {"url": f"{http_peer.url}/report.txt", "response_format": "text"}, context)
        == "ça va"
    )
    assert HttpFetchNode().run({}, {"url": f"{http_peer.url}/nothing", "method": "DELETE"}, context) is None


def test_a_non_2xx_answer_names_the_status_and_the_start_of_the_body(
    http_peer: HttpPeer, make_context: MakeContext
) -> None:
    http_peer.json("/missing", {"error": "order A-9 not found"}, status=404)
    error = error_of(lambda: HttpFetchNode().run({}, {"url": f"{http_peer.url}/missing"}, make_context()))
    assert error.error_type == "http_error"
    assert "404" in error.message and "order A-9 not found" in error.message


def test_a_body_that_is_not_json_is_an_invalid_response(
    http_peer: HttpPeer, make_context: MakeContext
) -> None:
    http_peer.routes["/page"] = lambda _h, _b: (200, {"Content-Type": "text/html"}, b"<html></html>")
    error = error_of(lambda: HttpFetchNode().run({}, {"url": f"{http_peer.url}/page"}, make_context()))
    assert error.error_type == "invalid_response" and "text/html" in error.message


def test_a_slow_answer_is_a_timeout(http_peer: HttpPeer, make_context: MakeContext) -> None:
    def slow(_handler: Any, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1)
        return 200, {}, b"{}"

    http_peer.routes["/slow"] = slow
    config = {"url": f"{http_peer.url}/slow", "timeout_seconds": 0.2}
    error = error_of(lambda: HttpFetchNode().run({}, config, make_context()))
    assert error.error_type == "timeout" and "0.2 s" in error.message


def test_the_ssrf_guard_refuses_loopback_without_private_network(
    http_peer: HttpPeer, make_context: MakeContext
) -> None:
    http_peer.json("/data", {"ok": True})
    context = make_context(allow_private_network=False)
    error = error_of(lambda: HttpFetchNode().run({}, {"url": f"{http_peer.url}/data"}, context))
    assert error.error_type == "blocked_url" and "127.0.0.1" in error.message
    assert http_peer.requests == []


def test_every_redirect_hop_passes_the_guard(http_peer: HttpPeer, make_context: MakeContext) -> None:
    context = make_context()

    def to_private(_handler: Any, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        # The first hop was allowed; from here on the worker refuses private addresses.
        context.settings = HostSettings(allow_private_network=False)
        return 302, {"Location": f"{http_peer.url}/data"}, b""

    http_peer.routes["/to-private"] = to_private
    http_peer.routes["/to-file"] = lambda _h, _b: (302, {"Location": "file:///etc/passwd"}, b"")
    http_peer.json("/data", {"secret": "internal"})
    to_file = error_of(lambda: HttpFetchNode().run({}, {"url": f"{http_peer.url}/to-file"}, context))
    assert to_file.error_type == "blocked_url" and "'file'" in to_file.message
    to_loopback = error_of(lambda: HttpFetchNode().run({}, {"url": f"{http_peer.url}/to-private"}, context))
    assert to_loopback.error_type == "blocked_url" and "127.0.0.1" in to_loopback.message
    assert [request["path"] for request in http_peer.requests] == ["/to-file", "/to-private"]


# --- SQL ---------------------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("DAGY_TEST_POSTGRES_URL", "")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE orders (order_id TEXT, amount NUMERIC, country TEXT, photo BLOB)")
        )
        connection.execute(
            text("INSERT INTO orders VALUES (:order_id, :amount, :country, :photo)"),
            [{**{k: o[k] for k in ("order_id", "amount", "country")}, "photo": b"\xff\x00"} for o in ORDERS],
        )
    engine.dispose()
    return url


def test_sql_query_on_sqlite_binds_parameters_and_caps_rows(
    sqlite_url: str, make_context: MakeContext
) -> None:
    config = {
        "connection_url": sqlite_url,
        "query": "SELECT order_id, amount, photo FROM orders WHERE country = :country ORDER BY order_id",
        "parameters": {"country": "FR"},
    }
    rows = SqlQueryNode().run({}, config, make_context())
    assert rows == [
        {"order_id": "A-1001", "amount": 120.5, "photo": base64.b64encode(b"\xff\x00").decode()},
        {"order_id": "A-1003", "amount": 310.25, "photo": base64.b64encode(b"\xff\x00").decode()},
    ]
    capped = SqlQueryNode().run({}, {**config, "max_rows": 1}, make_context())
    assert [row["order_id"] for row in capped] == ["A-1001"]


def test_sql_query_never_commits(sqlite_url: str, make_context: MakeContext) -> None:
    assert (
        SqlQueryNode().run({}, {"connection_url": sqlite_url, "query": "DELETE FROM orders"}, make_context())
        == []
    )
    count = SqlQueryNode().run(
        {}, {"connection_url": sqlite_url, "query": "SELECT count(*) AS n FROM orders"}, make_context()
    )
    assert count == [{"n": 3}]


def test_sql_query_errors_say_what_went_wrong(sqlite_url: str, make_context: MakeContext) -> None:
    context = make_context()
    bad_query = error_of(
        lambda: SqlQueryNode().run(
            {}, {"connection_url": sqlite_url, "query": "SELECT nope FROM orders"}, context
        )
    )
    assert bad_query.error_type == "query_failed" and "nope" in bad_query.message
    unbound = error_of(
        lambda: SqlQueryNode().run(
            {}, {"connection_url": sqlite_url, "query": "SELECT * FROM orders WHERE country = :c"}, context
        )
    )
    assert unbound.error_type == "query_failed" and "'c'" in unbound.message
    bad_url = error_of(
        lambda: SqlQueryNode().run({}, {"connection_url": "nosuchdb://x", "query": "SELECT 1"}, context)
    )
    assert bad_url.error_type == "invalid_connection_url"
    closed = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"
    refused = error_of(
        lambda: SqlQueryNode().run({}, {"connection_url": closed, "query": "SELECT 1"}, context)
    )
    assert refused.error_type == "connection_failed"


def test_the_ssrf_guard_refuses_local_databases_without_private_network(
    sqlite_url: str, make_context: MakeContext
) -> None:
    context = make_context(allow_private_network=False)
    for url in (
        sqlite_url,
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgresql+psycopg://u@/db",
    ):
        error = error_of(
            lambda url=url: SqlQueryNode().run({}, {"connection_url": url, "query": "SELECT 1"}, context)
        )
        assert error.error_type == "blocked_url", url


@pytest.mark.skipif(not POSTGRES_URL, reason="DAGY_TEST_POSTGRES_URL names no PostgreSQL server")
def test_sql_query_on_postgresql_answers_json_safe_values(make_context: MakeContext) -> None:
    schema = f"sql_node_{secrets.token_hex(4)}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
        connection.execute(
            text(
                f"CREATE TABLE {schema}.payments (id uuid, paid_at timestamptz, day date, "
                "amount numeric(12, 2), receipt bytea, meta jsonb, tags text[], took interval)"
            )
        )
        connection.execute(
            text(
                f"INSERT INTO {schema}.payments VALUES ('6f1c0d1e-8b1a-4c4e-9a55-0d3f3c2b9e11', "  # noqa: S608 - our own schema name
                "'2026-11-29 08:30:00+00', '2026-11-29', 1234.56, '\\x6869', '{\"src\": \"web\"}', "
                "'{vip,eu}', '90 seconds')"
            )
        )
    try:
        config = {
            "connection_url": POSTGRES_URL,
            "query": f"SELECT * FROM {schema}.payments WHERE amount > :least",  # noqa: S608 - our own schema
            "parameters": {"least": 100},
        }
        rows = SqlQueryNode().run({}, config, make_context())
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
    assert rows == [
        {
            "id": str(UUID("6f1c0d1e-8b1a-4c4e-9a55-0d3f3c2b9e11")),
            "paid_at": "2026-11-29T08:30:00+00:00",
            "day": "2026-11-29",
            "amount": 1234.56,
            "receipt": base64.b64encode(b"hi").decode(),
            "meta": {"src": "web"},
            "tags": ["vip", "eu"],
            "took": 90.0,
        }
    ]
    json.dumps(rows)


# --- file_read and the object store ------------------------------------------------------------


def test_file_read_parses_objects_of_the_org_store(tmp_path: Path, make_context: MakeContext) -> None:
    store = DirectoryObjectStore(tmp_path, "org-1")
    key = store.put("exports/orders.json", json.dumps(ORDERS).encode())
    assert key == "dagy/data/org-1/exports/orders.json"
    assert json.loads((tmp_path / key).read_bytes()) == ORDERS
    store.put("exports/orders.csv", "order_id;name\nA-1;Zoë\n".replace(";", ",").encode("latin-1"))
    context = make_context(store=store)
    assert FileReadNode().run({}, {"path": "exports/orders.json"}, context) == ORDERS
    assert FileReadNode().run({}, {"path": key}, context) == ORDERS
    csv_config = {"path": "exports/orders.csv", "format": "csv", "encoding": "latin-1"}
    assert FileReadNode().run({}, csv_config, context) == [{"order_id": "A-1", "name": "Zoë"}]
    wrong_encoding = error_of(lambda: FileReadNode().run({}, {**csv_config, "encoding": "utf-8"}, context))
    assert wrong_encoding.error_type == "parse_error" and "utf-8" in wrong_encoding.message


def test_file_read_reads_the_flow_artifacts_the_server_stored(
    tmp_path: Path, make_context: MakeContext
) -> None:
    artifact = tmp_path / "dagy/flows/org-1/nightly-export/lookup.txt"
    artifact.parent.mkdir(parents=True)
    artifact.write_text("FR=France\n")
    context = make_context(store=DirectoryObjectStore(tmp_path, "org-1"))
    config = {"path": "dagy/flows/org-1/nightly-export/lookup.txt", "format": "text"}
    assert FileReadNode().run({}, config, context) == "FR=France\n"


@pytest.mark.parametrize(
    "key",
    [
        "../org-2/secrets.json",
        "exports/../../../../etc/passwd",
        "/etc/passwd",
        "dagy/data/org-2/orders.json",
        "dagy/flows/org-2/flow/code.tar.gz",
        "dagy/other/org-1/x",
        "exports//orders.json",
        "",
    ],
)
def test_keys_outside_the_org_are_forbidden(tmp_path: Path, make_context: MakeContext, key: str) -> None:
    store = DirectoryObjectStore(tmp_path, "org-1")
    context = make_context(store=store)
    assert error_of(lambda: FileReadNode().run({}, {"path": key}, context)).error_type == "forbidden_key"
    assert error_of(lambda: store.put(key, b"x")).error_type == "forbidden_key"


def test_runs_do_not_write_flow_artifacts_or_follow_links_out(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path / "objects", "org-1")
    error = error_of(lambda: store.put("dagy/flows/org-1/flow/code.py", b"print()"))
    assert error.error_type == "forbidden_key"
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    (tmp_path / "objects/dagy/data/org-1").mkdir(parents=True)
    (tmp_path / "objects/dagy/data/org-1/link.txt").symlink_to(outside)
    assert error_of(lambda: store.get("link.txt")).error_type == "forbidden_key"


def test_the_store_lists_replaces_atomically_and_names_missing_objects(
    tmp_path: Path, make_context: MakeContext
) -> None:
    store = DirectoryObjectStore(tmp_path, "org-1")
    store.put("reports/2026-11-28.json", b"[1]")
    store.put("reports/2026-11-29.json", b"[2]")
    store.put("reports/2026-11-29.json", b"[3]")
    store.put("raw/x.json", b"[]")
    DirectoryObjectStore(tmp_path, "org-2").put("reports/theirs.json", b"[]")
    assert store.list("reports/2026-11-2") == [
        "dagy/data/org-1/reports/2026-11-28.json",
        "dagy/data/org-1/reports/2026-11-29.json",
    ]
    assert len(store.list("")) == 3 and store.list("nothing/") == []
    assert store.get("reports/2026-11-29.json") == b"[3]"
    assert [p.name for p in (tmp_path / "dagy/data/org-1/reports").iterdir() if p.name.startswith(".")] == []
    missing = error_of(
        lambda: FileReadNode().run({}, {"path": "reports/none.json"}, make_context(store=store))
    )
    assert missing.error_type == "object_not_found"


def test_file_read_needs_an_object_store(make_context: MakeContext) -> None:
    error = error_of(lambda: FileReadNode().run({}, {"path": "x.json"}, make_context()))
    assert error.error_type == "no_object_store"
