"""Checking s3 and polling sensors: claim the due ones, read their sources, record what was seen.

A check is three steps so that no transaction waits on the network:

1. `claim_due_checks` (one transaction) takes due sensors (`SKIP LOCKED` on PostgreSQL), moves each
   one's `next_check_at` an interval ahead, and resolves its secret references into a `DueCheck`;
2. `observe` reads the source (no database);
3. `record_check` (one transaction per sensor) fires for what is new and keeps the cursor.

S3: an object fires once per key and version (`<bucket>/<key>#<etag>` is the event's dedup key, unique
per sensor), when it was modified in or after the second the sensor started watching (`cursor.since`)
or the config says `include_existing`. The cursor also keeps a digest of the last listing: a check
whose listing did not change asks the database nothing. Polling: the answer's SHA-256 against the
cursor's; the first answer is the baseline (without a condition it does not fire). Failures become
`failed` events, one per distinct error and at most one every `FAILURE_EVENT_SECONDS` while it lasts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.models import Sensor
from dagy.server.domains.secrets import service as secrets
from dagy.server.domains.sensors import repository as repo
from dagy.server.domains.sensors.config import (
    DEFAULT_INTERVAL_SECONDS,
    LOCAL_STORE,
    PollingConfig,
    S3Config,
    SecretRef,
    SensorConfig,
    parse_config,
    secret_refs,
)
from dagy.server.domains.sensors.firing import dedup_key_of, fire, record_failure
from dagy.server.domains.sensors.sources import (
    ListedObject,
    PollAnswer,
    S3Credentials,
    SourceUnreachable,
    event_document,
    list_local,
    list_s3,
    poll,
)
from dagy.server.errors import DagyError
from dagy.server.settings import Settings

FAILURE_EVENT_SECONDS = 15 * 60  # while one error lasts, a failed event at most this often
MAX_FIRES_PER_CHECK = 500  # more new objects than this: the rest fire at the next tick


@dataclass(frozen=True)
class DueCheck:
    """A claimed sensor, ready to be read outside any transaction (secrets resolved, in memory)."""

    sensor_id: str
    org_id: str
    sensor_type: str
    due_at: datetime
    config_json: dict[str, Any]  # as stored when claimed: a sensor changed meanwhile records nothing
    config: SensorConfig | None
    cursor: dict[str, Any]
    credentials: S3Credentials | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    problem: str | None = None  # why it cannot be read (a missing secret, a config no longer valid)


@dataclass(frozen=True)
class Observation:
    objects: list[ListedObject] | None = None
    answer: PollAnswer | None = None
    error: str | None = None


def next_check_after(sensor: Sensor, now: datetime) -> datetime | None:
    """When a newly created or reconfigured sensor is first due: at once for s3 and polling."""
    return now if sensor.sensor_type in repo.CHECKED_TYPES else None


def start_cursor(sensor_type: str, now: datetime) -> dict[str, Any]:
    """A fresh cursor: an s3 sensor watches objects from this second on."""
    if sensor_type != "s3":
        return {}
    return {"since": now.replace(microsecond=0).isoformat()}


def claim_due_checks(session: Session, *, now: datetime, limit: int, settings: Settings) -> list[DueCheck]:
    checks = []
    for sensor in repo.claim_due(session, now=now, limit=limit):
        check = prepare_check(session, sensor, settings=settings, due_at=sensor.next_check_at or now)
        interval = getattr(check.config, "interval_seconds", None) or DEFAULT_INTERVAL_SECONDS
        sensor.next_check_at = now + timedelta(seconds=interval)
        checks.append(check)
    session.flush()
    return checks


def prepare_check(session: Session, sensor: Sensor, *, settings: Settings, due_at: datetime) -> DueCheck:
    check = partial(
        DueCheck,
        sensor_id=sensor.id,
        org_id=sensor.org_id,
        sensor_type=sensor.sensor_type,
        due_at=due_at,
        config_json=dict(sensor.config_json or {}),
        cursor=dict(sensor.cursor or {}),
    )
    try:
        config = parse_config(sensor.sensor_type, dict(sensor.config_json or {}))
        values = {
            name: _secret(session, sensor.org_id, ref, settings) for name, ref in secret_refs(config).items()
        }
    except DagyError as exc:
        return check(config=None, problem=_problem(exc))
    if isinstance(config, S3Config) and config.aws_access_key_id is not None:
        credentials = S3Credentials(values["aws_access_key_id"], values["aws_secret_access_key"])
        return check(config=config, credentials=credentials)
    if isinstance(config, PollingConfig):
        headers = {k: v if isinstance(v, str) else values[f"headers.{k}"] for k, v in config.headers.items()}
        return check(config=config, headers=headers)
    return check(config=config)


def observe(check: DueCheck, *, settings: Settings, limit: int | None = None) -> Observation:
    """Read the check's source; never raises for the source's own failures. An s3 sensor's local
    store is `DAGY_HOME/objects`, the folder runs of the embedded worker write to."""
    if check.problem is not None:
        return Observation(error=check.problem)
    allow_private = settings.allow_private_network
    objects_dir = settings.home / "objects"
    try:
        if isinstance(check.config, S3Config):
            if check.config.store == LOCAL_STORE:
                found = list_local(objects_dir, check.org_id, check.config.prefix, **_limit(limit))
            else:
                found = list_s3(check.config, check.credentials, allow_private=allow_private, **_limit(limit))
            return Observation(objects=found)
        if isinstance(check.config, PollingConfig):
            return Observation(answer=poll(check.config.url, check.headers, allow_private=allow_private))
    except SourceUnreachable as exc:
        return Observation(error=str(exc))
    return Observation(error=f"a {check.sensor_type} sensor has no source to check")


def record_check(
    session: Session, *, check: DueCheck, observation: Observation, now: datetime, settings: Settings
) -> int:
    """Fire for what the observation holds that is new; keep the cursor. Answers the runs started."""
    sensor = repo.lock_sensor(session, check.sensor_id)
    if sensor is None or not sensor.enabled or dict(sensor.config_json or {}) != check.config_json:
        return 0  # deleted, disabled or reconfigured while it was being read
    cursor = dict(sensor.cursor or {})
    if observation.error is not None:
        _failure(session, sensor, cursor, observation.error, now)
        fired = 0
    elif observation.objects is not None and isinstance(check.config, S3Config):
        cursor.pop("failure", None)
        fired = _record_objects(
            session,
            sensor,
            config=check.config,
            cursor=cursor,
            objects=observation.objects,
            now=now,
            settings=settings,
        )
    elif observation.answer is not None and isinstance(check.config, PollingConfig):
        cursor.pop("failure", None)
        fired = _record_answer(
            session,
            sensor,
            check=check,
            cursor=cursor,
            answer=observation.answer,
            now=now,
            settings=settings,
        )
    else:
        fired = 0
    sensor.cursor = cursor
    session.flush()
    return fired


def _record_objects(
    session: Session,
    sensor: Sensor,
    *,
    config: S3Config,
    cursor: dict[str, Any],
    objects: list[ListedObject],
    now: datetime,
    settings: Settings,
) -> int:
    listing = hashlib.sha256("\n".join(o.dedup_key for o in objects).encode()).hexdigest()
    if cursor.get("listing") == listing:
        return 0
    since = _since(cursor)
    candidates = {
        _object_dedup_key(config, o): o
        for o in objects
        if config.include_existing or o.last_modified >= since
    }
    known = repo.known_dedup_keys(session, sensor.id, candidates)
    new = [(key, o) for key, o in candidates.items() if key not in known]
    fired = 0
    for key, listed in new[:MAX_FIRES_PER_CHECK]:
        event = _object_event(config, listed)
        detail = {"key": listed.key, "size": listed.size, "etag": listed.etag}
        done = fire(
            session, sensor, event=event, occurred_at=now, settings=settings, dedup_key=key, detail=detail
        )
        fired += 1 if done.run_id else 0
    if len(new) > MAX_FIRES_PER_CHECK:
        sensor.next_check_at = now  # the rest at the next tick; the listing is then different again
    else:
        cursor["listing"] = listing
    cursor["objects"] = len(objects)
    cursor["checked_at"] = now.isoformat()
    return fired


def _record_answer(
    session: Session,
    sensor: Sensor,
    *,
    check: DueCheck,
    cursor: dict[str, Any],
    answer: PollAnswer,
    now: datetime,
    settings: Settings,
) -> int:
    config = check.config
    assert isinstance(config, PollingConfig)
    previous = cursor.get("digest")
    cursor["digest"] = answer.digest
    cursor["checked_at"] = now.isoformat()
    if previous == answer.digest:
        return 0
    if config.condition is None and previous is None:
        return 0  # the first answer is the baseline
    if config.condition is not None and not config.condition.holds(answer.document):
        return 0
    event = {
        "url": config.url,
        "status_code": answer.status_code,
        "digest": answer.digest,
        "previous_digest": previous,
        "body": event_document(answer),
        "checked_at": now.isoformat(),
    }
    done = fire(
        session,
        sensor,
        event=event,
        occurred_at=now,
        settings=settings,
        dedup_key=dedup_key_of(f"poll:{check.due_at.isoformat()}"),
        digest=answer.digest,
        detail={"digest": answer.digest, "previous_digest": previous},
    )
    return 1 if done.run_id else 0


def _failure(session: Session, sensor: Sensor, cursor: dict[str, Any], message: str, now: datetime) -> None:
    """A failed event, unless the same error was recorded less than `FAILURE_EVENT_SECONDS` ago."""
    last = cursor.get("failure") or {}
    recorded_at = datetime.fromisoformat(last["recorded_at"]) if last.get("recorded_at") else None
    repeat = last.get("message") == message and recorded_at is not None
    if repeat and recorded_at is not None and now - recorded_at < timedelta(seconds=FAILURE_EVENT_SECONDS):
        cursor["failure"] = last | {"count": int(last.get("count", 1)) + 1}
        return
    record_failure(session, sensor, message=message, occurred_at=now)
    cursor["failure"] = {"message": message, "recorded_at": now.isoformat(), "count": 1}


def _object_event(config: S3Config, listed: ListedObject) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "s3:ObjectCreated:*",
        "store": config.store,
        "key": listed.key,
        "size": listed.size,
        "etag": listed.etag,
        "last_modified": listed.last_modified.isoformat(),
    }
    if config.store == LOCAL_STORE:
        return event
    return event | {"bucket": config.bucket, "uri": f"s3://{config.bucket}/{listed.key}"}


def _object_dedup_key(config: S3Config, listed: ListedObject) -> str:
    where = LOCAL_STORE if config.store == LOCAL_STORE else f"s3:{config.endpoint_url or ''}:{config.bucket}"
    return dedup_key_of(f"{where}/{listed.dedup_key}")


def _since(cursor: dict[str, Any]) -> datetime:
    since = cursor.get("since")
    return datetime.fromisoformat(str(since)) if since else datetime.min.replace(tzinfo=UTC)


def _secret(session: Session, org_id: str, ref: SecretRef, settings: Settings) -> str:
    return secrets.resolve_secret_value(
        session, org_id=org_id, name=ref.secret, environment=ref.environment, settings=settings
    )


def _problem(exc: DagyError) -> str:
    if exc.details:
        return f"{exc.message} " + "; ".join(f"{k}: {v}" for k, v in exc.details.items())
    return exc.message


def _limit(limit: int | None) -> dict[str, int]:
    return {} if limit is None else {"limit": limit}
