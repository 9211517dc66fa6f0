"""Traces across processes (docs/metrics.md, "Tracing"): a `dagy server` and a `dagy worker`, both
with `DAGY_TRACING=otlp` and the standard `OTEL_EXPORTER_OTLP_ENDPOINT`, send to one real OTLP/HTTP
receiver on loopback. The server's `run.dispatch` span and the worker's `run.attempt` and
`node.execute` spans make one trace, with no trace context in the worker protocol; each process
exports what it still holds when it is stopped."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from dagy.tracing import dispatch_span_id, run_trace_id
from tests.factories import new_org
from tests.flow_factories import python_node, spec
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.worker.live import Workers, api_for, finished, register, serving

# Real processes end to end; what they test does not depend on the database (its own tests run on both).
pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

DOUBLE = "def main(inputs, params):\n    return {'n': params['n'] * 2}\n"
THEN = "def main(inputs, params):\n    return inputs\n"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def traced(
    settings: Settings, app: FastAPI, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Workers]]:
    """`dagy server --no-worker` and the `dagy worker`s the test starts, tracing to `receiver` (the
    test's own app, made before, does not trace)."""
    monkeypatch.setenv("DAGY_TRACING", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    with serving(settings, tmp_path) as (url, server):
        workers = Workers(url, settings, tmp_path)
        try:
            yield url, server, workers
        finally:
            workers.stop_all()


def only(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, spans)
    return found[0]


def test_a_run_is_one_trace_across_the_server_and_the_worker(
    app: FastAPI,
    client: TestClient,
    traced: tuple[str, subprocess.Popen[bytes], Workers],
    receiver: OtlpReceiver,
    pool: str,
) -> None:
    url, server, workers = traced
    api = api_for(url, owner := new_org(app, client))
    steps = (python_node("double", DOUBLE), python_node("then", THEN))
    flow = register(api, spec(*steps, edges=(("double", "then"),)), pool)
    worker = workers.start("w-traced", pool)
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"n": 21}}).json()["run_id"]
    assert finished(api, run_id)["status"] == "completed"
    workers.stop_all()  # each process sends what it holds as it stops: no waiting on export intervals
    server.terminate()
    # uvicorn ends by raising the SIGTERM it caught, once its shutdown (the app's lifespan) is done.
    assert (worker.wait(15), server.wait(15)) == (0, -signal.SIGTERM)

    spans = receiver.of_run(run_id)
    assert {span.trace_id for span in spans} == {f"{run_trace_id(run_id):032x}"}
    dispatch, attempt = only(spans, "run.dispatch"), only(spans, "run.attempt")
    assert (dispatch.service, attempt.service) == ("dagy-server", "dagy-worker")
    assert dispatch.span_id == f"{dispatch_span_id(run_id, 1):016x}" == attempt.parent_span_id
    assert dispatch.attributes["dagy.worker.id"] == attempt.attributes["dagy.worker.id"] == "w-traced"
    assert attempt.attributes == {
        "dagy.run.id": run_id,
        "dagy.run.attempt": 1,
        "dagy.org_id": owner.org_id,
        "dagy.flow.name": flow,
        "dagy.flow.version": attempt.attributes["dagy.flow.version"],
        "dagy.run.execution_mode": "nano",
        "dagy.worker.id": "w-traced",
        "dagy.run.status": "completed",
    }
    nodes = {span.attributes["dagy.node.id"]: span for span in spans if span.name == "node.execute"}
    assert set(nodes) == {"double", "then"}
    for node in nodes.values():
        assert (node.service, node.parent_span_id) == ("dagy-worker", attempt.span_id)
        assert attempt.start_ns <= node.start_ns <= node.end_ns <= attempt.end_ns
    assert nodes["double"].end_ns <= nodes["then"].start_ns
    claims = receiver.named("POST /v1/workers/claim")
    assert claims and {span.service for span in claims} == {"dagy-server"}
    assert not receiver.holds(owner.token) and not receiver.holds(workers.token)
