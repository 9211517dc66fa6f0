"""`/v1/objects`: the org's data files over HTTP (docs/objects.md), the ones its flows read and write."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.domains.objects.schemas import ObjectList
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org
from tests.flow_factories import python_node, register_flow, spec, trigger, wait_for_run


def _url(key: str) -> str:
    """`/v1/objects/<key>`, its `.` and `..` segments escaped: a client would resolve them itself."""
    segments = [s.replace(".", "%2E") if s in (".", "..") else s for s in key.split("/")]
    return "/v1/objects/" + "/".join(segments)


def _put(client: TestClient, caller: Caller, key: str, content: bytes, **params: Any) -> Any:
    return client.put(_url(key), content=content, headers=caller.headers, params=params)


def _keys(client: TestClient, caller: Caller, **params: Any) -> list[str]:
    response = client.get("/v1/objects", headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


def _audit(client: TestClient, caller: Caller) -> list[dict[str, Any]]:
    response = client.get("/v1/audit-logs", headers=caller.headers, params={"resource_type": "object"})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["items"]
    return rows


def test_round_trip(client: TestClient, owner: Caller, settings: Settings) -> None:
    content = b"day,total\n2026-12-07,42\n"
    created = _put(client, owner, "reports/2026-12-07.csv", content)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["key"], body["size"], body["etag"]) == (
        "reports/2026-12-07.csv",
        len(content),
        hashlib.md5(content, usedforsecurity=False).hexdigest(),
    )
    assert body["modified_at"].endswith("Z")
    stored = settings.home / "objects" / "dagy" / "data" / owner.org_id / "reports" / "2026-12-07.csv"
    assert stored.read_bytes() == content

    read = client.get("/v1/objects/reports/2026-12-07.csv", headers=owner.headers)
    assert read.status_code == 200
    assert read.content == content
    assert read.headers["content-type"].startswith("text/csv")
    assert read.headers["content-length"] == str(len(content))
    assert read.headers["etag"] == f'"{body["etag"]}"'

    replaced = _put(client, owner, "reports/2026-12-07.csv", b"{}")
    assert (replaced.status_code, replaced.json()["size"]) == (201, 2)
    assert client.get("/v1/objects/reports/2026-12-07.csv", headers=owner.headers).content == b"{}"

    assert client.delete("/v1/objects/reports/2026-12-07.csv", headers=owner.headers).status_code == 204
    missing = client.get("/v1/objects/reports/2026-12-07.csv", headers=owner.headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "object_not_found")
    gone = client.delete("/v1/objects/reports/2026-12-07.csv", headers=owner.headers)
    assert (gone.status_code, gone.json()["error"]) == (404, "object_not_found")
    assert not stored.parent.exists()  # the folder it left empty went with it

    actions = [(row["action"], row["resource_id"], row["actor_email"]) for row in _audit(client, owner)]
    assert sorted(actions) == sorted(
        [
            ("create", "reports/2026-12-07.csv", owner.email),
            ("update", "reports/2026-12-07.csv", owner.email),
            ("delete", "reports/2026-12-07.csv", owner.email),
        ]
    )


def test_any_content_type_and_an_empty_object(client: TestClient, owner: Caller) -> None:
    binary = bytes(range(256)) * 64
    response = client.put(
        "/v1/objects/img/raw.bin",
        content=binary,
        headers={**owner.headers, "Content-Type": "image/png"},
    )
    assert response.status_code == 201, response.text
    read = client.get("/v1/objects/img/raw.bin", headers=owner.headers)
    assert (read.content, read.headers["content-type"]) == (binary, "application/octet-stream")
    assert _put(client, owner, "empty.json", b"").json()["size"] == 0
    assert client.get("/v1/objects/empty.json", headers=owner.headers).content == b""


def test_listing_pages_in_key_order(client: TestClient, owner: Caller) -> None:
    keys = ["a-b.txt", "a/b.txt", "a/c/d.txt", "a0.txt", "b.txt", "reports/1.csv", "reports/2.csv"]
    for key in reversed(keys):
        assert _put(client, owner, key, key.encode()).status_code == 201

    seen, token, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"next_token": token} if token else {})
        page = client.get("/v1/objects", headers=owner.headers, params=params).json()
        seen += page["items"]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert [item["key"] for item in seen] == keys  # "a-b" < "a/..." < "a0": the keys' own order
    assert pages == 3
    assert {item["key"]: item["size"] for item in seen} == {key: len(key) for key in keys}
    assert set(seen[0]) == {"key", "size", "modified_at"}
    # the page is rendered once, by orjson: exactly what its model renders (docs/development.md)
    assert ObjectList.model_validate(page).model_dump(mode="json") == page

    assert _keys(client, owner, prefix="reports/") == ["reports/1.csv", "reports/2.csv"]
    assert _keys(client, owner, prefix="a/") == ["a/b.txt", "a/c/d.txt"]
    assert _keys(client, owner, prefix="a") == ["a-b.txt", "a/b.txt", "a/c/d.txt", "a0.txt"]
    assert _keys(client, owner, prefix="nothing/") == []
    bad = client.get("/v1/objects", headers=owner.headers, params={"next_token": "not-a-token"})
    assert (bad.status_code, list(bad.json()["details"])) == (400, ["next_token"])
    bad = client.get("/v1/objects", headers=owner.headers, params={"limit": 0})
    assert bad.status_code == 400


def test_overwrite_false_is_409_when_the_object_exists(client: TestClient, owner: Caller) -> None:
    assert _put(client, owner, "once.txt", b"first", overwrite="false").status_code == 201
    again = _put(client, owner, "once.txt", b"second", overwrite="false")
    assert (again.status_code, again.json()["error"], list(again.json()["details"])) == (
        409,
        "conflict",
        ["key"],
    )
    assert client.get("/v1/objects/once.txt", headers=owner.headers).content == b"first"
    assert _keys(client, owner) == ["once.txt"]  # no partial file is left behind


def test_a_key_and_its_folders_cannot_be_both(client: TestClient, owner: Caller) -> None:
    assert _put(client, owner, "x/y.txt", b"y").status_code == 201
    assert _put(client, owner, "x", b"x").status_code == 409  # a folder of other objects
    assert _put(client, owner, "x/y.txt/z", b"z").status_code == 409  # a folder that is an object
    assert client.get("/v1/objects/x", headers=owner.headers).status_code == 404


@pytest.mark.parametrize(
    "key",
    [
        "../escape.txt",
        "a/../../escape.txt",
        "a//b.txt",
        "a/./b.txt",
        "a\\b.txt",
        "dagy/data/other/x.txt",
        "folder/",
        "x.dagy-partial",
        "k" * 1025,
        "d/" + "n" * 256,
    ],
)
def test_keys_that_are_not_the_orgs_are_400_naming_key(client: TestClient, owner: Caller, key: str) -> None:
    for response in (
        _put(client, owner, key, b"x"),
        client.get(_url(key), headers=owner.headers),
        client.delete(_url(key), headers=owner.headers),
    ):
        assert response.status_code == 400, (key, response.request.method, response.text)
        assert response.json()["error"] == "invalid_input"
        assert list(response.json()["details"]) == ["key"]
    bad = client.get("/v1/objects", headers=owner.headers, params={"prefix": "../"})
    assert (bad.status_code, list(bad.json()["details"])) == (400, ["prefix"])


def test_an_absolute_path_is_400(client: TestClient, owner: Caller) -> None:
    response = client.put("/v1/objects//etc/passwd", content=b"x", headers=owner.headers)
    assert (response.status_code, list(response.json()["details"])) == (400, ["key"])


def test_viewer_reads_but_does_not_write(app: FastAPI, client: TestClient, owner: Caller) -> None:
    assert _put(client, owner, "shared.json", b"[1]").status_code == 201
    viewer = add_member(app, client, owner, "viewer")
    assert client.get("/v1/objects/shared.json", headers=viewer.headers).content == b"[1]"
    assert _keys(client, viewer) == ["shared.json"]
    for response in (
        _put(client, viewer, "shared.json", b"[2]"),
        _put(client, viewer, "new.json", b"[2]"),
        client.delete("/v1/objects/shared.json", headers=viewer.headers),
    ):
        assert (response.status_code, response.json()["error"]) == (403, "forbidden")
        assert response.json()["details"] == {"required_permission": "flows.write"}
    assert client.get("/v1/objects/shared.json", headers=owner.headers).content == b"[1]"
    assert _keys(client, owner) == ["shared.json"]


def test_another_org_sees_nothing(app: FastAPI, client: TestClient, owner: Caller) -> None:
    assert _put(client, owner, "private/data.csv", b"a\n1\n").status_code == 201
    other = new_org(app, client)
    assert _keys(client, other) == []
    assert client.get("/v1/objects/private/data.csv", headers=other.headers).status_code == 404
    assert client.delete("/v1/objects/private/data.csv", headers=other.headers).status_code == 404
    own = f"dagy/data/{owner.org_id}/private/data.csv"
    assert client.get(f"/v1/objects/{own}", headers=other.headers).status_code == 400
    assert _put(client, other, "private/data.csv", b"theirs").status_code == 201
    assert client.get("/v1/objects/private/data.csv", headers=owner.headers).content == b"a\n1\n"
    assert _audit(client, other)[0]["resource_id"] == "private/data.csv"
    assert len(_audit(client, other)) == 1


@pytest.mark.settings(max_object_bytes=1000, max_request_bytes=100)
def test_the_object_size_limit_not_the_request_size_applies(client: TestClient, owner: Caller) -> None:
    assert _put(client, owner, "fits.bin", b"x" * 1000).status_code == 201  # past max_request_bytes
    too_large = _put(client, owner, "large.bin", b"x" * 1001)
    assert (too_large.status_code, too_large.json()["error"]) == (413, "object_too_large")

    def chunks() -> Any:  # no Content-Length: the limit applies while the body streams
        yield b"x" * 600
        yield b"x" * 600

    streamed = client.put("/v1/objects/streamed.bin", content=chunks(), headers=owner.headers)
    assert (streamed.status_code, streamed.json()["error"]) == (413, "object_too_large")
    assert _keys(client, owner) == ["fits.bin"]


READ_ROWS = (
    "def main(inputs, params):\n    return {'rows': len(inputs['read']), 'first': inputs['read'][0]}\n"
)


def test_a_file_read_node_reads_an_uploaded_object(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    assert (
        _put(client, owner, "crm/contacts.csv", b"name,city\nAda,London\nAlan,Wilmslow\n").status_code == 201
    )
    flow = register_flow(
        client,
        owner,
        spec(
            {"id": "read", "type": "file_read", "data": {"path": "crm/contacts.csv", "format": "csv"}},
            python_node("count", READ_ROWS),
            edges=(("read", "count"),),
        ),
    )
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert (run["status"], run["output"]) == (
        "completed",
        {"rows": 2, "first": {"name": "Ada", "city": "London"}},
    )
