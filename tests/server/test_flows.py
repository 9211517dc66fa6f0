"""The Flows API through HTTP: registering versions, listing, reading, versions, deleting."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import String, func, or_, select

from dagy.server.db.base import Base
from dagy.server.db.models import AuditLog, Deployment, Flow, FlowVersion, Run
from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import python_node, spec, trigger, wait_for_run

CODE = "def main(inputs, params):\n    return 1\n"


def _spec(code: str = CODE) -> dict[str, Any]:
    return spec(python_node("a", code))


def _post(client: TestClient, caller: Caller, name: str | None = None, **body: Any) -> Response:
    body.setdefault("flow_spec", _spec())
    if name is not None:
        body["flow_name"] = name
    return client.post("/v1/flows", headers=caller.headers, json=body)


def _register(client: TestClient, caller: Caller, name: str | None = None, **body: Any) -> dict[str, Any]:
    response = _post(client, caller, name or unique("flow"), **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _get(client: TestClient, caller: Caller, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1{path}", headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _audit_rows(app: FastAPI, org_id: str) -> int:
    with app.state.db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).where(AuditLog.org_id == org_id)).scalar_one())


# --- POST /flows ----------------------------------------------------------------------------


def test_versions_are_numbered_and_an_identical_spec_is_a_new_version(
    client: TestClient, app: FastAPI
) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    first = _register(client, owner, name)
    second = _register(client, owner, name)
    assert (first["flow_version"], second["flow_version"]) == ("1", "2")
    canonical = json.dumps(_spec(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    one, two = _get(client, owner, f"/flows/{name}/1"), _get(client, owner, f"/flows/{name}/2")
    assert one["code_hash"] == two["code_hash"] == expected
    assert (one["deployment_version"], two["deployment_version"]) == (1, 2)
    numbered = _register(client, owner, name, flow_version=7)
    assert numbered["flow_version"] == "7"
    assert _register(client, owner, name)["flow_version"] == "4"


def test_every_field_of_a_registration_is_kept(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    created = _register(
        client,
        owner,
        name,
        flow_version="1.0.0",
        namespace="data/ingestion",
        tags={"team": "data-eng", "env": "prod"},
        status="active",
        default_executor="local",
        schedule="0 9 * * *",
        artifact_s3_uri="s3://dagy-artifacts/flows/my-flow-v1.zip",
    )
    assert created | {"created_at": None} == {
        "flow_name": name,
        "flow_version": "1.0.0",
        "namespace": "data/ingestion",
        "tags": {"team": "data-eng", "env": "prod"},
        "created_at": None,
        "status": "active",
        "warnings": [],
    }
    latest = _get(client, owner, f"/flows/{name}/latest")
    assert latest | {"created_at": None, "updated_at": None, "code_hash": None} == {
        "flow_name": name,
        "flow_version": "1.0.0",
        "artifact_s3_uri": "s3://dagy-artifacts/flows/my-flow-v1.zip",
        "created_at": None,
        "updated_at": None,
        "schedule": "0 9 * * *",
        "status": "active",
        "deployment_name": None,
        "default_executor": "local",
        "tags": {"team": "data-eng", "env": "prod"},
        "namespace": "data/ingestion",
        "deployment_version": 1,
        "code_hash": None,
        "flow_spec": _spec(),
        "parameter_schema": None,  # a DAG flow's runs are not checked against a function's hints
    }


@pytest.mark.parametrize(
    "namespace", ["Data/ingestion", "data//ingestion", "/data", "data/", "data ingestion", "-data", "a" * 256]
)
def test_a_namespace_is_slash_separated_segments(client: TestClient, app: FastAPI, namespace: str) -> None:
    owner = new_org(app, client)
    response = _post(client, owner, unique("flow"), namespace=namespace)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input" and "namespace" in response.json()["details"]


def test_good_namespaces_and_tags(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    for namespace in ("data", "data/ingestion", "0x/a_b-c/d9", "/".join(["seg"] * 63)):
        assert _register(client, owner, namespace=namespace)["namespace"] == namespace
    for tags in ({"team": 1}, ["team"], {"team": {"a": "b"}}, {"": "x"}):
        response = _post(client, owner, unique("flow"), tags=tags)
        assert response.status_code == 400 and response.json()["details"], response.text


def test_artifact_references(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    local = f"dagy/flows/{owner.org_id}/{name}/1/artifact.zip"
    missing = _post(client, owner, name, artifact_s3_uri=local)
    assert missing.status_code == 400 and "holds no" in missing.json()["details"]["artifact_s3_uri"]
    stored = app.state.settings.home / "objects" / local
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(b"zip")
    assert _register(client, owner, name, artifact_s3_uri=local)["flow_version"] == "1"
    assert _register(client, owner, name, artifact_s3_uri="s3://bucket-1/a/b.zip")["flow_version"] == "2"
    bad = [
        "../etc/passwd",
        f"dagy/flows/{owner.org_id}/{name}/../other/artifact.zip",
        f"dagy/flows/{owner.org_id}/other-flow/1/artifact.zip",
        "dagy/flows/org_someone_else/x/1/artifact.zip",
        f"/dagy/flows/{owner.org_id}/{name}/1.zip",
        "s3://bucket/../x",
        "s3://Bad_Bucket/x",
        "http://example.com/x.zip",
        "file:///etc/passwd",
    ]
    for uri in bad:
        response = _post(client, owner, name, artifact_s3_uri=uri)
        assert response.status_code == 400, (uri, response.text)
        assert "artifact_s3_uri" in response.json()["details"], uri


def test_a_code_flow_is_registered_by_its_artifact_alone(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("code")
    uri = "s3://dagy-artifacts/flows/code.zip"
    response = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": name, "artifact_s3_uri": uri}
    )
    assert response.status_code == 201, response.text
    latest = _get(client, owner, f"/flows/{name}/latest")
    assert latest["flow_spec"] is None
    assert latest["code_hash"] == hashlib.sha256(uri.encode()).hexdigest()
    neither = client.post("/v1/flows", headers=owner.headers, json={"flow_name": unique("f")})
    assert neither.status_code == 400 and neither.json()["error"] == "invalid_input"


def test_labels_that_the_paths_reserve_are_refused(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    for label in ("latest", "versions", "-1", "a/b", "x" * 65):
        response = _post(client, owner, unique("flow"), flow_version=label)
        assert response.status_code == 400 and "flow_version" in response.json()["details"], label


def test_schedule_and_executor_are_checked(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    response = _post(client, owner, unique("flow"), schedule="every tuesday", default_executor="teleport")
    assert response.status_code == 400
    assert {"schedule", "default_executor"} <= set(response.json()["details"])
    assert _register(client, owner, schedule="15m")["status"] == "active"


def test_the_latest_version_labels_the_flow(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    _register(client, owner, name, namespace="a", tags={"k": "1"})
    _register(client, owner, name, namespace="b/c", tags={"k": "2"}, status="inactive")
    item = next(i for i in _get(client, owner, "/flows", limit=100)["items"] if i["flow_name"] == name)
    assert (item["flow_version"], item["namespace"], item["tags"], item["status"]) == (
        "2",
        "b/c",
        {"k": "2"},
        "inactive",
    )
    third = _register(client, owner, name)  # names neither namespace nor tags: keeps the flow's
    assert (third["namespace"], third["tags"], third["status"]) == ("b/c", {"k": "2"}, "active")
    assert item["created_at"] <= item["updated_at"]


def test_a_failed_registration_writes_nothing(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    _register(client, owner, name, flow_version="1.0", namespace="kept", tags={"k": "v"})
    rows = _audit_rows(app, owner.org_id)
    again = _post(client, owner, name, flow_version="1.0", namespace="changed", tags={"k": "other"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    latest = _get(client, owner, f"/flows/{name}/latest")
    assert (latest["namespace"], latest["tags"], latest["flow_version"]) == ("kept", {"k": "v"}, "1.0")
    assert _audit_rows(app, owner.org_id) == rows

    fresh = unique("flow")
    invalid = _post(client, owner, fresh, flow_spec={"nodes": [{"id": "a", "type": "teleport"}]})
    assert invalid.status_code == 400 and invalid.json()["details"]
    assert client.get(f"/v1/flows/{fresh}/latest", headers=owner.headers).status_code == 404

    deployment = unique("deploy")
    _register(client, owner, name, deployment_name=deployment)
    other = unique("other")
    _register(client, owner, other)
    taken = _post(client, owner, other, deployment_name=deployment)  # deploys another flow
    assert taken.status_code == 409
    versions = _get(client, owner, f"/flows/{other}/versions")["items"]
    assert [v["flow_version"] for v in versions] == ["1"]
    brand_new = unique("flow")
    assert _post(client, owner, brand_new, deployment_name=deployment).status_code == 409
    assert client.get(f"/v1/flows/{brand_new}/latest", headers=owner.headers).status_code == 404


def test_registrations_are_audited(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    _register(client, owner, name, namespace="a")
    _register(client, owner, name, namespace="b")
    assert client.delete(f"/v1/flows/{name}", headers=owner.headers).status_code == 200
    items = _get(client, owner, "/audit-logs", resource_type="flow", limit=100)["items"]
    mine = [i for i in items if i["resource_name"] == name]
    assert [i["action"] for i in mine] == ["delete", "update", "create"]
    assert mine[1]["changes"]["namespace"] == ["a", "b"]
    assert mine[1]["changes"]["flow_version"] == ["1", "2"]
    assert len({i["resource_id"] for i in mine}) == 1 and mine[0]["resource_id"].startswith("flow_")


# --- deployments named in a registration -----------------------------------------------------


def test_deployment_name_creates_then_moves_the_deployment(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name, deployment = unique("flow"), unique("deploy")
    _register(client, owner, name, deployment_name=deployment, schedule="0 9 * * *", default_executor="local")
    assert _get(client, owner, f"/deployments/{deployment}")["flow_version"] == "1"
    _register(client, owner, name, deployment_name=deployment)
    _register(client, owner, name)  # a newer version, not deployed
    assert _get(client, owner, f"/deployments/{deployment}")["flow_version"] == "2"

    # Every version shows the flow's deployment; `status` says which version it runs.
    latest = _get(client, owner, f"/flows/{name}/latest")
    assert (latest["flow_version"], latest["status"], latest["deployment_name"]) == (
        "3",
        "inactive",
        deployment,
    )
    deployed = _get(client, owner, f"/flows/{name}/2")
    assert (deployed["status"], deployed["deployment_name"]) == ("active", deployment)
    assert (deployed["schedule"], deployed["default_executor"]) == ("0 9 * * *", "local")
    versions = _get(client, owner, f"/flows/{name}/versions")
    assert versions["flow_name"] == name
    assert [(v["flow_version"], v["deployment_version"], v["status"]) for v in versions["items"]] == [
        ("3", 3, "inactive"),
        ("2", 2, "active"),
        ("1", 1, "inactive"),
    ]
    other = unique("deploy")
    _register(client, owner, name, deployment_name=other)  # version 4, deployed under another name
    assert _get(client, owner, f"/flows/{name}/2")["deployment_name"] == deployment
    assert _get(client, owner, f"/flows/{name}/4")["deployment_name"] == other
    assert _get(client, owner, f"/flows/{name}/3")["deployment_name"] == other  # the latest changed
    assert [v["status"] for v in _get(client, owner, f"/flows/{name}/versions")["items"]] == [
        "active",
        "inactive",
        "active",
        "inactive",
    ]


# --- reading ---------------------------------------------------------------------------------


def test_without_deployments_the_latest_version_is_active(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    _register(client, owner, name, artifact_s3_uri="s3://bucket/v1.zip")
    _register(client, owner, name, status="draft")
    _register(client, owner, name, flow_version="1.2.0")
    versions = _get(client, owner, f"/flows/{name}/versions")["items"]
    assert [(v["flow_version"], v["status"]) for v in versions] == [
        ("1.2.0", "active"),
        ("2", "draft"),
        ("1", "inactive"),
    ]
    assert versions[2]["artifact_s3_uri"] == "s3://bucket/v1.zip"
    assert set(versions[0]) == {
        "flow_version",
        "deployment_version",
        "artifact_s3_uri",
        "status",
        "created_at",
        "updated_at",
    }
    page = _get(client, owner, f"/flows/{name}/versions", limit=2)
    assert [v["flow_version"] for v in page["items"]] == ["1.2.0", "2"]
    rest = _get(client, owner, f"/flows/{name}/versions", limit=2, next_token=page["next_token"])
    assert [v["flow_version"] for v in rest["items"]] == ["1"] and rest["next_token"] is None
    assert _get(client, owner, f"/flows/{name}/1")["status"] == "inactive"


def test_unknown_flows_and_versions_are_404(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    _register(client, owner, name)
    for path in (f"/flows/{name}/9", f"/flows/{unique('nope')}/1", f"/flows/{unique('nope')}/latest"):
        response = client.get(f"/v1{path}", headers=owner.headers)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path
    assert client.get(f"/v1/flows/{unique('nope')}/versions", headers=owner.headers).status_code == 404
    assert _get(client, owner, f"/flows/{name}/1")["flow_spec"] == _spec()


def test_list_items_and_limits(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    empty = _get(client, owner, "/flows")
    assert empty == {"items": [], "next_token": None}
    name = unique("flow")
    _register(client, owner, name, namespace="n", tags={"t": "v"})
    (item,) = _get(client, owner, "/flows")["items"]
    assert set(item) == {
        "flow_name",
        "flow_version",
        "namespace",
        "tags",
        "status",
        "created_at",
        "updated_at",
    }
    for limit in (0, 101, -1):
        response = client.get("/v1/flows", headers=owner.headers, params={"limit": limit})
        assert response.status_code == 400 and "limit" in response.json()["details"]
    bad = client.get("/v1/flows", headers=owner.headers, params={"next_token": "not-a-token"})
    assert bad.status_code == 400 and bad.json()["details"] == {"next_token": "malformed token"}


def test_pages_of_45_flows_have_no_duplicates_or_gaps(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    names = [_register(client, owner)["flow_name"] for _ in range(45)]
    assert len(_get(client, owner, "/flows")["items"]) == 20  # the default limit
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = _get(client, owner, "/flows", limit=7, **({"next_token": token} if token else {}))
        seen += [i["flow_name"] for i in page["items"]]
        pages += 1
        if pages == 2:  # flows that change during the walk keep their place
            _register(client, owner, names[0])
            _register(client, owner, names[30])
        token = page["next_token"]
        if token is None:
            break
    assert pages == 7
    assert seen == list(reversed(names))  # newest first, each exactly once
    assert _get(client, owner, "/flows", limit=100)["next_token"] is None


# --- tenancy and permissions ----------------------------------------------------------------


def test_another_orgs_flow_does_not_exist(client: TestClient, app: FastAPI) -> None:
    owner, stranger = new_org(app, client), new_org(app, client)
    name = unique("flow")
    _register(client, owner, name)
    for path in (f"/flows/{name}/latest", f"/flows/{name}/versions", f"/flows/{name}/1"):
        assert client.get(f"/v1{path}", headers=stranger.headers).status_code == 404, path
    assert client.delete(f"/v1/flows/{name}", headers=stranger.headers).status_code == 404
    assert _get(client, stranger, "/flows")["items"] == []
    # the same name is free in the other org, and the two flows stay apart
    assert _register(client, stranger, name)["flow_version"] == "1"
    assert _register(client, owner, name)["flow_version"] == "2"
    assert _get(client, owner, f"/flows/{name}/latest")["flow_version"] == "2"


def test_a_viewer_reads_but_does_not_write(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    name = unique("flow")
    _register(client, owner, name)
    assert _post(client, viewer, unique("flow")).status_code == 403
    assert client.delete(f"/v1/flows/{name}", headers=viewer.headers).status_code == 403
    assert [i["flow_name"] for i in _get(client, viewer, "/flows")["items"]] == [name]
    assert _get(client, viewer, f"/flows/{name}/latest")["flow_version"] == "1"
    assert client.get("/v1/flows").status_code == 401


# --- DELETE /flows/{name} -------------------------------------------------------------------


def test_delete_answers_and_forgets_the_flow(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    _register(client, owner, name)
    _register(client, owner, name)
    response = client.delete(f"/v1/flows/{name}", headers=owner.headers)
    assert response.status_code == 200 and response.json() == {"status": "deleted", "flow_name": name}
    assert client.get(f"/v1/flows/{name}/latest", headers=owner.headers).status_code == 404
    assert client.delete(f"/v1/flows/{name}", headers=owner.headers).status_code == 404
    assert _get(client, owner, "/flows")["items"] == []
    assert _register(client, owner, name)["flow_version"] == "1"  # a new flow under the old name


def test_delete_removes_the_flows_stored_artifacts_only(client: TestClient, app: FastAPI) -> None:
    owner, stranger = new_org(app, client), new_org(app, client)
    name, other = unique("flow"), unique("other")
    objects = app.state.settings.home / "objects" / "dagy" / "flows"
    mine = objects / owner.org_id / name / "1" / "artifact.zip"
    kept = [
        objects / owner.org_id / other / "1" / "artifact.zip",
        objects / stranger.org_id / name / "1" / "a.zip",
    ]
    for path in (mine, *kept):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"zip")
    _register(client, owner, name, artifact_s3_uri=f"dagy/flows/{owner.org_id}/{name}/1/artifact.zip")
    _register(client, owner, other)
    _register(client, stranger, name)
    assert client.delete(f"/v1/flows/{name}", headers=owner.headers).status_code == 200
    assert not mine.exists() and not mine.parent.parent.exists()
    assert all(path.read_bytes() == b"zip" for path in kept)
    assert _get(client, stranger, f"/flows/{name}/latest")["flow_version"] == "1"
    assert _get(client, owner, f"/flows/{other}/latest")["flow_version"] == "1"


ECHO = "def main(inputs, params):\n    print('hello', params['n'])\n    return params['n']\n"


def _flow_ids(app: FastAPI, org_id: str, name: str) -> list[str]:
    """The ids of a flow and of every row that hangs on it: versions, deployments, runs."""
    with app.state.db.transaction(write=False) as session:
        flow_id = session.execute(
            select(Flow.id).where(Flow.org_id == org_id, Flow.name == name)
        ).scalar_one()
        ids = [flow_id]
        for model in (FlowVersion, Deployment, Run):
            ids += session.execute(select(model.id).where(model.flow_id == flow_id)).scalars()
    return ids


def _rows_naming(app: FastAPI, ids: list[str]) -> dict[str, int]:
    """Per table (the audit trail aside, which outlives what it records): rows with any string
    column holding one of `ids`. New tables are covered the day they are added."""
    counts: dict[str, int] = {}
    with app.state.db.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String)]
            if table.name == AuditLog.__tablename__ or not columns:
                continue
            stmt = select(func.count()).select_from(table).where(or_(*(c.in_(ids) for c in columns)))
            counts[table.name] = int(session.execute(stmt).scalar_one())
    return counts


def test_every_reference_to_a_flow_cascades() -> None:
    """Deleting a flow is one statement because every foreign key on the way down cascades."""
    owned = {"flow", "flow_version", "run"}
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name in owned:
                assert key.ondelete == "CASCADE", f"{table.name}.{key.parent.name}"


def test_delete_cascades_to_everything_the_flow_owns(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner, stranger = new_org(app, client), new_org(app, client)
    doomed, kept = unique("doomed"), unique("kept")
    for caller, name in ((owner, doomed), (owner, kept), (stranger, doomed)):
        _register(client, caller, name, flow_spec=spec(python_node("a", ECHO)), deployment_name=unique("d"))
        _register(client, caller, name, flow_spec=spec(python_node("a", ECHO), python_node("b", ECHO)))
        for version in ("1", "2"):
            run = trigger(client, caller, name, flow_version=version, parameters={"n": 1})
            assert wait_for_run(client, caller, run["run_id"])["status"] == "completed"
    if app.state.db.is_sqlite:
        with app.state.db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    doomed_ids = _flow_ids(app, owner.org_id, doomed)
    survivors = _flow_ids(app, owner.org_id, kept) + _flow_ids(app, stranger.org_id, doomed)
    before = _rows_naming(app, doomed_ids)
    assert all(before[t] > 0 for t in ("flow", "flow_version", "deployment", "run", "run_log", "node_run"))
    survivors_before = _rows_naming(app, survivors)

    assert client.delete(f"/v1/flows/{doomed}", headers=owner.headers).status_code == 200

    assert {t: n for t, n in _rows_naming(app, doomed_ids).items() if n} == {}
    assert _rows_naming(app, survivors) == survivors_before
    assert _get(client, stranger, f"/flows/{doomed}/latest")["flow_version"] == "2"
    runs = _get(client, owner, "/runs", limit=100)["items"]
    assert {r["flow_name"] for r in runs} == {kept}


def test_concurrent_registrations_number_versions_in_turn(client: TestClient, app: FastAPI) -> None:
    """Eight clients register the same new flow at once: one creates it, each gets its own number."""
    owner = new_org(app, client)
    name = unique("race")

    def register(_: int) -> Response:
        return _post(client, owner, name)  # one app, one event loop, eight threads calling in

    for _round in range(2):  # the first round races to create the flow, the second to extend it
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(register, range(8)))
        assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    versions = _get(client, owner, f"/flows/{name}/versions")["items"]
    assert [v["deployment_version"] for v in versions] == list(range(16, 0, -1))
    assert sorted(int(v["flow_version"]) for v in versions) == list(range(1, 17))
