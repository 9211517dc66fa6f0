"""Advisory turns of the embedded planner: questions about the org's flows and runs, and about the
canvas, answered from what the turn carries (`PlanRequest.flows`, the canvas). Nothing is made up:
a question the figures cannot answer is answered with what they do say, and how to find out more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from dagy.server.domains.ai_studio.planner.base import ALLOWED_NODE_TYPES, FlowSummary, PlanRequest
from dagy.server.domains.ai_studio.planner.canvas import topological_ids
from dagy.server.domains.ai_studio.planner.workflow import render_workflow

_I = re.IGNORECASE
MAX_LISTED = 10
_HINTS = {
    "s3_ingest": "S3 reads fail on a wrong bucket or prefix, or on credentials the worker lacks",
    "s3_write": "S3 writes fail on a missing bucket, credentials without write access, or overwrite=false",
    "http_fetch": "HTTP fetches fail on timeouts, non-2xx answers, or addresses the SSRF guard refuses",
    "schema_validator": "a schema validator with on_invalid=fail fails the run on the first invalid record",
    "data_normalizer": "the normalizer fails when two fields get one name or a date field holds a non-date",
    "deduplicator": "the deduplicator needs records (a list of objects) and its key fields",
    "python_function": "python steps fail with the exception their code raised (see the run's log)",
    "webhook_post": "webhooks fail when the receiver answers non-2xx or does not answer in time",
}
CAPABILITIES = (
    "read files from S3 (s3_ingest), call an HTTP API (http_fetch), validate records against a JSON "
    "Schema (schema_validator), normalise them: renames, key case, trimming, ISO dates "
    "(data_normalizer), deduplicate them by key fields (deduplicator), run your own Python "
    "(python_function), POST to a webhook or Slack (webhook_post) and write to S3 (s3_write)"
)


def advise(request: PlanRequest) -> str:
    """The answer to an advisory turn."""
    now = request.now or datetime.now(UTC)
    message = request.message
    named = [flow for flow in request.flows if flow.flow_name.lower() in message.lower()]
    for question, answer in _ANSWERS:
        if question.search(message):
            return answer(request, named, now)
    if named:
        return " ".join(_describe_flow(flow, now) for flow in named[:MAX_LISTED])
    return _overview(request, named, now)


def _canvas_answer(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    canvas = request.canvas or {}
    if not canvas.get("nodes"):
        return "The canvas is empty. Describe a workflow and I will build it: for example, " + _example()
    workflow = render_workflow(canvas, kept_from=canvas)
    labels = {str(n["id"]): str((n.get("data") or {}).get("label") or n.get("type")) for n in canvas["nodes"]}
    steps = " → ".join(labels[node_id] for node_id in topological_ids(canvas) if node_id in labels)
    verdict = (
        "It passes validation."
        if workflow.validation.valid
        else "It does not pass validation: " + "; ".join(workflow.validation.errors[:5]) + "."
    )
    warnings = (
        f" To check: {'; '.join(workflow.validation.warnings[:5])}." if workflow.validation.warnings else ""
    )
    return f"The workflow has {len(labels)} steps: {steps}. {verdict}{warnings}"


def _capabilities(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    return (
        f"I build workflows from these node types: {', '.join(ALLOWED_NODE_TYPES)}. I can {CAPABILITIES}. "
        "Describe the steps in plain words, for example: " + _example()
    )


def _how_to(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    return (
        'Ask me in plain words and I change the workflow on the canvas: for example "add deduplication '
        'by email before the write", "post invalid records to https://example.com/hook", "remove the '
        'webhook", "replace the python step with a Slack notification" or "write parquet instead". '
        f"I can {CAPABILITIES}."
    )


def _failures(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    flows = named or request.flows
    failing = [f for f in flows if f.failed_last_7d or f.last_run_status == "failed"]
    if not request.flows:
        return "Your org has no flows yet, so no runs have failed."
    if not failing:
        scope = ", ".join(f.flow_name for f in named) if named else "any of your flows"
        return f"No run of {scope} failed in the last 7 days."
    failing.sort(key=lambda f: (-f.failed_last_7d, f.flow_name))
    parts = [_failure_line(flow) for flow in failing[:MAX_LISTED]]
    more = f" ({len(failing) - MAX_LISTED} more not shown)" if len(failing) > MAX_LISTED else ""
    return (
        f"{len(failing)} flow{'s' if len(failing) != 1 else ''} had failures{more}. "
        + " ".join(parts)
        + " Open a failed run (Runs, filtered by status failed) for its log and the failing node's error."
    )


def _failure_line(flow: FlowSummary) -> str:
    line = (
        f"{flow.flow_name} (version {flow.latest_version}): {flow.failed_last_7d} of {flow.runs_last_7d} "
        f"runs failed in the last 7 days, latest run {flow.last_run_status or 'unknown'}."
    )
    if flow.last_error:
        line += f" Its latest failure said: {flow.last_error[:300]}"
        line += "" if line.endswith(".") else "."
    hints = [_HINTS[t] for t in dict.fromkeys(flow.node_types) if t in _HINTS]
    if hints and not flow.last_error:
        line += " Likely causes for its steps: " + "; ".join(hints[:3]) + "."
    return line


def _ran_when(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    flows = named or request.flows
    if not flows:
        return "Your org has no flows yet."
    day = _asked_day(request.message, now)
    if day is None or not any(flow.last_run_at for flow in flows):
        ran = sorted((f for f in flows if f.runs_last_7d), key=lambda f: -f.runs_last_7d)
        if not ran:
            return "None of your flows ran in the last 7 days."
        listed = ", ".join(f"{f.flow_name} ({f.runs_last_7d} runs)" for f in ran[:MAX_LISTED])
        return f"In the last 7 days, {len(ran)} flow{'s' if len(ran) != 1 else ''} ran: {listed}."
    return _ran_on(flows, day, now)


def _ran_on(flows: list[FlowSummary], day: date, now: datetime) -> str:
    on_day = [f.flow_name for f in flows if f.last_run_at and f.last_run_at.astimezone(UTC).date() == day]
    later = [f.flow_name for f in flows if f.last_run_at and f.last_run_at.astimezone(UTC).date() > day]
    when = (
        "today" if day == now.date() else "yesterday" if day == now.date() - timedelta(days=1) else str(day)
    )
    answer = (
        f"Flows whose latest run was {when} ({day.isoformat()}, UTC): {', '.join(on_day)}."
        if on_day
        else f"No flow's latest run was {when} ({day.isoformat()}, UTC)."
    )
    if later:
        answer += f" These ran since, so they may have run {when} too: {', '.join(later[:MAX_LISTED])}."
    return answer + " The Runs page filtered by date lists every run."


def _asked_day(message: str, now: datetime) -> date | None:
    today = now.astimezone(UTC).date()
    if re.search(r"\byesterday\b", message, _I):
        return today - timedelta(days=1)
    if re.search(r"\btoday\b", message, _I):
        return today
    return None


def _count(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    flows = request.flows
    runs = sum(f.runs_last_7d for f in flows)
    failed = sum(f.failed_last_7d for f in flows)
    return (
        f"Your org has {len(flows)} flow{'s' if len(flows) != 1 else ''}; "
        f"they ran {runs} times in the last 7 days, {failed} of them failed."
    )


def _uses(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    wanted = [t for t in ALLOWED_NODE_TYPES if t.split("_")[0] in request.message.lower()]
    if not wanted:
        return _overview(request, named, now)
    using = [f.flow_name for f in request.flows if set(wanted) & set(f.node_types)]
    what = " or ".join(wanted)
    if not using:
        return f"None of your flows uses {what}."
    return f"{len(using)} flow{'s' if len(using) != 1 else ''} use {what}: {', '.join(using[:MAX_LISTED])}."


def _overview(request: PlanRequest, named: list[FlowSummary], now: datetime) -> str:
    if not request.flows:
        return "Your org has no flows yet. " + _capabilities(request, named, now)
    lines = [_describe_flow(flow, now) for flow in request.flows[:MAX_LISTED]]
    more = f" ({len(request.flows) - MAX_LISTED} more not shown.)" if len(request.flows) > MAX_LISTED else ""
    return _count(request, named, now) + " " + " ".join(lines) + more


def _describe_flow(flow: FlowSummary, now: datetime) -> str:
    steps = ", ".join(dict.fromkeys(flow.node_types)) or "code (@flow/@task)"
    last = f", latest run {flow.last_run_status}" if flow.last_run_status else ", no runs yet"
    if flow.last_run_at:
        last += f" at {flow.last_run_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M')} UTC"
    return (
        f"{flow.flow_name} (version {flow.latest_version}; {steps}): {flow.runs_last_7d} runs in 7 days, "
        f"{flow.failed_last_7d} failed{last}."
    )


def _example() -> str:
    return (
        '"Read JSON from s3://acme-raw/orders/, validate that each record has id, email and amount, '
        'normalise it, deduplicate by email and write it to s3://acme-clean/orders/."'
    )


Answer = Callable[[PlanRequest, list[FlowSummary], datetime], str]
# The first question pattern a message matches picks the answer.
_ANSWERS: list[tuple[re.Pattern[str], Answer]] = [
    (re.compile(r"^\s*how\s+(?:do|can|should|would)\s+(?:i|we)\b", _I), _how_to),
    (
        re.compile(r"\b(?:this|the\s+current|my\s+current|the)\s+(?:workflow|canvas|draft)\b", _I),
        _canvas_answer,
    ),
    (
        re.compile(r"\bwhat\s+can\s+you\b|\b(?:which|what)\s+(?:nodes?|node\s+types|steps)\b", _I),
        _capabilities,
    ),
    (re.compile(r"\bfail\w*|\berrors?\b|\bbroken\b|\bwent\s+wrong\b|\bcrash\w*", _I), _failures),
    (re.compile(r"\b(?:ran|run|runs|running|executed)\b", _I), _ran_when),
    (re.compile(r"\bhow\s+many\s+flows\b|\bcount\b", _I), _count),
    (re.compile(r"\b(?:use|uses|using)\b", _I), _uses),
]
