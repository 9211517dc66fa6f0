"""A sensor firing: one event row and the run it starts, in the caller's transaction.

The event is inserted first with `ON CONFLICT DO NOTHING` on `(sensor_id, dedup_key)`: an event the
sensor already saw (an object key and version, a polling slot) inserts nothing and starts nothing,
whichever process or restart sees it again. The run goes through the runs domain
(`trigger_sensor_run`) with the sensor's parameters and `event`; a run the runs domain refuses
leaves the event `refused`, with the reason. The sensor's parameters are checked against its flow's
latest version when they are set (`check_params`), so that refusal is left to a version registered
since (or an event its schema does not take).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id
from dagy.server.db.models import Sensor
from dagy.server.domains.runs import trigger as runs
from dagy.server.domains.runs.schemas import RunTrigger
from dagy.server.domains.sensors import repository as repo
from dagy.server.errors import DagyError, InvalidInput
from dagy.server.settings import Settings

_MAX_DEDUP_KEY = 1024  # the column's size
EVENT = "event"  # the parameter each run of a sensor gets its event in
PARAMS_FIELD = "flow_params_json"


class Outcome:
    FIRED = "fired"
    REFUSED = "refused"
    FAILED = "failed"
    TEST = "test"


@dataclass(frozen=True)
class Fired:
    """What a firing did: `inserted` is False when the event had been seen before."""

    inserted: bool
    event_id: str | None = None
    run_id: str | None = None
    status: str | None = None
    outcome: str | None = None
    message: str | None = None


def digest_of(payload: Any) -> str:
    """SHA-256 of the payload's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def dedup_key_of(text: str) -> str:
    """`text`, or its SHA-256 when it is longer than the column holds."""
    if len(text) <= _MAX_DEDUP_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def fire(
    session: Session,
    sensor: Sensor,
    *,
    event: Any,
    occurred_at: datetime,
    settings: Settings,
    dedup_key: str | None = None,
    digest: str | None = None,
    detail: dict[str, Any] | None = None,
    test: bool = False,
    strict: bool = False,
) -> Fired:
    """Record the event and queue the sensor's flow with `flow_params_json` and `event`. A run the
    runs domain refuses is a `refused` event, or, with `strict`, its error raised."""
    event_id = new_id("sevt")
    outcome = Outcome.TEST if test else Outcome.FIRED
    values = {
        "id": event_id,
        "org_id": sensor.org_id,
        "sensor_id": sensor.id,
        "occurred_at": occurred_at,
        "payload_digest": digest or digest_of(event),
        "dedup_key": dedup_key,
        "run_id": None,
        "outcome": outcome,
        "detail": dict(detail or {}),
    }
    if not repo.add_event(session, values):
        return Fired(inserted=False)
    trigger = RunTrigger(
        flow_name=sensor.flow_name,
        parameters=dict(sensor.flow_params_json or {}) | {EVENT: event},
        tags=_tags(sensor, test=test),
    )
    try:
        run = runs.trigger_sensor_run(
            session,
            org_id=sensor.org_id,
            sensor_id=sensor.id,
            event_id=event_id,
            webhook=sensor.sensor_type == "webhook",
            data=trigger,
            settings=settings,
        )
    except DagyError as exc:
        if strict:
            raise
        refusal = dict(detail or {}) | {"error": exc.code, "message": exc.message}
        repo.set_event_result(session, event_id, run_id=None, outcome=Outcome.REFUSED, detail=refusal)
        return Fired(inserted=True, event_id=event_id, outcome=Outcome.REFUSED, message=exc.message)
    repo.set_event_result(session, event_id, run_id=run.run_id, outcome=outcome, detail=dict(detail or {}))
    if not test:
        sensor.last_fired_at = occurred_at
    return Fired(inserted=True, event_id=event_id, run_id=run.run_id, status=run.status, outcome=outcome)


def check_params(session: Session, *, org_id: str, flow_name: str, params: dict[str, Any]) -> None:
    """A sensor's `flow_params_json` must fit its flow's latest version, `event` aside (each run
    gets its own): 400 naming `flow_params_json.<name>`, or `flow_name` when the version takes no
    parameter `event` at all."""
    data = RunTrigger(flow_name=flow_name, parameters=params)
    try:
        runs.check_run_parameters(session, org_id=org_id, data=data, later=(EVENT,), field=PARAMS_FIELD)
    except InvalidInput as exc:
        no_event = exc.details.pop(f"{PARAMS_FIELD}.{EVENT}", None)
        if no_event is not None:
            exc.details["flow_name"] = f"{no_event}, which each run of a sensor is given"
        raise


def record_failure(
    session: Session,
    sensor: Sensor,
    *,
    message: str,
    occurred_at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """A `failed` event: the source could not be read (no run)."""
    repo.add_event(
        session,
        {
            "id": new_id("sevt"),
            "org_id": sensor.org_id,
            "sensor_id": sensor.id,
            "occurred_at": occurred_at,
            "payload_digest": digest_of({"error": message}),
            "dedup_key": None,
            "run_id": None,
            "outcome": Outcome.FAILED,
            "detail": dict(detail or {}) | {"error": message},
        },
    )


def _tags(sensor: Sensor, *, test: bool) -> list[str]:
    tags = ["sensor", sensor.sensor_type, f"sensor:{sensor.id}"]
    return [*tags, "test"] if test else tags
