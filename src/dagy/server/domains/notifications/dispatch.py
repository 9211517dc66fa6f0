"""The outbox's other side: taking due deliveries, sending them, recording each attempt; a rule's
test; the SLA check. Called by the background loops of `dagy.server.services.alerts`.

A dispatcher takes due rows in a short transaction (`SKIP LOCKED` on PostgreSQL) and moves their
`next_attempt_at` past the time a send may take (a lease): a dispatcher that dies mid-send leaves
rows that another takes again once the lease passes. Sends happen outside any transaction, in a
thread pool; outcomes are written in one more short transaction. Nothing lives only in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.engine import Database
from dagy.server.db.models import AlertDelivery, NotificationChannel, Run
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.notifications import repository as repo
from dagy.server.domains.notifications import service
from dagy.server.domains.notifications.schemas import AlertRuleTested, ChannelTestResult
from dagy.server.domains.notifications.sending import DeliveryFailed, Message, run_link, send
from dagy.server.domains.secrets.crypto import EncryptionKeyError
from dagy.server.identity import Actor
from dagy.server.orchestration import AlertTrigger, record_alert_event
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.alerts")

SLA_BATCH = 500


@dataclass(frozen=True)
class Outbound:
    """A delivery taken for sending: everything the send needs, credentials in clear."""

    delivery_id: str
    channel_type: str
    config: dict[str, Any] | None  # None: the channel cannot be used (disabled, key missing)
    refusal: str | None
    message: Message
    attempts: int


def dispatch_once(db: Database, settings: Settings, pool: ThreadPoolExecutor) -> int:
    """Take one batch of due deliveries, send them, record the outcomes; answer how many."""
    with db.transaction(write=True) as session:
        batch = take_due(session, settings=settings)
    if not batch:
        return 0
    outcomes = list(pool.map(lambda item: _attempt(item, settings), batch))
    with db.transaction(write=True) as session:
        record_attempts(session, batch, outcomes, settings=settings, now=utcnow())
    return len(batch)


def take_due(session: Session, *, settings: Settings, now: datetime | None = None) -> list[Outbound]:
    """Due deliveries (at most a batch), each attempt counted and leased now."""
    now = now or utcnow()
    rows = repo.lock_due(session, now=now, limit=settings.alerts.batch_size)
    if not rows:
        return []
    lease = timedelta(seconds=_lease_seconds(settings))
    channels = repo.channels_of(session, {row.channel_id for row in rows})
    configs: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
    batch: list[Outbound] = []
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
        channel = channels[row.channel_id]
        if channel.id not in configs:
            configs[channel.id] = _usable_config(session, channel, settings)
        config, refusal = configs[channel.id]
        batch.append(
            Outbound(row.id, row.channel_type, config, refusal, _message(row, settings), row.attempts)
        )
    session.flush()
    return batch


def _lease_seconds(settings: Settings) -> float:
    """Longer than one send may take (a timeout per hop, redirects, an SMTP exchange)."""
    return max(60.0, settings.alerts.timeout_seconds * 6)


def _usable_config(
    session: Session, channel: NotificationChannel, settings: Settings
) -> tuple[dict[str, Any] | None, str | None]:
    if not channel.enabled:
        return None, "the channel is disabled"
    try:
        return service.channel_config(session, channel, settings), None
    except EncryptionKeyError as exc:
        return None, f"the channel's config cannot be decrypted: {exc}"


def _message(row: AlertDelivery, settings: Settings) -> Message:
    run_id = str(row.payload.get("run_id") or row.run_id)
    return Message(event=row.event, facts=row.payload, link=run_link(settings, run_id), delivery_id=row.id)


def _attempt(item: Outbound, settings: Settings) -> DeliveryFailed | None:
    """None when delivered, else why not. Never raises: one bad channel does not stop a batch."""
    if item.config is None:
        return DeliveryFailed(item.refusal or "the channel cannot be used", permanent=True)
    try:
        send(item.channel_type, item.config, item.message, settings)
    except DeliveryFailed as failed:
        return failed
    except Exception as exc:  # a bug or an unexpected library error: recorded, retried
        log.exception("alert delivery %s failed unexpectedly", item.delivery_id)
        return DeliveryFailed(f"{type(exc).__name__}: {exc}")
    return None


def record_attempts(
    session: Session,
    batch: Sequence[Outbound],
    outcomes: Sequence[DeliveryFailed | None],
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """Sent, due again after the backoff, or failed after the last attempt (or a permanent refusal)."""
    delays = settings.alerts.retry_delays_seconds
    rows: list[dict[str, Any]] = []
    for item, failure in zip(batch, outcomes, strict=True):
        if failure is None:
            rows.append(_outcome(item.delivery_id, repo.SENT, now, None, sent_at=now))
        elif failure.permanent or item.attempts > len(delays):
            rows.append(_outcome(item.delivery_id, repo.FAILED, now, str(failure)))
        else:
            due = now + timedelta(seconds=delays[item.attempts - 1])
            rows.append(_outcome(item.delivery_id, repo.PENDING, due, str(failure), updated_at=now))
    repo.record_outcomes(session, rows)


def _outcome(
    delivery_id: str,
    status: str,
    next_attempt_at: datetime,
    error: str | None,
    *,
    sent_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "status": status,
        "next_attempt_at": next_attempt_at,
        "last_error": error,
        "sent_at": sent_at,
        "updated_at": updated_at or next_attempt_at,
    }


# --- A rule's test ---------------------------------------------------------------------------


def test_rule(db: Database, *, actor: Actor, rule_id: str, settings: Settings) -> AlertRuleTested:
    """Send a test message to every channel of the rule, now, outside the outbox (no retries);
    answer each channel's outcome. The sends happen between two short transactions."""
    with db.transaction(write=False) as session:
        channels = service.rule_channels(session, actor=actor, rule_id=rule_id)
        targets = [(channel, *_usable_config(session, channel, settings)) for channel in channels]
    results: list[ChannelTestResult] = []
    for channel, config, refusal in targets:
        failure = _attempt(
            Outbound(new_id("dlv"), channel.channel_type, config, refusal, _test_message(actor, settings), 1),
            settings,
        )
        results.append(
            ChannelTestResult(
                channel_id=channel.id,
                name=channel.name,
                channel_type=channel.channel_type,
                delivered=failure is None,
                error=str(failure) if failure is not None else None,
            )
        )
    delivered = sum(result.delivered for result in results)
    with db.transaction(write=True) as session:
        record(
            session,
            actor=actor,
            action=Action.EXECUTE,
            resource_type="alert_rule",
            resource_id=rule_id,
            changes={"test": [None, f"{delivered}/{len(results)} delivered"]},
        )
    status = "sent" if delivered == len(results) and results else ("partial" if delivered else "failed")
    plural = "" if delivered == 1 else "s"
    message = f"Test notification sent to {delivered} channel{plural}"
    if delivered < len(results):
        message += f"; {len(results) - delivered} of {len(results)} failed"
    return AlertRuleTested(status=status, message=message, channels=results)


def _test_message(actor: Actor, settings: Settings) -> Message:
    now = utcnow()
    facts = {
        "trigger": "test",
        "flow_name": "(test)",
        "flow_version": "-",
        "run_id": "run_test",
        "run_slug": "test",
        "status": "test",
        "attempt": 0,
        "retry_count": 0,
        "duration_seconds": None,
        "error": None,
        "occurred_at": now.isoformat(),
        "requested_by": actor.email,
    }
    return Message(event="test", facts=facts, link=run_link(settings, "run_test"), delivery_id=new_id("dlv"))


# --- SLA -------------------------------------------------------------------------------------


def check_slas(session: Session, *, now: datetime | None = None) -> int:
    """For every enabled on_sla_breach rule, the queued or running runs of its org (and flow)
    created more than `sla_seconds` ago get the rule's deliveries, once per run and rule (the
    outbox's unique event key says so across concurrent checkers). Answer how many runs breached."""
    now = now or utcnow()
    breached = 0
    for rule in repo.sla_rules(session):
        assert rule.sla_seconds is not None
        deadline = now - timedelta(seconds=rule.sla_seconds)
        runs: list[Run] = repo.runs_past_sla(session, rule, created_before=deadline, limit=SLA_BATCH)
        for run in runs:
            record_alert_event(
                session,
                run,
                AlertTrigger.ON_SLA_BREACH,
                now=now,
                rule_id=rule.id,
                extra={"sla_seconds": rule.sla_seconds},
            )
        breached += len(runs)
    return breached
