"""Multipart artifact uploads through the local store: initiate, PUT the parts at the server's
signed URLs, complete (the flow version and its deployment registered, a worker downloads the
artifact), abort, the limits, the refusals, and the clean-up of abandoned uploads."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from dagy.server.db.base import utcnow
from dagy.server.db.models import ArtifactUpload
from dagy.server.services.artifact_uploads import abort_abandoned_once
from dagy.server.settings import Settings
from tests.artifact_factories import ENTRYPOINT, MIB, code_zip, complete_body, initiate, slices
from tests.factories import Caller, new_org, unique
from tests.flow_factories import claim_runs, trigger, worker_headers

pytestmark = pytest.mark.settings("own_pool_settings")

PART = 5 * MIB


@pytest.fixture(scope="module")
def artifact() -> bytes:
    """Three parts of 5 MiB parts: 5 MiB, 5 MiB and the rest."""
    return code_zip(11 * MIB)


def put_parts(client: TestClient, plan: dict, data: bytes) -> list[str]:
    etags = []
    for part, chunk in zip(plan["parts"], slices(data, plan), strict=True):
        response = client.put(part["url"], content=chunk)
        assert response.status_code == 200, response.text
        etags.append(response.headers["etag"])
    return etags


def staged(settings: Settings, upload_id: str) -> list[str]:
    folder = settings.home / "uploads" / upload_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_upload_registers_the_version_and_deployment_and_a_worker_downloads_it(
    client: TestClient, settings: Settings, owner: Caller, pool: str, artifact: bytes
) -> None:
    flow = unique("up")
    environment = unique("env")
    made = client.post("/v1/environments", headers=owner.headers, json={"env_name": environment})
    assert made.status_code == 201, made.text
    response = initiate(client, owner, flow, len(artifact), version="3", part_size=PART)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["artifact_key"] == f"dagy/flows/{owner.org_id}/{flow}/3/artifact.zip"
    assert [p["size"] for p in plan["parts"]] == [PART, PART, len(artifact) - 2 * PART]
    assert [p["part_number"] for p in plan["parts"]] == [1, 2, 3]
    assert plan["expires_at"].endswith("Z")
    etags = put_parts(client, plan, artifact)
    assert etags == [f'"{hashlib.md5(c).hexdigest()}"' for c in slices(artifact, plan)]  # noqa: S324 - S3's ETag
    sha256 = hashlib.sha256(artifact).hexdigest()
    body = complete_body(
        plan,
        flow,
        etags,
        status="ACTIVE",
        schedule="0 9 * * *",
        timezone="America/New_York",
        default_executor=pool,
        tags={"team": "data-eng"},
        namespace="data/ingestion",
        environment=environment,
        execution_mode="micro",
        code_hash=sha256,
    )
    done = client.post("/v1/artifacts/complete", headers=owner.headers, json=body)
    assert done.status_code == 200, done.text
    assert done.json() == {
        "artifact_s3_uri": plan["artifact_key"],
        "flow_name": flow,
        "flow_version": "3",
        "deployment_name": f"{flow}-prod",
        "deployment_version": 1,
        "environment": environment,
        "code_hash": sha256,
    }
    version = client.get(f"/v1/flows/{flow}/3", headers=owner.headers).json()
    assert version["artifact_s3_uri"] == plan["artifact_key"] and version["code_hash"] == sha256
    assert version["flow_spec"] == {"entrypoint": ENTRYPOINT} and version["status"] == "active"
    assert version["namespace"] == "data/ingestion" and version["tags"] == {"team": "data-eng"}
    assert version["parameter_schema"] is not None  # read from the uploaded module
    deployment = client.get(f"/v1/deployments/{flow}-prod", headers=owner.headers).json()
    assert (deployment["flow_version"], deployment["environment"]) == ("3", environment)
    assert (deployment["execution_mode"], deployment["schedule"]) == ("micro", "0 9 * * *")
    assert deployment["default_executor"] == pool
    schedule = client.get(f"/v1/schedules/deploy-{flow}-prod", headers=owner.headers).json()
    assert schedule["timezone"] == "America/New_York"
    assert staged(settings, plan["upload_id"]) == []
    assert (settings.home / "objects" / plan["artifact_key"]).read_bytes() == artifact

    run_id = trigger(client, owner, flow)["run_id"]
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["run_id"] == run_id and claimed["artifact"]["uri"] == plan["artifact_key"]
    got = client.get(
        f"/v1/workers/runs/{run_id}/artifact",
        headers=worker_headers(settings),
        params={"worker_id": "w1", "attempt": 1},
    )
    assert got.status_code == 200 and got.content == artifact


def test_part_urls_refuse_bad_and_expired_signatures_and_wrong_sizes(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, artifact: bytes
) -> None:
    plan = initiate(client, owner, unique("up"), len(artifact), part_size=PART).json()
    first = plan["parts"][0]
    chunk = artifact[:PART]
    url = urlsplit(first["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    tampered = query | {"signature": "0" * 64}
    refused = client.put(url.path, params=tampered, content=chunk)
    assert refused.status_code == 403
    assert refused.json()["error"] == "invalid_signature" and set(refused.json()) == {
        "error",
        "message",
        "details",
    }
    bigger = client.put(url.path, params=query | {"size": str(PART + 1)}, content=chunk + b"x")
    assert bigger.status_code == 403  # the size is signed too
    store = app.state.artifact_store
    expired = int(utcnow().timestamp()) - 1
    signature = store.signer.signature(plan["upload_id"], 1, PART, expired)
    stale = client.put(url.path, params=query | {"expires": expired, "signature": signature}, content=chunk)
    assert stale.status_code == 403 and stale.json()["error"] == "invalid_signature"
    short = client.put(first["url"], content=chunk[:-1])
    assert short.status_code == 400 and short.json()["details"] == {"body": f"must be {PART} bytes"}
    assert staged(settings, plan["upload_id"]) == []  # nothing of a refused part is kept
    ok = client.put(first["url"], content=chunk)
    assert ok.status_code == 200 and ok.headers["etag"] == f'"{hashlib.md5(chunk).hexdigest()}"'  # noqa: S324
    assert staged(settings, plan["upload_id"]) == [f"part-00001.{hashlib.md5(chunk).hexdigest()}"]  # noqa: S324


def test_complete_refuses_missing_parts_and_wrong_etags_and_registers_nothing(
    client: TestClient, settings: Settings, owner: Caller, artifact: bytes
) -> None:
    flow = unique("up")
    plan = initiate(client, owner, flow, len(artifact), part_size=PART).json()
    etags = put_parts(client, plan | {"parts": plan["parts"][:2]}, artifact)
    attempts = [
        (complete_body(plan, flow, etags), "parts"),  # part 3 not listed
        (complete_body(plan, flow, [*etags, '"' + "0" * 32 + '"']), "parts.3"),  # listed, never uploaded
        (complete_body(plan, flow, [etags[1], etags[0], etags[1]]), "parts.1"),  # wrong ETag
        (complete_body(plan, flow, [*etags, etags[0]], code_hash="0" * 64), "parts.3"),
    ]
    for body, field in attempts:
        refused = client.post("/v1/artifacts/complete", headers=owner.headers, json=body)
        assert refused.status_code == 400, refused.text
        assert field in refused.json()["details"], refused.json()
    assert client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).status_code == 404
    assert not (settings.home / "objects" / plan["artifact_key"]).exists()
    last = client.put(plan["parts"][2]["url"], content=slices(artifact, plan)[2])
    wrong_hash = complete_body(plan, flow, [*etags, last.headers["etag"]], code_hash="0" * 64)
    refused = client.post("/v1/artifacts/complete", headers=owner.headers, json=wrong_hash)
    assert refused.status_code == 400 and "code_hash" in refused.json()["details"]
    assert not (settings.home / "objects" / plan["artifact_key"]).exists()
    bad_entry = complete_body(
        plan, flow, [*etags, last.headers["etag"]], flow_spec={"entrypoint": "etl.flows:nope"}
    )
    refused = client.post("/v1/artifacts/complete", headers=owner.headers, json=bad_entry)
    assert refused.status_code == 400 and "flow_spec.entrypoint" in refused.json()["details"]
    assert client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).status_code == 404
    assert not (settings.home / "objects" / plan["artifact_key"]).exists()
    # The parts are still there: the completion may be retried.
    done = client.post("/v1/artifacts/complete", headers=owner.headers, json=wrong_hash | {"code_hash": None})
    assert done.status_code == 200, done.text
    again = client.post(
        "/v1/artifacts/complete", headers=owner.headers, json=wrong_hash | {"code_hash": None}
    )
    assert again.status_code == 409


def test_keys_outside_the_upload_or_the_org_are_refused(
    app: FastAPI, client: TestClient, owner: Caller, artifact: bytes
) -> None:
    flow = unique("up")
    plan = initiate(client, owner, flow, len(artifact), part_size=PART).json()
    key = plan["artifact_key"]
    other = new_org(app, client)
    cases = [
        (owner, key.replace(f"{flow}/", f"{flow}/../"), 400),
        (owner, f"dagy/flows/{owner.org_id}/../{other.org_id}/{flow}/1/artifact.zip", 400),
        (owner, f"dagy/flows/{other.org_id}/{flow}/1/artifact.zip", 403),
        (owner, f"dagy/flows/{owner.org_id}/{flow}/2/artifact.zip", 400),
        (other, f"dagy/flows/{other.org_id}/{flow}/1/artifact.zip", 404),  # another org's upload
        (other, key, 403),
    ]
    for caller, artifact_key, status in cases:
        body = {"upload_id": plan["upload_id"], "artifact_key": artifact_key}
        aborted = client.post("/v1/artifacts/abort", headers=caller.headers, json=body)
        assert aborted.status_code == status, (artifact_key, aborted.text)
        completed = client.post(
            "/v1/artifacts/complete",
            headers=caller.headers,
            json=complete_body(plan, flow, ['"x"'] * 3) | {"artifact_key": artifact_key},
        )
        assert completed.status_code == status, (artifact_key, completed.text)
        assert set(completed.json()) == {"error", "message", "details"}


def test_abort_removes_the_parts(
    client: TestClient, settings: Settings, owner: Caller, artifact: bytes
) -> None:
    flow = unique("up")
    plan = initiate(client, owner, flow, len(artifact), part_size=PART).json()
    etags = put_parts(client, plan, artifact)
    assert len(staged(settings, plan["upload_id"])) == 3
    body = {"upload_id": plan["upload_id"], "artifact_key": plan["artifact_key"]}
    aborted = client.post("/v1/artifacts/abort", headers=owner.headers, json=body)
    assert aborted.status_code == 204 and aborted.content == b""
    assert not (settings.home / "uploads" / plan["upload_id"]).exists()
    assert client.post("/v1/artifacts/abort", headers=owner.headers, json=body).status_code == 204
    late = client.put(plan["parts"][0]["url"], content=artifact[:PART])
    assert late.status_code == 404
    done = client.post("/v1/artifacts/complete", headers=owner.headers, json=complete_body(plan, flow, etags))
    assert done.status_code == 409


@pytest.mark.settings(artifact_max_bytes=100 * 1024**3)
def test_initiate_limits(client: TestClient, owner: Caller) -> None:
    flow = unique("up")
    small = initiate(client, owner, flow, 20 * MIB, part_size=5 * MIB - 1)
    assert small.status_code == 400 and "part_size" in small.json()["details"]
    many = initiate(client, owner, flow, 10_000 * 5 * MIB + 1, part_size=5 * MIB)
    assert many.status_code == 400 and "part_size" in many.json()["details"]
    default = initiate(client, owner, flow, 17 * MIB).json()
    assert [p["size"] for p in default["parts"]] == [8 * MIB, 8 * MIB, MIB]
    one = initiate(client, owner, flow, 1000).json()
    assert [p["size"] for p in one["parts"]] == [1000]
    huge = initiate(client, owner, flow, 100 * 1024**3 + 1)
    assert huge.status_code == 413 and huge.json()["details"] == {
        "file_size": f"at most {100 * 1024**3} bytes"
    }
    assert initiate(client, owner, flow, 0).status_code == 400


def test_initiate_refuses_a_version_that_exists(client: TestClient, owner: Caller, artifact: bytes) -> None:
    flow = unique("up")
    plan = initiate(client, owner, flow, len(artifact), part_size=PART).json()
    etags = put_parts(client, plan, artifact)
    done = client.post("/v1/artifacts/complete", headers=owner.headers, json=complete_body(plan, flow, etags))
    assert done.status_code == 200, done.text
    again = initiate(client, owner, flow, len(artifact))
    assert again.status_code == 409 and again.json()["details"] == {"flow_version": "already exists"}
    following = initiate(client, owner, flow, 100, version="2")
    assert following.status_code == 200


def test_uploads_abandoned_for_a_day_are_aborted(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, artifact: bytes
) -> None:
    recent = initiate(client, owner, unique("up"), len(artifact), part_size=PART).json()
    old = initiate(client, owner, unique("up"), len(artifact), part_size=PART).json()
    put_parts(client, old | {"parts": old["parts"][:1]}, artifact)
    with app.state.db.transaction(write=True) as session:
        session.execute(
            update(ArtifactUpload)
            .where(ArtifactUpload.id == old["upload_id"])
            .values(created_at=utcnow() - timedelta(hours=25))
        )
    assert abort_abandoned_once(app.state.db, app.state.artifact_store) >= 1
    with app.state.db.transaction(write=False) as session:
        assert session.get(ArtifactUpload, old["upload_id"]).status == "aborted"  # type: ignore[union-attr]
        assert session.get(ArtifactUpload, recent["upload_id"]).status == "pending"  # type: ignore[union-attr]
    assert not (settings.home / "uploads" / old["upload_id"]).exists()
    assert (settings.home / "uploads" / recent["upload_id"]).is_dir()


def test_the_part_route_is_public_in_the_schema(client: TestClient, owner: Caller) -> None:
    schema = client.get("/v1/openapi.json").json()
    put = schema["paths"]["/v1/artifacts/uploads/{upload_id}/parts/{part_number}"]["put"]
    assert "security" not in put
    assert schema["paths"]["/v1/artifacts/initiate"]["post"]["security"] == [{"bearer": []}]
