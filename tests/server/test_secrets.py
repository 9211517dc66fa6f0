"""`/secrets`: the reference's fields and status codes, environments, audit, encryption at rest,
key rotation (service and `dagy secrets rotate-key`), and values never leaking into logs."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from dagy.cli.main import app as cli
from dagy.server.app import create_app
from dagy.server.db.base import Base
from dagy.server.db.migrate import upgrade
from dagy.server.db.models import AuditLog, DataKey, Secret
from dagy.server.domains.secrets.crypto import derive_kek
from dagy.server.domains.secrets.schemas import SecretCreate
from dagy.server.domains.secrets.service import resolve_secret_value, rotate_key_encryption_key
from dagy.server.errors import NotFound
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org, unique

SECRET_FIELDS = {"secret_id", "secret_name", "environment", "created_at", "updated_at"}


def _value() -> str:
    return f"plaintext-{secrets.token_hex(16)}"


def _create(client: TestClient, caller: Caller, name: str, value: str, environment: str | None = None) -> Any:
    body = {"secret_name": name, "value": value} | ({"environment": environment} if environment else {})
    response = client.post("/v1/secrets", json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _read_value(client: TestClient, caller: Caller, name: str, **params: str) -> Any:
    return client.get(f"/v1/secrets/{name}/value", params=params, headers=caller.headers)


def _audit(app: FastAPI, resource_id: str) -> list[AuditLog]:
    with app.state.db.transaction(write=False) as session:
        stmt = select(AuditLog).where(AuditLog.resource_type == "secret", AuditLog.resource_id == resource_id)
        return list(session.execute(stmt).scalars())


@contextmanager
def _app_with_keys(
    settings: Settings, home: Path, current: str, previous: list[str] | None = None
) -> Iterator[TestClient]:
    """Another server on the same database, holding only the keys given."""
    other = settings.model_copy(
        update={
            "home": home,
            "secret_key": SecretStr(current),
            "previous_secret_keys": [SecretStr(k) for k in previous or []],
        }
    )
    with TestClient(create_app(other, migrate=False)) as other_client:
        yield other_client


def _rotate(app: FastAPI, *, old: str, new: str) -> int:
    total = 0
    while True:
        with app.state.db.transaction(write=True) as session:
            done = rotate_key_encryption_key(session, old=old, new=new, batch_size=2)
        total += done
        if done == 0:
            return total


def test_crud_round_trip(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    name, value, new_value = unique("api-key"), _value(), _value()
    created = _create(client, owner, name, value, "production")
    assert set(created) == {"secret_id", "secret_name", "environment", "created_at"}
    assert created["secret_id"].startswith("secret_") and created["environment"] == "production"
    assert created["created_at"].endswith("Z")
    got = client.get(f"/v1/secrets/{name}", headers=owner.headers)
    assert got.status_code == 200 and set(got.json()) == SECRET_FIELDS and value not in got.text
    listed = client.get("/v1/secrets", headers=owner.headers)
    assert listed.status_code == 200 and value not in listed.text
    assert [s["secret_name"] for s in listed.json()["items"]] == [name]
    shown = _read_value(client, owner, name)
    assert shown.status_code == 200 and shown.json() == {"secret_name": name, "value": value}
    assert shown.headers["cache-control"] == "no-store"
    updated = client.put(f"/v1/secrets/{name}", json={"value": new_value}, headers=owner.headers)
    assert updated.status_code == 200 and set(updated.json()) == {"secret_id", "secret_name", "updated_at"}
    assert new_value not in updated.text
    assert _read_value(client, owner, name).json()["value"] == new_value
    assert client.delete(f"/v1/secrets/{name}", headers=owner.headers).status_code == 204
    assert client.get(f"/v1/secrets/{name}", headers=owner.headers).status_code == 404
    assert client.get("/v1/secrets", headers=owner.headers).json()["items"] == []


def test_openapi_lets_clients_read_the_value(client: TestClient) -> None:
    schemas = client.get("/v1/openapi.json").json()["components"]["schemas"]
    value = schemas["SecretValueRead"]["properties"]["value"]
    assert value["type"] == "string" and "writeOnly" not in value
    assert schemas["SecretCreate"]["properties"]["value"]["writeOnly"] is True


def test_no_environment_is_null_and_unicode_survives(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    created = _create(client, owner, "db.password_1", "pä$$ wörd\n✓ -----BEGIN KEY-----")
    assert created["environment"] is None
    assert client.get("/v1/secrets/db.password_1", headers=owner.headers).json()["environment"] is None
    assert _read_value(client, owner, "db.password_1").json()["value"] == "pä$$ wörd\n✓ -----BEGIN KEY-----"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secret_name": "has space", "value": "v"}, "secret_name"),
        ({"secret_name": "a/b", "value": "v"}, "secret_name"),
        ({"secret_name": "x" * 129, "value": "v"}, "secret_name"),
        ({"secret_name": "", "value": "v"}, "secret_name"),
        ({"secret_name": "..", "value": "v"}, "secret_name"),
        ({"value": "v"}, "secret_name"),
        ({"secret_name": "ok", "value": ""}, "value"),
        ({"secret_name": "ok"}, "value"),
        ({"secret_name": "ok", "value": 12}, "value"),
        ({"secret_name": "ok", "value": "v", "environment": "pro duction"}, "environment"),
        ({"secret_name": "ok", "value": "v", "environment": "e" * 65}, "environment"),
        ({"secret_name": "ok", "value": "v", "environment": ""}, "environment"),
        ({"secret_name": "ok", "value": "v", "owner": "me"}, "owner"),
    ],
)
def test_create_rejects_bad_input(app: FastAPI, client: TestClient, body: dict[str, Any], field: str) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/secrets", json=body, headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_input" and field in response.json()["details"]


def test_value_size_limit_is_64_kib_of_utf8(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    assert (
        client.post(
            "/v1/secrets", json={"secret_name": "max", "value": "v" * 65536}, headers=owner.headers
        ).status_code
        == 201
    )
    for value in ("v" * 65537, "é" * 32769):
        too_large = client.post(
            "/v1/secrets", json={"secret_name": "big", "value": value}, headers=owner.headers
        )
        assert too_large.status_code == 413 and "value" in too_large.json()["details"]
        assert value not in too_large.text
    on_update = client.put("/v1/secrets/max", json={"value": "v" * 65537}, headers=owner.headers)
    assert on_update.status_code == 413 and "value" in on_update.json()["details"]


def test_bad_bodies_are_400(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    _create(client, owner, "exists", _value())
    json_headers = owner.headers | {"Content-Type": "application/json"}
    for method, path in (("POST", "/v1/secrets"), ("PUT", "/v1/secrets/exists")):
        broken = client.request(method, path, content=b'{"value": ', headers=json_headers)
        assert broken.status_code == 400 and "body" in broken.json()["details"]
    for body, field in (
        ({"value": ""}, "value"),
        ({"value": "v", "environment": "x"}, "environment"),
        ({}, "value"),
    ):
        response = client.put("/v1/secrets/exists", json=body, headers=owner.headers)
        assert response.status_code == 400 and field in response.json()["details"], body


def _routes(name: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/v1/secrets", {"secret_name": name, "value": "v"}),
        ("GET", "/v1/secrets", None),
        ("GET", f"/v1/secrets/{name}", None),
        ("GET", f"/v1/secrets/{name}/value", None),
        ("PUT", f"/v1/secrets/{name}", {"value": "v2"}),
        ("DELETE", f"/v1/secrets/{name}", None),
    ]


def test_every_route_requires_authentication(client: TestClient) -> None:
    for method, path, body in _routes("anything"):
        response = client.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "unauthorized"


def test_viewers_may_neither_read_nor_write(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    _create(client, owner, "guarded", _value())
    viewer = add_member(app, client, owner, "viewer")
    for method, path, body in _routes("guarded"):
        response = client.request(method, path, json=body, headers=viewer.headers)
        assert response.status_code == 403, (method, path)
        expected = "secrets.write" if method in ("POST", "PUT", "DELETE") else "secrets.read"
        assert response.json()["details"] == {"required_permission": expected}
    developer = add_member(app, client, owner, "developer")
    assert _read_value(client, developer, "guarded").status_code == 200


def test_unknown_secret_is_404(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    _create(client, owner, "present", _value(), "staging")
    for method, path, body in _routes("absent")[2:]:
        response = client.request(method, path, json=body, headers=owner.headers)
        assert response.status_code == 404 and response.json()["error"] == "not_found", (method, path)
    assert (
        client.get("/v1/secrets/present", params={"environment": "prod"}, headers=owner.headers).status_code
        == 404
    )


def test_duplicates_conflict_only_within_one_environment(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    _create(client, owner, "token", _value())
    _create(client, owner, "token", _value(), "staging")
    _create(client, owner, "token", _value(), "production")
    for environment in (None, "staging"):
        body = {"secret_name": "token", "value": "v"} | ({"environment": environment} if environment else {})
        again = client.post("/v1/secrets", json=body, headers=owner.headers)
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        assert "secret_name" in again.json()["details"]
    assert len(client.get("/v1/secrets", headers=owner.headers).json()["items"]) == 3


def test_environment_selects_among_same_named_secrets(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    staging, production = _value(), _value()
    _create(client, owner, "only-staging", staging, "staging")
    assert _read_value(client, owner, "only-staging").json()["value"] == staging  # the only one
    assert _read_value(client, owner, "only-staging", environment="").status_code == 404  # strictly none
    _create(client, owner, "twice", staging, "staging")
    _create(client, owner, "twice", production, "production")
    ambiguous = _read_value(client, owner, "twice")
    assert ambiguous.status_code == 400 and "environment" in ambiguous.json()["details"]
    for method, path, body in _routes("twice")[2:]:
        assert client.request(method, path, json=body, headers=owner.headers).status_code == 400, (
            method,
            path,
        )
    assert _read_value(client, owner, "twice", environment="production").json()["value"] == production
    renewed = client.put(
        "/v1/secrets/twice",
        params={"environment": "staging"},
        json={"value": "renewed"},
        headers=owner.headers,
    )
    assert renewed.status_code == 200
    assert _read_value(client, owner, "twice", environment="staging").json()["value"] == "renewed"
    assert _read_value(client, owner, "twice", environment="production").json()["value"] == production
    assert (
        client.delete(
            "/v1/secrets/twice", params={"environment": "production"}, headers=owner.headers
        ).status_code
        == 204
    )
    assert _read_value(client, owner, "twice").json()["value"] == "renewed"  # one left: no ambiguity


def test_no_environment_wins_and_list_filters(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    plain, prod = _value(), _value()
    _create(client, owner, "key", plain)
    _create(client, owner, "key", prod, "prod")
    _create(client, owner, "other", _value(), "prod")
    assert _read_value(client, owner, "key").json()["value"] == plain
    assert _read_value(client, owner, "key", environment="").json()["value"] == plain
    assert _read_value(client, owner, "key", environment="prod").json()["value"] == prod

    def names(**params: str) -> list[tuple[str, str | None]]:
        items = client.get("/v1/secrets", params=params, headers=owner.headers).json()["items"]
        return [(s["secret_name"], s["environment"]) for s in items]

    assert names() == [("key", None), ("key", "prod"), ("other", "prod")]
    assert names(environment="prod") == [("key", "prod"), ("other", "prod")]
    assert names(environment="") == [("key", None)]
    assert names(environment="nowhere") == []
    assert (
        client.get("/v1/secrets", params={"environment": "bad env"}, headers=owner.headers).status_code == 400
    )


def test_list_pages_with_next_token(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    for i in range(5):
        _create(client, owner, f"s{i}", _value())
    first = client.get("/v1/secrets", params={"limit": 3}, headers=owner.headers).json()
    rest = client.get(
        "/v1/secrets", params={"limit": 3, "next_token": first["next_token"]}, headers=owner.headers
    ).json()
    assert [s["secret_name"] for s in first["items"] + rest["items"]] == [f"s{i}" for i in range(5)]
    assert rest["next_token"] is None


def test_other_orgs_secrets_are_404_on_every_route(app: FastAPI, client: TestClient) -> None:
    mine, theirs = new_org(app, client), new_org(app, client)
    value = _value()
    _create(client, theirs, "theirs", value, "prod")
    for method, path, body in _routes("theirs")[2:]:
        for params in ({}, {"environment": "prod"}):
            response = client.request(method, path, params=params, json=body, headers=mine.headers)
            assert response.status_code == 404, (method, path, response.text)
    assert client.get("/v1/secrets", headers=mine.headers).json()["items"] == []
    _create(client, mine, "theirs", _value(), "prod")  # names are per org
    assert _read_value(client, theirs, "theirs").json()["value"] == value
    with app.state.db.transaction(write=False) as session:
        assert (
            resolve_secret_value(
                session, org_id=theirs.org_id, name="theirs", environment=None, settings=app.state.settings
            )
            == value
        )
        with pytest.raises(NotFound):
            resolve_secret_value(
                session, org_id=theirs.org_id, name="theirs", environment="dev", settings=app.state.settings
            )


def test_audit_rows_never_hold_the_value(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    value, new_value = _value(), _value()
    secret_id = _create(client, owner, "audited", value, "prod")["secret_id"]
    _read_value(client, owner, "audited")
    client.put("/v1/secrets/audited", json={"value": new_value}, headers=owner.headers)
    client.delete("/v1/secrets/audited", headers=owner.headers)
    rows = _audit(app, secret_id)
    assert sorted(r.action for r in rows) == ["create", "delete", "read", "update"]
    assert next(r for r in rows if r.action == "update").changes == {"value": "value changed"}
    for row in rows:
        assert (
            row.org_id == owner.org_id and row.actor_email == owner.email and row.resource_name == "audited"
        )
        dumped = json.dumps(row.changes)
        assert value not in dumped and new_value not in dumped


def _scan_rows(app: FastAPI, needles: list[str]) -> int:
    """Every column of every row of every table; returns how many cells were looked at."""
    cells = 0
    with app.state.db.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for cell in row:
                    cells += 1
                    text = _as_text(cell)
                    for needle in needles:
                        assert needle not in text, (table.name, needle)
                        assert needle.encode().hex() not in text, (table.name, needle)
    return cells


def _as_text(cell: Any) -> str:
    if isinstance(cell, bytes | memoryview):
        return bytes(cell).decode("latin-1")
    if isinstance(cell, dict | list):
        return json.dumps(cell, ensure_ascii=False)
    return str(cell)


def test_database_never_holds_a_value_in_clear(app: FastAPI, client: TestClient, database_url: str) -> None:
    owner = new_org(app, client)
    values = [_value() for _ in range(3)]
    _create(client, owner, "first", values[0])
    _create(client, owner, "second", values[1], "prod")
    client.put("/v1/secrets/first", json={"value": values[2]}, headers=owner.headers)
    assert _read_value(client, owner, "first").json()["value"] == values[2]
    with app.state.db.transaction(write=False) as session:
        stored = session.execute(select(Secret).where(Secret.org_id == owner.org_id)).scalars().all()
        keys = session.execute(select(DataKey).where(DataKey.org_id == owner.org_id)).scalars().all()
    assert len(stored) == 2 and len(keys) == 1 and all(len(s.nonce) == 12 for s in stored)
    assert _scan_rows(app, values) > 0
    if make_url(database_url).get_backend_name() == "sqlite":
        path = Path(make_url(database_url).database or "")
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
        assert Path(f"{path}-wal") in files
        for file in files:
            raw = file.read_bytes()
            for value in values:
                assert value.encode() not in raw, file


def test_ciphertexts_are_bound_to_their_row(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    _create(client, owner, "a", _value())
    _create(client, owner, "b", _value())
    with app.state.db.transaction(write=True) as session:
        a, b = (
            session.execute(
                select(Secret).where(Secret.org_id == owner.org_id, Secret.name == n)
            ).scalar_one()
            for n in ("a", "b")
        )
        session.execute(
            update(Secret).where(Secret.id == a.id).values(nonce=b.nonce, ciphertext=b.ciphertext)
        )
    swapped = _read_value(client, owner, "a")
    assert swapped.status_code == 500 and swapped.json()["error"] == "encryption_key_error"
    assert "does not authenticate" in swapped.json()["message"]


def test_rotation_rewraps_data_keys_and_a_new_server_reads_every_value(
    app: FastAPI, client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    old = app.state.settings.secret_key.get_secret_value()
    new = secrets.token_urlsafe(32)
    orgs = [new_org(app, client) for _ in range(3)]
    values = {(o.org_id, f"s{i}"): _value() for o in orgs for i in range(2)}
    by_org = {o.org_id: o for o in orgs}
    for (org_id, name), value in values.items():
        _create(client, by_org[org_id], name, value)
    with app.state.db.transaction(write=False) as session:
        before = {
            s.id: (s.nonce, s.ciphertext)
            for s in session.execute(select(Secret).where(Secret.org_id.in_(list(by_org)))).scalars()
        }
    assert _rotate(app, old=old, new=new) == 3
    assert _rotate(app, old=old, new=new) == 0  # idempotent
    with app.state.db.transaction(write=False) as session:
        keys = session.execute(select(DataKey).where(DataKey.org_id.in_(list(by_org)))).scalars().all()
        after = {
            s.id: (s.nonce, s.ciphertext)
            for s in session.execute(select(Secret).where(Secret.org_id.in_(list(by_org)))).scalars()
        }
    assert {k.kek_id for k in keys} == {derive_kek(new).kek_id} and all(k.rotated_at for k in keys)
    assert after == before  # values were not re-encrypted
    with _app_with_keys(settings, tmp_path / "new-only", new) as new_server:
        for (org_id, name), value in values.items():
            assert _read_value(new_server, by_org[org_id], name).json()["value"] == value
    stale = _read_value(client, orgs[0], "s0")  # this server still holds only the old key
    assert stale.status_code == 500 and stale.json()["error"] == "encryption_key_error"
    assert derive_kek(new).kek_id in stale.json()["message"]


def test_previous_keys_keep_a_server_working_during_rotation(
    app: FastAPI, client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    old = app.state.settings.secret_key.get_secret_value()
    new = secrets.token_urlsafe(32)
    owner = new_org(app, client)
    value = _value()
    _create(client, owner, "kept", value)
    with _app_with_keys(settings, tmp_path / "both", new, [old]) as both:
        assert _read_value(both, owner, "kept").json()["value"] == value  # still under the old key
        _rotate(app, old=old, new=new)
        assert _read_value(both, owner, "kept").json()["value"] == value  # now under the new key
        fresh = new_org(app, client)
        _create(both, fresh, "fresh", value)
    with app.state.db.transaction(write=False) as session:
        wrapped_by = session.execute(
            select(DataKey.kek_id).where(DataKey.org_id == fresh.org_id)
        ).scalar_one()
    assert wrapped_by == derive_kek(new).kek_id


def test_a_wrong_key_fails_clearly(
    app: FastAPI, client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    owner = new_org(app, client)
    value = _value()
    _create(client, owner, "locked", value)
    with _app_with_keys(settings, tmp_path / "wrong", secrets.token_urlsafe(32)) as wrong:
        for response in (
            _read_value(wrong, owner, "locked"),
            wrong.put("/v1/secrets/locked", json={"value": "x"}, headers=owner.headers),
            wrong.post("/v1/secrets", json={"secret_name": "more", "value": "x"}, headers=owner.headers),
        ):
            assert response.status_code == 500
            body = response.json()
            assert body["error"] == "encryption_key_error" and "key-encryption key" in body["message"]
            assert value not in response.text
    with app.state.db.transaction(write=True) as session:  # rotating from a key that wrapped nothing
        assert (
            rotate_key_encryption_key(session, old=secrets.token_urlsafe(32), new=secrets.token_urlsafe(32))
            == 0
        )
    assert _read_value(client, owner, "locked").json()["value"] == value


def test_values_never_reach_the_logs(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    owner = new_org(app, client)
    value, new_value = _value(), _value()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQL and its parameters too
    _create(client, owner, "quiet", value)
    assert _read_value(client, owner, "quiet").json()["value"] == value
    client.put("/v1/secrets/quiet", json={"value": new_value}, headers=owner.headers)
    client.post("/v1/secrets", json={"secret_name": "quiet", "value": value}, headers=owner.headers)  # 409
    client.post("/v1/secrets", json={"secret_name": "bad name", "value": value}, headers=owner.headers)  # 400
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records), "SQL was not logged"
    for record in caplog.records:
        text = record.getMessage()
        assert value not in text and new_value not in text, record.name
        assert value.encode().hex() not in text
    for model in (SecretCreate(secret_name="x", value=value),):
        assert value not in repr(model) and value not in str(model)


def test_cli_rotate_key_from_dagy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    base = Settings(home=home, database_url=url, auth_mode="email", auth_cache_seconds=0)
    values: dict[str, str] = {}
    with TestClient(create_app(base, migrate=False)) as server:
        owner = new_org(server.app, server)  # type: ignore[arg-type]
        for name in ("one", "two"):
            values[name] = _value()
            _create(server, owner, name, values[name])
    old = (home / "secret.key").read_text()
    new_key_file = tmp_path / "new.key"
    new_key_file.write_text(secrets.token_urlsafe(32) + "\n")
    for name in ("DAGY_SECRET_KEY", "DAGY_PREVIOUS_SECRET_KEYS", "DAGY_NEW_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGY_HOME", str(home))
    monkeypatch.setenv("DAGY_DATABASE_URL", url)
    runner = CliRunner()
    short = runner.invoke(cli, ["secrets", "rotate-key", "--new-key", "too-short"])
    assert short.exit_code == 2
    result = runner.invoke(cli, ["secrets", "rotate-key", "--new-key-file", str(new_key_file)])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 1 data keys" in result.output and new_key_file.read_text().strip() not in result.output
    assert (home / "secret.key").read_text() == new_key_file.read_text().strip()
    assert (home / f"secret.key.{derive_kek(old).kek_id}.old").read_text() == old
    with TestClient(create_app(base.model_copy(update={"secret_key": None}), migrate=False)) as restarted:
        for name, value in values.items():
            assert _read_value(restarted, owner, name).json()["value"] == value
    monkeypatch.setenv("DAGY_SECRET_KEY", new_key_file.read_text().strip())
    monkeypatch.setenv("DAGY_NEW_SECRET_KEY", secrets.token_urlsafe(32))
    from_env = runner.invoke(cli, ["secrets", "rotate-key"])
    assert from_env.exit_code == 0, from_env.output
    assert "set DAGY_SECRET_KEY to the new key" in from_env.output
