"""A message turn in the database: reserved before the planner works, answered (and charged) after,
or released when the planner failed (docs/adr/0018-ai-studio-turns.md).

`begin_turn` locks the session, replays an earlier answer to the same `turn_id` or
`X-Idempotency-Key` (409 while that one is still pending), checks the tier's turn limit (429) and
the org's credits (402), and inserts the turn as pending: the pending row is what makes a
concurrent retry a 409 and what counts against the limit. It answers the planner's request.
`finish_turn` charges the tier's credits and stores the answer (status code and body, for replays)
in one transaction; a valid build or modify turn becomes the session's canvas and artifacts.
`release_turn` removes a turn whose planner failed: nothing is charged, a retry plans anew.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import AiStudioSession, AiStudioTurn
from dagy.server.domains.ai_studio import ownership, views
from dagy.server.domains.ai_studio import repository as repo
from dagy.server.domains.ai_studio.planner.base import Attachment, FlowSummary, PlanRequest, PlanResult
from dagy.server.domains.ai_studio.schemas import TurnAnswer, TurnCreate
from dagy.server.domains.ai_studio.tiers import Tier, tier_named
from dagy.server.domains.credits import service as credits
from dagy.server.errors import Conflict, DagyError, QuotaExceeded
from dagy.server.identity import Actor

COMPLETED, INVALID = "completed", "invalid"
# A turn pending this long was left by a server that stopped mid-turn: a retry replaces it.
STALE_AFTER = timedelta(minutes=10)
HISTORY_TURNS = 20  # earlier turns the planner sees
ADVISORY_FLOWS = 25  # of the org's flows, the most recently changed, for advisory turns
WINDOW = timedelta(days=7)
MAX_ERROR_CHARS = 500
_WORKFLOW_INTENTS = ("build", "modify")
_CHANGED = ("generated", "modified")  # the statuses that make the answer the session's workflow


class InsufficientCredits(DagyError):
    """402: the org's credits do not cover the tier's price of a turn."""

    status_code = 402
    code = "insufficient_credits"


@dataclass(frozen=True)
class StoredAnswer:
    """A turn's answer as the API gives it, and gives it again to a retry."""

    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class TurnStart:
    """A reserved turn and the planner's request, or the answer of an earlier try (`replay`)."""

    session_id: str
    row_id: str | None = None
    request: PlanRequest | None = None
    replay: StoredAnswer | None = None


def begin_turn(
    session: Session, *, actor: Actor, session_id: str, data: TurnCreate, idempotency_key: str | None
) -> TurnStart:
    row = ownership.own_session(session, actor, session_id, for_update=True)
    digest = _digest(data)
    earlier = _earlier_turn(session, row.id, data, idempotency_key, digest)
    if earlier is not None:
        assert earlier.response_status is not None and earlier.response_body is not None
        return TurnStart(row.id, replay=StoredAnswer(earlier.response_status, earlier.response_body))
    ownership.check_active(row)
    tier = tier_named(row.tier)
    if repo.count_turns(session, row.id) >= tier.turns_per_session:
        raise QuotaExceeded(
            f"A session on the {tier.tier_id} tier takes at most {tier.turns_per_session} turns.",
            details={"turns": f"at most {tier.turns_per_session} per session on this tier"},
        )
    _check_balance(session, actor.org_id, tier)
    row_id = new_id("aiturn")
    repo.add(
        session,
        AiStudioTurn(
            id=row_id,
            org_id=actor.org_id,
            session_id=row.id,
            turn_id=data.turn_id or row_id,
            idempotency_key=idempotency_key,
            request_hash=digest,
            tier=tier.tier_id,
            intent=data.intent,
            status=repo.PENDING,
            message=data.message,
            credits_used=0.0,
            created_at=utcnow(),
        ),
    )
    return TurnStart(row.id, row_id=row_id, request=_plan_request(session, actor, row, data))


def finish_turn(
    session: Session, *, actor: Actor, session_id: str, row_id: str, result: PlanResult
) -> StoredAnswer:
    """Charge the turn's tier and store its answer: 422 for a build or modify turn that produced no
    valid workflow (charged all the same: the planner did the work), else 200."""
    row = ownership.own_session(session, actor, session_id, for_update=True)
    turn = repo.get_turn(session, row.id, row_id)
    if turn is None or turn.status != repo.PENDING:
        raise Conflict("The turn is no longer pending.", details={"turn_id": "not pending"})
    cost = tier_named(turn.tier).credits_per_turn
    _charge(session, actor.org_id, cost, turn)
    invalid = _is_invalid(result)
    if not invalid and result.workflow_status in _CHANGED and result.canvas_state is not None:
        row.canvas_state = result.canvas_state
        row.pipeline_yaml, row.pipeline_python = result.pipeline_yaml, result.pipeline_python
        row.validation = asdict(result.validation) if result.validation is not None else None
    now = utcnow()
    row.turn_count += 1
    row.credits_used = float(row.credits_used) + cost
    row.updated_at = now
    answer = StoredAnswer(422 if invalid else 200, _answer_body(row, result, cost))
    turn.status = INVALID if invalid else COMPLETED
    turn.intent, turn.response, turn.workflow_status = result.intent, result.response, result.workflow_status
    turn.credits_used, turn.completed_at = cost, now
    turn.response_status, turn.response_body = answer.status_code, answer.body
    session.flush()
    return answer


def release_turn(session: Session, *, actor: Actor, session_id: str, row_id: str) -> None:
    """Remove the turn if it is still pending (its planner failed); nothing was charged."""
    row = repo.get_session(session, actor.org_id, ownership.user_id_of(actor), session_id)
    turn = repo.get_turn(session, row.id, row_id) if row is not None else None
    if turn is not None and turn.status == repo.PENDING:
        repo.delete_row(session, turn)


def _earlier_turn(
    session: Session, session_id: str, data: TurnCreate, idempotency_key: str | None, digest: str
) -> AiStudioTurn | None:
    """The answered turn a retry names, None for a new turn; 409 while it is pending, or when the
    retry's message differs or its two keys name two turns."""
    found = repo.find_turns(session, session_id, turn_id=data.turn_id, idempotency_key=idempotency_key)
    if not found:
        return None
    field = "turn_id" if data.turn_id is not None else "X-Idempotency-Key"
    if len(found) > 1:
        raise Conflict(
            "turn_id and X-Idempotency-Key name two different turns.", details={field: "another turn's"}
        )
    turn = found[0]
    if turn.request_hash != digest:
        raise Conflict(
            "This turn was sent before with another message.", details={field: "used by another message"}
        )
    if turn.status != repo.PENDING:
        return turn
    if turn.created_at < utcnow() - STALE_AFTER:  # its server stopped mid-turn; this retry takes over
        repo.delete_row(session, turn)
        return None
    raise Conflict(
        "This turn is still being answered; retry shortly.",
        details={field: "in progress"},
        headers={"Retry-After": "2"},
    )


def _check_balance(session: Session, org_id: str, tier: Tier) -> None:
    """Checked before planning, so a short balance costs no planning; the charge itself, when the
    turn is answered, is the conditional update that cannot overdraw."""
    balance = repo.credits_balance(session, org_id)
    if balance < tier.credits_per_turn:
        raise _short(tier.credits_per_turn, balance)


def _charge(session: Session, org_id: str, cost: float, turn: AiStudioTurn) -> None:
    try:
        credits.charge_credits(
            session, org_id, cost, reason=f"AI Studio turn {turn.turn_id} ({turn.tier} tier)"
        )
    except credits.InsufficientCredits as exc:  # spent by another turn while this one was planned
        raise _short(cost, repo.credits_balance(session, org_id)) from exc


def _short(cost: float, balance: float) -> InsufficientCredits:
    return InsufficientCredits(
        f"A turn costs {cost:g} credits; the organization has {balance:g}.",
        details={"credits": f"{cost:g} needed, {balance:g} available"},
    )


def _is_invalid(result: PlanResult) -> bool:
    if result.intent not in _WORKFLOW_INTENTS:
        return False
    return result.workflow_status == "invalid" or (
        result.validation is not None and not result.validation.valid
    )


def _answer_body(row: AiStudioSession, result: PlanResult, cost: float) -> dict[str, Any]:
    """The reference's answer. A turn that produced a workflow shows it (valid or not); one that
    did not (advisory) shows the session's current workflow."""
    produced = result.canvas_state is not None
    validation = asdict(result.validation) if result.validation is not None else None
    answer = TurnAnswer.model_validate(
        {
            "session": views.session_summary(row),
            "response": result.response,
            "canvas_state": result.canvas_state if produced else row.canvas_state,
            "pipeline_yaml": result.pipeline_yaml if produced else row.pipeline_yaml,
            "pipeline_python": result.pipeline_python if produced else row.pipeline_python,
            "credits_used": cost,
            "workflow_status": result.workflow_status,
            "workflow_errors": result.workflow_errors,
            "validation": validation if produced or validation is not None else row.validation,
            "research_sources": [
                {"title": source.get("title", ""), "url": source.get("url", "")}
                for source in result.research_sources
            ],
        }
    )
    return answer.model_dump(mode="json")


def _digest(data: TurnCreate) -> str:
    return hashlib.sha256(json.dumps([data.message, data.intent]).encode()).hexdigest()


def _plan_request(session: Session, actor: Actor, row: AiStudioSession, data: TurnCreate) -> PlanRequest:
    """What the planner sees: the message, the canvas, the parsed attachments (data, never
    instructions), the recent history and, for a turn that may be advisory, the org's flows."""
    attachments = [
        Attachment(
            attachment_id=a.id,
            filename=a.filename,
            kind=a.kind,
            text=a.text or "",
            schema=a.inferred_schema,
            samples=list(a.samples or []),
        )
        for a in repo.list_attachments(session, row.id)
        if a.status == repo.READY
    ]
    history = []
    for turn in repo.recent_answered_turns(session, row.id, HISTORY_TURNS):
        history += [
            {"role": "user", "content": turn.message},
            {"role": "assistant", "content": turn.response or ""},
        ]
    now = utcnow()
    flows = _flow_summaries(session, actor.org_id, now) if data.intent in ("auto", "advisory") else []
    return PlanRequest(
        message=data.message,
        intent=data.intent,
        tier=row.tier,
        canvas=copy.deepcopy(row.canvas_state),
        attachments=attachments,
        history=history,
        flows=flows,
        now=now,
    )


def _flow_summaries(session: Session, org_id: str, now: datetime) -> list[FlowSummary]:
    flows = repo.recent_flows(session, org_id, ADVISORY_FLOWS)
    if not flows:
        return []
    specs = repo.latest_specs(session, org_id, [flow.id for flow in flows])
    counts = repo.run_counts(session, org_id, [flow.name for flow in flows], now - WINDOW)
    summaries = []
    for flow in flows:
        runs, failed = counts.get(flow.name, (0, 0))
        last = repo.last_run(session, org_id, flow.name)
        failure = repo.last_failure(session, org_id, flow.name) if failed else None
        summaries.append(
            FlowSummary(
                flow_name=flow.name,
                latest_version=flow.latest_version or "",
                node_types=_node_types(specs.get(flow.id)),
                runs_last_7d=runs,
                failed_last_7d=failed,
                last_run_status=last.status if last is not None else None,
                last_run_at=last.created_at if last is not None else None,
                last_error=str((failure or {}).get("message") or "")[:MAX_ERROR_CHARS] or None,
            )
        )
    return summaries


def _node_types(spec: dict[str, Any] | None) -> list[str]:
    nodes = (spec or {}).get("nodes")
    if not isinstance(nodes, list):
        return []  # a code flow: its tasks are not known before it runs
    types = (node.get("type") for node in nodes if isinstance(node, dict))
    return list(dict.fromkeys(t for t in types if isinstance(t, str)))
