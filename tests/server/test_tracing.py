"""OpenTelemetry traces (docs/metrics.md, "Tracing"), exported over OTLP/HTTP to a real receiver on
loopback: request spans named by route template, with no header, query string, raw path or token;
each attempt's `run.dispatch` span in the run's trace; a run executed by the embedded worker as one
trace (dispatch, attempt, nodes) in which no secret value appears. With tracing off (the default)
nothing of OpenTelemetry's SDK is loaded and no middleware is installed."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.protocol import ClaimedRun
from dagy.runtime.events import now_iso
from dagy.server.app import create_app
from dagy.server.settings import Settings
from dagy.tracing import attempt_trace, dispatch_span_id, run_trace_id
from tests.factories import new_org, unique
from tests.flow_factories import (
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    wait_for_run,
    worker_headers,
    worker_post,
)
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

# Spans of requests, runs and nodes: the database plays no part in them (its own tests run on both).
pytestmark = [pytest.mark.settings("own_pool_settings", tracing="otlp"), pytest.mark.postgres_only]

SERVER_KIND = 2  # Span.SpanKind.SPAN_KIND_SERVER
ERROR = 2  # Status.StatusCode.STATUS_CODE_ERROR
OK = "def main(inputs, params):\n    return params\n"


@pytest.fixture(autouse=True)
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """The collector the app's exporter sends to (the standard variable, read when the app is made)."""
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url)
        yield receiver


def flushed(app: FastAPI) -> None:
    assert app.state.tracing.force_flush(), "the exporter did not finish"


def one(spans: list[ReceivedSpan], **attributes: object) -> ReceivedSpan:
    found = [s for s in spans if all(s.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, (attributes, spans)
    return found[0]


def test_request_spans_carry_the_route_template_and_nothing_the_caller_sent(
    app: FastAPI, client: TestClient, receiver: OtlpReceiver
) -> None:
    owner = new_org(app, client)
    query_value, webhook_token, raw_id = unique("q"), "whk_" + secrets.token_hex(12), unique("run")
    assert client.get("/v1/health").status_code == 200
    missing = client.get(f"/v1/runs/{raw_id}", params={"note": query_value}, headers=owner.headers)
    assert missing.status_code == 404
    assert client.post(f"/v1/webhooks/{webhook_token}", json={"a": 1}).status_code == 404
    assert client.get(f"/v1/no-such-route/{raw_id}").status_code == 404
    parent_trace, parent_span = secrets.token_hex(16), secrets.token_hex(8)
    traced = {"traceparent": f"00-{parent_trace}-{parent_span}-01"}
    assert client.get("/v1/health", headers=traced).status_code == 200
    flushed(app)

    health = receiver.named("GET /v1/health")
    assert len(health) == 2
    assert all(span.kind == SERVER_KIND and span.service == "dagy-server" for span in health)
    assert health[0].attributes == {
        "http.request.method": "GET",
        "http.route": "/v1/health",
        "http.response.status_code": 200,
    }
    assert (health[1].trace_id, health[1].parent_span_id) == (parent_trace, parent_span)
    read = one(receiver.named("GET /v1/runs/{run_id}"), **{"http.response.status_code": 404})
    assert read.attributes == {
        "http.request.method": "GET",
        "http.route": "/v1/runs/{run_id}",
        "http.response.status_code": 404,
        "dagy.org_id": owner.org_id,
    }
    assert one(receiver.named("POST /v1/webhooks/{token}")).attributes["http.response.status_code"] == 404
    unmatched = one(receiver.named("GET"), **{"http.response.status_code": 404})
    assert "http.route" not in unmatched.attributes
    for sent in (owner.token, query_value, webhook_token, raw_id):
        assert not receiver.holds(sent), sent


def test_each_attempt_is_dispatched_in_the_runs_trace(
    app: FastAPI, client: TestClient, settings: Settings, receiver: OtlpReceiver, pool: str
) -> None:
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow, max_retries=1)["run_id"]
    headers = worker_headers(settings)
    [first] = claim_runs(client, headers, pool, worker_id="w-trace")
    failed = {"worker_id": "w-trace", "attempt": 1, "status": "failed", "error": {"type": "boom"}}
    assert worker_post(client, settings, run_id, "complete", failed).json()["status"] == "queued"
    [second] = claim_runs(client, headers, pool, worker_id="w-trace")
    assert (first["attempt"], second["attempt"]) == (1, 2)
    flushed(app)

    dispatches = sorted(receiver.named("run.dispatch"), key=lambda s: s.attributes["dagy.run.attempt"])
    dispatches = [span for span in dispatches if span.attributes["dagy.run.id"] == run_id]
    assert [span.attributes["dagy.run.attempt"] for span in dispatches] == [1, 2]
    for attempt, span in enumerate(dispatches, start=1):
        assert span.trace_id == f"{run_trace_id(run_id):032x}"
        assert (span.span_id, span.parent_span_id) == (f"{dispatch_span_id(run_id, attempt):016x}", "")
        assert span.start_ns <= span.end_ns
        queued = span.attributes.pop("dagy.run.queued_seconds")
        assert 0 <= queued < 60
        assert span.attributes == {
            "dagy.run.id": run_id,
            "dagy.run.attempt": attempt,
            "dagy.org_id": owner.org_id,
            "dagy.flow.name": flow,
            "dagy.run.executor": pool,
            "dagy.worker.id": "w-trace",
        }
    assert dispatches[0].end_ns <= dispatches[1].start_ns  # the second waited from the first's failure


def test_a_sampled_run_is_traced_whole_or_not_at_all(
    settings: Settings, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, pool: str
) -> None:
    """With a ratio sampler, the server's dispatch span and the worker's attempt and node spans
    are kept or left out together: both decide on the run's trace id."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    app = create_app(settings, migrate=False)
    with TestClient(app) as client:
        owner = new_org(app, client)
        flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
        run_ids = {trigger(client, owner, flow)["run_id"] for _ in range(20)}
        claimed = claim_runs(client, worker_headers(settings), pool, worker_id="w-sampled", capacity=20)
        assert {run["run_id"] for run in claimed} == run_ids
        for run in claimed:  # what a worker's supervisor does with the claim and its run's events
            trace = attempt_trace(app.state.tracing, ClaimedRun.model_validate(run), "w-sampled")
            ended = now_iso()
            event = {"node_id": "only", "node_type": "python_function", "status": "completed", "tries": 1}
            trace.node(event | {"started_at": ended, "completed_at": ended})
            trace.end("completed")
        flushed(app)

    whole = {"run.dispatch", "run.attempt", "node.execute"}
    traced = {run_id: {span.name for span in receiver.of_run(run_id)} for run_id in run_ids}
    assert all(names in (whole, set()) for names in traced.values()), traced
    assert 0 < sum(names == whole for names in traced.values()) < len(run_ids)  # 2 in 2**20 may fail


SECRET_READER = """
import dagy.secrets

def main(inputs, params):
    value = dagy.secrets.get({name!r})
    print("the token is", value)
    return {{"length": len(value)}}
"""
FAILS_WITH_SECRET = """
import dagy.secrets

def main(inputs, params):
    raise ValueError("refused: " + dagy.secrets.get({name!r}))
"""


def test_a_run_on_the_embedded_worker_is_one_trace_without_secrets(
    running: tuple[FastAPI, TestClient], receiver: OtlpReceiver
) -> None:
    app, client = running
    owner = new_org(app, client)
    name, value = unique("token"), "s3cr3t-" + secrets.token_hex(12)
    body = {"secret_name": name, "value": value}
    assert client.post("/v1/secrets", headers=owner.headers, json=body).status_code == 201
    nodes = (python_node("read", SECRET_READER.format(name=name)), python_node("then", OK))
    flow_spec = spec(*nodes, edges=(("read", "then"),)) | {"secrets": [name]}
    run_id = trigger(client, owner, register_flow(client, owner, flow_spec))["run_id"]
    run = wait_for_run(client, owner, run_id)
    assert run["status"] == "completed", run
    failing = spec(python_node("fail", FAILS_WITH_SECRET.format(name=name))) | {"secrets": [name]}
    failed_id = trigger(client, owner, register_flow(client, owner, failing))["run_id"]
    failed = wait_for_run(client, owner, failed_id)
    assert failed["status"] == "failed", failed
    flushed(app)

    spans = receiver.of_run(run["run_id"])
    assert {span.trace_id for span in spans} == {f"{run_trace_id(run['run_id']):032x}"}
    dispatch = one([span for span in spans if span.name == "run.dispatch"])
    attempt = one([span for span in spans if span.name == "run.attempt"])
    assert attempt.parent_span_id == dispatch.span_id == f"{dispatch_span_id(run['run_id'], 1):016x}"
    assert attempt.attributes["dagy.run.status"] == "completed"
    assert attempt.attributes["dagy.worker.id"] == dispatch.attributes["dagy.worker.id"]
    assert dispatch.end_ns <= attempt.start_ns
    nodes = [span for span in spans if span.name == "node.execute"]
    read, then = (one(nodes, **{"dagy.node.id": node_id}) for node_id in ("read", "then"))
    for node in (read, then):
        assert node.parent_span_id == attempt.span_id
        assert attempt.start_ns <= node.start_ns <= node.end_ns <= attempt.end_ns
        assert (node.attributes["dagy.node.type"], node.attributes["dagy.node.status"]) == (
            "python_function",
            "completed",
        )
        assert node.attributes["dagy.node.tries"] == 1
    assert read.end_ns <= then.start_ns

    failed_spans = receiver.of_run(failed["run_id"])
    failed_attempt = one([span for span in failed_spans if span.name == "run.attempt"])
    failed_node = one([span for span in failed_spans if span.name == "node.execute"])
    assert (failed_attempt.status, failed_attempt.attributes["dagy.run.status"]) == (ERROR, "failed")
    assert (failed_node.status, failed_node.attributes["dagy.node.status"]) == (ERROR, "failed")
    assert failed_node.parent_span_id == failed_attempt.span_id
    assert not receiver.holds(value)
    assert not receiver.holds("refused")  # error messages stay out of spans; types only
    assert not receiver.holds(owner.token)


# Runs in a process of its own, where nothing has loaded OpenTelemetry yet: FastAPI imports
# opentelemetry-api itself (its own hooks, which app.py turns off); Dagy must add nothing to that.
TRACING_OFF = """
import sys

import fastapi.testclient

before = {m for m in sys.modules if m.startswith("opentelemetry")}
from dagy.server.app import create_app
from dagy.server.settings import Settings
from dagy.tracing import RequestSpans

settings = Settings(home=sys.argv[1], database_url=sys.argv[2], web_dir=None)
app = create_app(settings, migrate=False)
assert settings.tracing == "off" and app.state.tracing is None
assert [m for m in app.user_middleware if m.cls is RequestSpans] == []
with fastapi.testclient.TestClient(app) as client:
    assert client.get("/v1/health").status_code == 200
after = {m for m in sys.modules if m.startswith("opentelemetry")}
sdk = sorted(m for m in after if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
print(sorted(after - before), sdk)
"""


def test_with_tracing_off_nothing_of_opentelemetry_is_loaded(database_url: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DAGY_", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", TRACING_OFF, str(tmp_path / "home"), database_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"
