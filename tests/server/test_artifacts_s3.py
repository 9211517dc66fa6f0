"""Multipart artifact uploads through the S3 store, against moto's standalone S3 server: the parts
go to presigned `upload_part` URLs, S3 assembles them, the version stores `s3://bucket/key`, and a
worker's artifact download streams from the bucket."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.artifact_factories import MIB, code_zip, complete_body, initiate, slices
from tests.factories import Caller, unique
from tests.flow_factories import claim_runs, trigger, worker_headers
from tests.ports import free_port

pytestmark = pytest.mark.settings("own_pool_settings", "s3_settings")

PART = 5 * MIB
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's standalone S3 server (`moto_server`) in a process of its own on a free loopback port."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def s3_settings(moto_url: str) -> Iterator[dict[str, Any]]:
    """Settings fields: the artifact store is a fresh bucket of moto's; boto3 finds the credentials
    in the environment, as an installation's would."""
    bucket = f"artifacts-{secrets.token_hex(4)}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        _client(moto_url).create_bucket(Bucket=bucket)
        yield {"s3_bucket": bucket, "s3_endpoint_url": moto_url, "s3_region": "us-east-1"}


def _client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return code_zip(11 * MIB, seed=1)


def put_parts(plan: dict[str, Any], data: bytes, *, only: int | None = None) -> list[str]:
    etags = []
    for part, chunk in list(zip(plan["parts"], slices(data, plan), strict=True))[:only]:
        response = httpx.put(part["url"], content=chunk, timeout=30)
        assert response.status_code == 200, response.text
        etags.append(response.headers["etag"])
    return etags


def test_an_upload_to_s3_registers_the_version_and_a_worker_downloads_it(
    client: TestClient, settings: Settings, owner: Caller, pool: str, artifact: bytes
) -> None:
    flow = unique("s3up")
    plan = initiate(client, owner, flow, len(artifact), part_size=PART).json()
    assert plan["parts"][0]["url"].startswith(f"{settings.s3_endpoint_url}/{settings.s3_bucket}/")
    etags = put_parts(plan, artifact)
    assert etags[0] == f'"{hashlib.md5(artifact[:PART]).hexdigest()}"'  # noqa: S324 - S3's ETag
    sha256 = hashlib.sha256(artifact).hexdigest()
    body = complete_body(plan, flow, etags, default_executor=pool, status="Active", execution_mode="small")
    done = client.post("/v1/artifacts/complete", headers=owner.headers, json=body)
    assert done.status_code == 200, done.text
    uri = f"s3://{settings.s3_bucket}/{plan['artifact_key']}"
    assert done.json()["artifact_s3_uri"] == uri and done.json()["code_hash"] == sha256
    version = client.get(f"/v1/flows/{flow}/1", headers=owner.headers).json()
    assert (version["artifact_s3_uri"], version["code_hash"]) == (uri, sha256)
    held = _client(str(settings.s3_endpoint_url)).get_object(
        Bucket=settings.s3_bucket, Key=plan["artifact_key"]
    )
    assert held["Body"].read() == artifact

    run_id = trigger(client, owner, flow)["run_id"]
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["run_id"] == run_id
    got = client.get(
        f"/v1/workers/runs/{run_id}/artifact",
        headers=worker_headers(settings),
        params={"worker_id": "w1", "attempt": 1},
    )
    assert got.status_code == 200 and got.content == artifact
    assert got.headers["content-type"] == "application/zip"


def test_s3_completions_check_the_parts_and_aborts_remove_them(
    client: TestClient, settings: Settings, owner: Caller, artifact: bytes
) -> None:
    flow = unique("s3up")
    plan = initiate(client, owner, flow, len(artifact), part_size=PART).json()
    etags = put_parts(plan, artifact, only=2)
    missing = client.post(
        "/v1/artifacts/complete",
        headers=owner.headers,
        json=complete_body(plan, flow, [*etags, '"' + "0" * 32 + '"']),
    )
    assert missing.status_code == 400 and "parts.3" in missing.json()["details"]
    wrong = client.post(
        "/v1/artifacts/complete", headers=owner.headers, json=complete_body(plan, flow, [etags[1], *etags])
    )
    assert wrong.status_code == 400 and "parts.1" in wrong.json()["details"]
    assert client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).status_code == 404
    body = {"upload_id": plan["upload_id"], "artifact_key": plan["artifact_key"]}
    assert client.post("/v1/artifacts/abort", headers=owner.headers, json=body).status_code == 204
    uploads = _client(str(settings.s3_endpoint_url)).list_multipart_uploads(Bucket=settings.s3_bucket)
    assert plan["artifact_key"] not in [u["Key"] for u in uploads.get("Uploads", [])]


def test_an_artifact_in_another_bucket_stays_external(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = unique("ext")
    body = {
        "flow_name": flow,
        "flow_spec": {"entrypoint": "etl.flows:daily"},
        "artifact_s3_uri": "s3://someone-elses/flows/x.zip",
        "default_executor": pool,
    }
    assert client.post("/v1/flows", headers=owner.headers, json=body).status_code == 201
    run_id = trigger(client, owner, flow)["run_id"]
    claim_runs(client, worker_headers(settings), pool)
    got = client.get(
        f"/v1/workers/runs/{run_id}/artifact",
        headers=worker_headers(settings),
        params={"worker_id": "w1", "attempt": 1},
    )
    assert got.status_code == 400 and got.json()["error"] == "external_artifact"


def test_the_local_part_route_is_closed_when_artifacts_go_to_s3(client: TestClient) -> None:
    response = client.put("/v1/artifacts/uploads/upl_x/parts/1?size=1&expires=1&signature=x", content=b"x")
    assert response.status_code == 404
    assert os.environ.get("AWS_ACCESS_KEY_ID") == "testing"
