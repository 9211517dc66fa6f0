"""Run transitions as alert events, and their deliveries in the outbox (DESIGN.md §4,
docs/alerts.md, docs/adr/0015-alert-outbox-in-the-transition.md).

`set_run_state` asks `alert_trigger()` which event a transition is (a run that failed, completed,
or went back to the queue for a retry; `hold_for_decision` adds a run that began waiting for an
approval) and `record_alert_event()` writes one `alert_delivery` row
per (matching rule, channel) in the transition's own transaction: a committed transition always
has its deliveries, a rolled-back one never. The dispatcher (`services/alerts.py`) sends them.

Cost on the hot paths: a claim and a new run are no alert event and pay nothing; a completion pays
one indexed SELECT of the org's enabled rules of that trigger (`ix_alert_rule_org_trigger`),
which finds nothing in an org without rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Row,
    Select,
    String,
    and_,
    bindparam,
    cast,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from dagy.server.db.base import new_id
from dagy.server.db.bulk import insert_new
from dagy.server.db.models import AlertDelivery, AlertRule, AlertRuleChannel, NotificationChannel, Run
from dagy.server.orchestration.states import RunState

ERROR_SUMMARY_CHARS = 500
PAGERDUTY = "pagerduty"
RESOLVE = "resolve"  # a PagerDuty incident a run's earlier event opened, closed by its success
PENDING = "pending"


class AlertTrigger(StrEnum):
    """The reference's trigger types."""

    ON_FAILURE = "on_failure"
    ON_SUCCESS = "on_success"
    ON_SLA_BREACH = "on_sla_breach"
    ON_RETRY = "on_retry"
    ON_WAITING = "on_waiting"  # a run's attempt paused at an approval node: someone has to decide


def alert_trigger(initial: RunState | None, final: RunState, *, retried: bool) -> AlertTrigger | None:
    """The alert event of a transition that ended in `final`: a run failed or completed, or a failed
    attempt went back to the queue using a retry. Claims, new runs and cancellations are none."""
    if initial is None:
        return None
    if final == RunState.FAILED:
        return AlertTrigger.ON_FAILURE
    if final == RunState.COMPLETED:
        return AlertTrigger.ON_SUCCESS
    if final == RunState.QUEUED and retried:
        return AlertTrigger.ON_RETRY
    return None


def _matching(*, one_rule: bool) -> Select[str, str, str, str]:
    """(rule, channel, channel type, event) of the org's enabled rules of a trigger for the run's
    flow (or all flows), through their enabled channels."""
    conditions = [
        AlertRule.org_id == bindparam("org_id"),
        AlertRule.trigger == bindparam("trigger"),
        AlertRule.enabled.is_(True),
        or_(AlertRule.flow_name.is_(None), AlertRule.flow_name == bindparam("flow_name")),
        NotificationChannel.enabled.is_(True),
    ]
    if one_rule:
        conditions.append(AlertRule.id == bindparam("rule_id"))
    return (
        select(
            AlertRule.id.label("rule_id"),
            NotificationChannel.id.label("channel_id"),
            NotificationChannel.channel_type,
            cast(bindparam("trigger"), String(32)).label("event"),
        )
        .join(AlertRuleChannel, AlertRuleChannel.rule_id == AlertRule.id)
        .join(NotificationChannel, NotificationChannel.id == AlertRuleChannel.channel_id)
        .where(and_(*conditions))
    )


# The PagerDuty incidents a run's earlier deliveries opened: its success resolves each.
_OPENED_INCIDENTS = (
    select(
        AlertDelivery.rule_id,
        AlertDelivery.channel_id,
        AlertDelivery.channel_type,
        cast(literal(RESOLVE), String(32)).label("event"),
    )
    .where(
        AlertDelivery.run_id == bindparam("run_id"),
        AlertDelivery.channel_type == PAGERDUTY,
        AlertDelivery.event != RESOLVE,
    )
    .distinct()
)
MATCHING = _matching(one_rule=False)
MATCHING_ONE_RULE = _matching(one_rule=True)
MATCHING_AND_OPENED: CompoundSelect[str, str, str, str] = union_all(MATCHING, _OPENED_INCIDENTS)


def record_alert_event(
    session: Session,
    run: Run,
    trigger: AlertTrigger,
    *,
    now: datetime,
    error: Mapping[str, Any] | None = None,
    rule_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Write the deliveries of `run`'s event `trigger` for every matching rule (or only `rule_id`'s:
    an SLA is a rule's own), in the caller's transaction; answer how many were written. A row an
    earlier identical event wrote (same rule, channel and event key) is not written twice. `extra`
    joins the message's facts (an SLA's `sla_seconds`)."""
    params = {"org_id": run.org_id, "trigger": str(trigger), "flow_name": run.flow_name}
    if rule_id is not None:
        statement: Any = MATCHING_ONE_RULE
        params["rule_id"] = rule_id
    elif trigger == AlertTrigger.ON_SUCCESS:
        statement = MATCHING_AND_OPENED
        params["run_id"] = run.id
    else:
        statement = MATCHING
    with session.no_autoflush:  # a transition never flushes: its caller decides when (and tests rely on it)
        matches = session.execute(statement, params).all()
    if not matches:
        return 0
    payload = run_facts(run, trigger, now=now, error=error) | dict(extra or {})
    rows = [_delivery(run, match, payload, now) for match in matches]
    return len(insert_new(session.connection(), AlertDelivery.__table__, rows))


def _delivery(
    run: Run, match: Row[str, str, str, str], payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    rule_id, channel_id, channel_type, event = match
    key = f"{event}:{run.id}"
    if event == AlertTrigger.ON_RETRY:
        key += f":{run.retry_count}"  # each retry is an event of its own
    elif event == AlertTrigger.ON_WAITING:
        key += f":{run.attempt}"  # each wait is an event of its own (one per attempt at most)
    return {
        "id": new_id("dlv"),
        "org_id": run.org_id,
        "rule_id": rule_id,
        "channel_id": channel_id,
        "channel_type": channel_type,
        "run_id": run.id,
        "event": event,
        "event_key": key,
        "payload": payload if event != RESOLVE else {**payload, "resolves": True},
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "updated_at": now,
    }


def run_facts(
    run: Run, trigger: AlertTrigger, *, now: datetime, error: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a message says of the run, as it was when the event happened."""
    started = run.started_at
    end = run.completed_at or now
    duration = (end - started).total_seconds() if started is not None else None
    return {
        "trigger": str(trigger),
        "flow_name": run.flow_name,
        "flow_version": run.flow_version,
        "run_id": run.id,
        "run_slug": run.run_slug,
        "status": run.status,
        "attempt": run.attempt,
        "retry_count": run.retry_count,
        "duration_seconds": round(duration, 3) if duration is not None else None,
        "error": error_summary(error if error is not None else run.error),
        "occurred_at": now.isoformat(),
    }


def error_summary(error: Mapping[str, Any] | None) -> str | None:
    """`type: message` of a run's error, cut to `ERROR_SUMMARY_CHARS`."""
    if not error:
        return None
    kind, message = error.get("type"), error.get("message")
    text = ": ".join(str(part) for part in (kind, message) if part)
    return text if len(text) <= ERROR_SUMMARY_CHARS else text[: ERROR_SUMMARY_CHARS - 1] + "…"
