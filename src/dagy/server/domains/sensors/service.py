"""Sensors: create, read, change and delete them, test them, read their events, and receive webhooks.

A webhook sensor's token (`wh_` + 192 random bits) is found by its SHA-256; the token itself is kept
encrypted under the org's data key (bound to the sensor's row) so `GET /sensors/{id}` can show it.
s3 and polling sensors are checked by the sensor loop (`checks.py`, `dagy.server.services.sensors`).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.nodes.base import NodeError
from dagy.nodes.net import METADATA_HOSTS, blocked_reason
from dagy.runtime.objects import DirectoryObjectStore
from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.base import new_id, utcnow
from dagy.server.db.engine import Database
from dagy.server.db.models import Sensor
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.flows import service as flows
from dagy.server.domains.orgs import service as orgs
from dagy.server.domains.secrets import service as secrets_service
from dagy.server.domains.sensors import checks
from dagy.server.domains.sensors import repository as repo
from dagy.server.domains.sensors.config import (
    LOCAL_STORE,
    PollingConfig,
    S3Config,
    SensorConfig,
    parse_config,
    secret_refs,
)
from dagy.server.domains.sensors.firing import Outcome, check_params, fire, record_failure
from dagy.server.domains.sensors.schemas import (
    SensorCreate,
    SensorCreated,
    SensorRead,
    SensorSummary,
    SensorTested,
    SensorUpdate,
    WebhookAccepted,
)
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "sensor"
TOKEN_PREFIX = "wh_"  # noqa: S105 - the prefix of generated tokens, not a secret
_TOKEN_BYTES = 24  # 192 random bits
MAX_TOKEN_LENGTH = 128


def create_sensor(session: Session, *, actor: Actor, data: SensorCreate, settings: Settings) -> SensorCreated:
    flow = flows.flow_named(session, org_id=actor.org_id, flow_name=data.flow_name)
    check_config(
        session, org_id=actor.org_id, sensor_type=data.sensor_type, raw=data.config_json, settings=settings
    )
    check_params(session, org_id=actor.org_id, flow_name=flow.name, params=data.flow_params_json)
    now = utcnow()
    sensor = Sensor(
        id=new_id("sensor"),
        org_id=actor.org_id,
        name=data.name,
        sensor_type=data.sensor_type,
        flow_id=flow.id,
        flow_name=flow.name,
        config_json=dict(data.config_json),
        flow_params_json=dict(data.flow_params_json),
        enabled=data.enabled,
        cursor=checks.start_cursor(data.sensor_type, now),
        created_at=now,
        updated_at=now,
    )
    sensor.next_check_at = checks.next_check_after(sensor, now)
    token = None
    if sensor.sensor_type == "webhook":
        token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
        sensor.webhook_token_hash = token_hash(token)
        sensor.webhook_token_encrypted = _seal_token(session, sensor, token, settings)
    repo.add(session, sensor)
    _audit(session, actor, sensor, Action.CREATE, diff({}, _state(sensor)))
    return SensorCreated(**_summary(sensor).model_dump(), webhook_token=token)


def list_sensors(
    connection: Connection,
    *,
    actor: Actor,
    page: PageRequest,
    sensor_type: str | None,
    flow_name: str | None,
    enabled: bool | None,
) -> KeysetPage[dict[str, Any]]:
    """Newest first. Read path (docs/adr/0007-list-read-path.md): the items are `SensorSummary`'s
    fields as plain values, rendered once by the router."""
    return repo.list_page(
        connection,
        actor.org_id,
        page,
        sensor_type=sensor_type,
        flow_name=flow_name,
        enabled=enabled,
        to_item=_list_item,
    )


def get_sensor(session: Session, *, actor: Actor, sensor_id: str, settings: Settings) -> SensorRead:
    return _read(session, _sensor(session, actor.org_id, sensor_id), settings)


def update_sensor(
    session: Session, *, actor: Actor, sensor_id: str, data: SensorUpdate, settings: Settings
) -> SensorRead:
    """Only the fields given change. A new `config_json` is checked as on create and starts the
    sensor's watch afresh (a new cursor; s3 sensors then fire for objects modified from now on); new
    `flow_params_json` must fit the flow's latest version, as on create."""
    given = data.model_fields_set
    if not given:
        raise InvalidInput(
            "No fields to update.", details={"body": "give name, enabled, config_json or flow_params_json"}
        )
    nulls = [name for name in sorted(given) if getattr(data, name) is None]
    if nulls:
        raise InvalidInput(
            f"{nulls[0]} must not be null.", details={name: "must not be null" for name in nulls}
        )
    sensor = _sensor(session, actor.org_id, sensor_id)
    before = _state(sensor)
    now = utcnow()
    if data.config_json is not None and data.config_json != sensor.config_json:
        check_config(
            session,
            org_id=sensor.org_id,
            sensor_type=sensor.sensor_type,
            raw=data.config_json,
            settings=settings,
        )
        sensor.config_json = dict(data.config_json)
        sensor.cursor = checks.start_cursor(sensor.sensor_type, now)
        sensor.next_check_at = checks.next_check_after(sensor, now)
    if data.name is not None:
        sensor.name = data.name
    if data.enabled is not None:
        sensor.enabled = data.enabled
    if data.flow_params_json is not None:
        check_params(session, org_id=sensor.org_id, flow_name=sensor.flow_name, params=data.flow_params_json)
        sensor.flow_params_json = dict(data.flow_params_json)
    sensor.updated_at = now
    session.flush()
    _audit(session, actor, sensor, Action.UPDATE, diff(before, _state(sensor)))
    return _read(session, sensor, settings)


def delete_sensor(session: Session, *, actor: Actor, sensor_id: str) -> None:
    """Its events go with it; runs it started stay (their `sensor_id` becomes null)."""
    sensor = _sensor(session, actor.org_id, sensor_id)
    before = _state(sensor)
    repo.delete(session, sensor)
    _audit(session, actor, sensor, Action.DELETE, diff(before, {}))


def list_sensor_events(
    connection: Connection, *, actor: Actor, sensor_id: str, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """Newest first; a sensor the org does not have is a 404. Read path: the items are
    `SensorEventRead`'s fields as plain values. The two statements need no common snapshot: events
    of a sensor deleted in between are gone with it, and the page is then empty."""
    if not repo.sensor_exists(connection, actor.org_id, sensor_id):
        raise NotFound("Sensor not found.")
    return repo.event_page(connection, sensor_id, page, to_item=_event_item)


def test_sensor(db: Database, *, actor: Actor, sensor_id: str, settings: Settings) -> SensorTested:
    """Fire the sensor's flow once with a test event. An s3 or polling sensor's source is read first
    (outside any transaction); one that cannot be read is a 400 naming why, and a `failed` event."""
    now = utcnow()
    with db.transaction(write=False) as session:
        sensor = _sensor(session, actor.org_id, sensor_id)
        check = None
        if sensor.sensor_type in repo.CHECKED_TYPES:
            check = checks.prepare_check(session, sensor, settings=settings, due_at=now)
    observation = checks.observe(check, settings=settings, limit=1) if check is not None else None
    with db.transaction(write=True) as session:
        sensor = _sensor(session, actor.org_id, sensor_id)
        run_id, failure = _fire_test(session, actor, sensor, observation, settings=settings, now=now)
    if failure is not None:
        raise InvalidInput(f"Test failed: {failure}", details={"config_json": failure})
    return SensorTested(status="success", message="Test event triggered successfully", run_id=run_id)


def _fire_test(
    session: Session,
    actor: Actor,
    sensor: Sensor,
    observation: checks.Observation | None,
    *,
    settings: Settings,
    now: datetime,
) -> tuple[str | None, str | None]:
    """(run id, why the test failed): a source that could not be read is a `failed` event."""
    if observation is not None and observation.error is not None:
        record_failure(session, sensor, message=observation.error, occurred_at=now, detail={"test": True})
        _audit(session, actor, sensor, Action.EXECUTE, {"test": [None, Outcome.FAILED]})
        return None, observation.error
    event = _test_event(sensor, observation)
    fired = fire(session, sensor, event=event, occurred_at=now, settings=settings, test=True)
    _audit(
        session,
        actor,
        sensor,
        Action.EXECUTE,
        {"test": [None, fired.outcome], "run_id": [None, fired.run_id]},
    )
    return fired.run_id, fired.message if fired.run_id is None else None


def receive_webhook(
    session: Session, *, token: str, payload: Any, body_digest: str, body_bytes: int, settings: Settings
) -> WebhookAccepted:
    """Queue the sensor's flow with the payload as parameter `event`, and record the event, in one
    transaction. A run the runs domain refuses is its error, and nothing is recorded."""
    sensor = repo.get_by_token_hash(session, token_hash(token)) if _is_token(token) else None
    if sensor is None or not sensor.enabled or sensor.sensor_type != "webhook":
        raise NotFound("Webhook token not found or sensor disabled.")
    orgs.check_not_suspended(session, org_id=sensor.org_id)
    fired = fire(
        session,
        sensor,
        event=payload,
        occurred_at=utcnow(),
        settings=settings,
        digest=body_digest,
        detail={"bytes": body_bytes},
        strict=True,
    )
    return WebhookAccepted(
        run_id=str(fired.run_id), status=str(fired.status), message="Event received and flow triggered"
    )


def check_config(
    session: Session, *, org_id: str, sensor_type: str, raw: dict[str, Any], settings: Settings
) -> SensorConfig:
    """Parse `raw` for its type and check what needs the org or the installation: addresses the SSRF
    guard refuses without a DNS lookup, secret references that name no secret, a local prefix."""
    config = parse_config(sensor_type, raw)
    problems: dict[str, str] = {}
    if isinstance(config, PollingConfig):
        _url_problem(problems, "config_json.url", config.url, settings)
    if isinstance(config, S3Config) and config.endpoint_url is not None:
        _url_problem(problems, "config_json.endpoint_url", config.endpoint_url, settings)
    if isinstance(config, S3Config) and config.store == LOCAL_STORE and config.prefix:
        try:
            DirectoryObjectStore(settings.home / "objects", org_id).key(config.prefix)
        except NodeError as exc:
            problems["config_json.prefix"] = str(exc)
    for field, ref in secret_refs(config).items():
        try:
            secrets_service.resolve_secret_value(
                session, org_id=org_id, name=ref.secret, environment=ref.environment, settings=settings
            )
        except (NotFound, InvalidInput) as exc:
            problems[f"config_json.{field}"] = f"secret {ref.secret}: {exc.message}"
    if problems:
        raise InvalidInput(f"Invalid {sensor_type} sensor configuration.", details=problems)
    return config


def _url_problem(problems: dict[str, str], field: str, url: str, settings: Settings) -> None:
    """Scheme and host always; the address when the host is an IP literal, `localhost` or a metadata
    name. A name's addresses are checked at every request the sensor makes (DNS may change)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    literal = host == "localhost" or host in METADATA_HOSTS or _is_ip(host)
    reason = blocked_reason(url, allow_private=settings.allow_private_network or not literal)
    if reason is not None:
        problems[field] = f"refused by the SSRF guard: {reason}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _is_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= MAX_TOKEN_LENGTH


def _seal_token(session: Session, sensor: Sensor, token: str, settings: Settings) -> str:
    sealed = secrets_service.seal_with_org_key(
        session, org_id=sensor.org_id, row_id=sensor.id, plaintext=token.encode(), settings=settings
    )
    return base64.b64encode(sealed).decode()


def _open_token(session: Session, sensor: Sensor, settings: Settings) -> str | None:
    if not sensor.webhook_token_encrypted:
        return None
    plain = secrets_service.open_with_org_key(
        session,
        org_id=sensor.org_id,
        row_id=sensor.id,
        sealed=base64.b64decode(sensor.webhook_token_encrypted),
        settings=settings,
    )
    return plain.decode()


def _test_event(sensor: Sensor, observation: checks.Observation | None) -> dict[str, Any]:
    event: dict[str, Any] = {"test": True, "sensor_id": sensor.id, "sensor_type": sensor.sensor_type}
    if observation is not None and observation.objects is not None:
        event["objects_listed"] = len(observation.objects)
    if observation is not None and observation.answer is not None:
        event |= {"status_code": observation.answer.status_code, "digest": observation.answer.digest}
    return event


def _sensor(session: Session, org_id: str, sensor_id: str) -> Sensor:
    sensor = repo.get_sensor(session, org_id, sensor_id)
    if sensor is None:
        raise NotFound("Sensor not found.")
    return sensor


def _state(sensor: Sensor) -> dict[str, Any]:
    return {
        "name": sensor.name,
        "sensor_type": sensor.sensor_type,
        "flow_name": sensor.flow_name,
        "enabled": sensor.enabled,
        "config_json": sensor.config_json,
        "flow_params_json": sensor.flow_params_json,
    }


def _audit(
    session: Session, actor: Actor, sensor: Sensor, action: Action, changes: Mapping[str, Any]
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        resource_id=sensor.id,
        resource_name=sensor.name,
        changes=changes,
    )


def _summary(sensor: Sensor) -> SensorSummary:
    return SensorSummary(
        sensor_id=sensor.id,
        name=sensor.name,
        sensor_type=sensor.sensor_type,
        flow_name=sensor.flow_name,
        enabled=sensor.enabled,
        created_at=sensor.created_at,
        last_fired_at=sensor.last_fired_at,
        next_check_at=sensor.next_check_at,
    )


def _read(session: Session, sensor: Sensor, settings: Settings) -> SensorRead:
    return SensorRead(
        **_summary(sensor).model_dump(),
        webhook_token=_open_token(session, sensor, settings),
        config_json=dict(sensor.config_json or {}),
        flow_params_json=dict(sensor.flow_params_json or {}),
        updated_at=sensor.updated_at,
    )


def _list_item(row: ListRow) -> dict[str, Any]:
    """A `SensorSummary`'s fields from a `repo.LIST_PAGES` row."""
    sensor_id, name, sensor_type, flow_name, enabled, created_at, last_fired_at, next_check_at = row
    return {
        "sensor_id": sensor_id,
        "name": name,
        "sensor_type": sensor_type,
        "flow_name": flow_name,
        "enabled": enabled,
        "created_at": created_at,
        "last_fired_at": last_fired_at,
        "next_check_at": next_check_at,
    }


def _event_item(row: ListRow) -> dict[str, Any]:
    """A `SensorEventRead`'s fields from a `repo.EVENT_PAGES` row."""
    event_id, occurred_at, payload_digest, run_id, outcome, detail = row
    return {
        "event_id": event_id,
        "time": occurred_at,
        "payload_digest": payload_digest,
        "run_id": run_id,
        "outcome": outcome,
        "detail": detail,
    }
