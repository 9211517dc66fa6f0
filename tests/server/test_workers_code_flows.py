"""Code flows on the worker protocol: registering `{"entrypoint": "module:function"}` with its
artifact, the claim's `artifact`, and streaming the zip to the worker that holds the lease (over
HTTP and through `WorkerApi.download_artifact`)."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.client.errors import ApiError, LeaseLost
from dagy.client.workers import WorkerApi
from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import claim_runs, trigger, worker_headers

pytestmark = pytest.mark.settings("own_pool_settings")


def store_artifact(settings: Settings, owner: Caller, flow: str) -> tuple[str, bytes]:
    """A zip in the local object store under the flow's prefix: (key, bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("etl/flows.py", "def daily():\n    return 42\n")
        archive.writestr("etl/__init__.py", "")
        archive.writestr("padding.bin", bytes(range(256)) * 8000)  # ~2 MB: streamed in several chunks
    key = f"dagy/flows/{owner.org_id}/{flow}/{unique('v')}.zip"
    path = settings.home / "objects" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return key, buffer.getvalue()


def register(client: TestClient, owner: Caller, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/flows", headers=owner.headers, json=body)


def code_flow(client: TestClient, settings: Settings, owner: Caller, pool: str) -> tuple[str, bytes]:
    """A registered code flow with its artifact, and a claimed run of it: (run id, zip bytes)."""
    flow = unique("code")
    key, data = store_artifact(settings, owner, flow)
    body = {
        "flow_name": flow,
        "flow_spec": {"entrypoint": "etl.flows:daily"},
        "artifact_s3_uri": key,
        "default_executor": pool,
    }
    assert register(client, owner, body).status_code == 201
    run_id = trigger(client, owner, flow)["run_id"]
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["run_id"] == run_id
    assert claimed["artifact"] == {"uri": key, "entrypoint": "etl.flows:daily"}
    assert claimed["flow_spec"] == {"entrypoint": "etl.flows:daily"}
    return run_id, data


def test_code_flow_specs_need_an_entrypoint_and_an_artifact_and_no_nodes(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    flow = unique("code")
    key, _ = store_artifact(settings, owner, flow)
    cases = [
        ({"flow_spec": {"entrypoint": "etl.flows:daily"}}, "artifact_s3_uri"),
        (
            {"flow_spec": {"entrypoint": "etl.flows", "nodes": []}, "artifact_s3_uri": key},
            "flow_spec.entrypoint",
        ),
        (
            {"flow_spec": {"entrypoint": "etl.flows:daily", "nodes": []}, "artifact_s3_uri": key},
            "flow_spec.nodes",
        ),
        (
            {"flow_spec": {"entrypoint": "etl.flows:daily", "edges": []}, "artifact_s3_uri": key},
            "flow_spec.edges",
        ),
        ({"flow_spec": {"entrypoint": "etl..flows:daily"}, "artifact_s3_uri": key}, "flow_spec.entrypoint"),
        ({"flow_spec": {"entrypoint": "etl.class:daily"}, "artifact_s3_uri": key}, "flow_spec.entrypoint"),
        ({"flow_spec": {"entrypoint": 42}, "artifact_s3_uri": key}, "flow_spec.entrypoint"),
    ]
    # What the artifact holds is checked at registration too: the entry point's module and function.
    cases += [
        ({"flow_spec": {"entrypoint": "etl.other:daily"}, "artifact_s3_uri": key}, "flow_spec.entrypoint"),
        ({"flow_spec": {"entrypoint": "etl.flows:weekly"}, "artifact_s3_uri": key}, "flow_spec.entrypoint"),
    ]
    for body, field in cases:
        response = register(client, owner, {"flow_name": flow} | body)
        assert response.status_code == 400, body
        assert field in response.json()["details"], (body, response.json())
    details = register(client, owner, {"flow_name": flow} | cases[-1][0]).json()["details"]
    assert details == {"flow_spec.entrypoint": "module etl.flows defines no weekly"}
    details = register(client, owner, {"flow_name": flow} | cases[-2][0]).json()["details"]
    assert details["flow_spec.entrypoint"].startswith("the artifact has no module etl.other")
    ok = register(
        client,
        owner,
        {"flow_name": flow, "flow_spec": {"entrypoint": "etl.flows:daily"}, "artifact_s3_uri": key},
    )
    assert ok.status_code == 201, ok.text
    read = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()
    assert read["flow_spec"] == {"entrypoint": "etl.flows:daily"} and read["artifact_s3_uri"] == key


def test_the_artifact_streams_to_the_lease_holder_only(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id, data = code_flow(client, settings, owner, pool)
    url = f"/v1/workers/runs/{run_id}/artifact"
    got = client.get(url, headers=worker_headers(settings), params={"worker_id": "w1", "attempt": 1})
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/zip"
    for params in [{"worker_id": "w2", "attempt": 1}, {"worker_id": "w1", "attempt": 2}]:
        stale = client.get(url, headers=worker_headers(settings), params=params)
        assert stale.status_code == 409 and stale.json()["error"] == "lease_lost", params
    missing = client.get(url, headers=worker_headers(settings), params={"worker_id": "w1"})
    assert missing.status_code == 400 and "attempt" in str(missing.json()["details"])


def test_missing_and_external_artifacts_are_explained(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    gone = unique("code")
    key, _ = store_artifact(settings, owner, gone)
    external = unique("code")
    never = f"dagy/flows/{owner.org_id}/{gone}/never-uploaded.zip"
    refused = register(client, owner, {"flow_name": gone, "artifact_s3_uri": never})
    assert refused.status_code == 400
    assert refused.json()["details"]["artifact_s3_uri"].startswith(f"the object store holds no {never}")
    for flow, uri in [(gone, key), (external, "s3://dagy-artifacts/flows/x.zip")]:
        body = {
            "flow_name": flow,
            "flow_spec": {"entrypoint": "etl.flows:daily"},
            "artifact_s3_uri": uri,
            "default_executor": pool,
        }
        assert register(client, owner, body).status_code == 201
    (settings.home / "objects" / key).unlink()  # removed after registration: the run says so
    runs = {trigger(client, owner, flow)["run_id"]: flow for flow in (gone, external)}
    claim_runs(client, worker_headers(settings), pool)
    answers = {
        runs[run_id]: client.get(
            f"/v1/workers/runs/{run_id}/artifact",
            headers=worker_headers(settings),
            params={"worker_id": "w1", "attempt": 1},
        )
        for run_id in runs
    }
    assert answers[gone].status_code == 404 and answers[gone].json()["details"] == {"artifact_s3_uri": key}
    assert answers[external].status_code == 400
    assert answers[external].json()["error"] == "external_artifact"
    assert "not fetch external artifacts" in answers[external].json()["message"]


def test_worker_api_downloads_the_artifact_to_a_file(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id, data = code_flow(client, settings, owner, pool)
    tmp_path = settings.home / "downloads"
    tmp_path.mkdir()
    token = settings.worker_token.get_secret_value() if settings.worker_token else ""

    async def download() -> None:
        api = WorkerApi("http://dagy.test", token, transport=httpx.ASGITransport(app=app))
        try:
            dest = await api.download_artifact(run_id, worker_id="w1", attempt=1, dest=tmp_path / "flow.zip")
            assert dest.read_bytes() == data
            with zipfile.ZipFile(dest) as archive:
                assert archive.read("etl/flows.py").startswith(b"def daily")
            with pytest.raises(LeaseLost):
                await api.download_artifact(run_id, worker_id="w9", attempt=1, dest=tmp_path / "stale.zip")
            assert not (tmp_path / "stale.zip").exists()
            with pytest.raises(ApiError) as missing:
                await api.download_artifact("run_nope", worker_id="w1", attempt=1, dest=tmp_path / "no.zip")
            assert missing.value.status_code == 404
        finally:
            await api.aclose()

    asyncio.run(download())
