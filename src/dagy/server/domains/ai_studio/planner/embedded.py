"""The embedded planner: deterministic, offline, no API key.

Build turns read the request into steps of the allowlisted vocabulary (vocabulary.py) and wire them
into a canvas (drafting.py); modify turns apply the request's operations to the current canvas
(editing.py); advisory turns answer from the org's flows (advisory.py). Every workflow goes through
the validator of `POST /flows` (workflow.py). Attachments contribute data only: the record schema
and fields of data files. Their text is never read as instructions.
"""

from __future__ import annotations

import re

from dagy.server.domains.ai_studio.planner import phrases
from dagy.server.domains.ai_studio.planner.advisory import CAPABILITIES, advise
from dagy.server.domains.ai_studio.planner.base import Emit, PlanRequest, PlanResult, Validation
from dagy.server.domains.ai_studio.planner.canvas import copy_canvas, lay_out, topological_ids
from dagy.server.domains.ai_studio.planner.drafting import draft_canvas
from dagy.server.domains.ai_studio.planner.editing import edit_canvas
from dagy.server.domains.ai_studio.planner.fields import Known
from dagy.server.domains.ai_studio.planner.intent import resolve_intent
from dagy.server.domains.ai_studio.planner.vocabulary import steps_of
from dagy.server.domains.ai_studio.planner.workflow import Workflow, render_workflow

TOKEN_WORDS = 4  # words per `token` event
MAX_LISTED_PROBLEMS = 5


class EmbeddedPlanner:
    name = "embedded"

    def plan(self, request: PlanRequest, emit: Emit) -> PlanResult:
        intent = resolve_intent(request.intent, request.message, request.canvas)
        emit("status", {"stage": "planning", "message": _STAGE_MESSAGES[intent]})
        if intent == "advisory":
            result = PlanResult(intent="advisory", response=advise(request), workflow_status="advisory")
        elif intent == "build":
            result = self._build(request, emit)
        else:
            result = self._modify(request, emit)
        emit_text(emit, result.response)
        return result

    def _build(self, request: PlanRequest, emit: Emit) -> PlanResult:
        known = Known.of(request.attachments)
        draft = draft_canvas(steps_of(phrases.clauses(request.message), known))
        emit("canvas", {"canvas_state": draft.canvas})
        workflow = _checked(draft.canvas, draft.notes, emit)
        if not draft.placed:
            return _invalid("build", workflow, _NOTHING_FOUND)
        if not workflow.validation.valid:
            return _invalid("build", workflow, "I could not build a valid workflow from this request.")
        steps = _steps_line(workflow)
        response = f"I built a {len(draft.placed)}-step workflow: {steps}. It passes validation."
        return _result("build", "generated", workflow, response + _source_note(known) + _to_check(workflow))

    def _modify(self, request: PlanRequest, emit: Emit) -> PlanResult:
        canvas = copy_canvas(request.canvas)
        edit = edit_canvas(canvas, request.message, Known.of(request.attachments, canvas))
        if not edit.changes:
            workflow = render_workflow(lay_out(canvas), description=_summary(canvas), kept_from=canvas)
            noted = "; ".join(edit.notes)
            response = (
                f"{noted[:1].upper()}{noted[1:]}, so the workflow is unchanged." if noted else _NO_CHANGE
            )
            return _result("modify", "unchanged", workflow, response)
        emit("canvas", {"canvas_state": edit.canvas})
        workflow = _checked(edit.canvas, edit.notes, emit, kept_from=canvas)
        done = "; ".join(edit.changes)
        if not workflow.validation.valid:
            return _invalid("modify", workflow, f"After these changes ({done}) the workflow is not valid.")
        response = (
            f"I changed the workflow: {done}. It now runs {_steps_line(workflow)} and passes validation."
        )
        return _result("modify", "modified", workflow, response + _to_check(workflow))


def emit_text(emit: Emit, text: str) -> None:
    """The response as `token` events of a few words each, in order."""
    words = re.findall(r"\S+\s*", text)
    for start in range(0, len(words), TOKEN_WORDS):
        emit("token", {"text": "".join(words[start : start + TOKEN_WORDS])})


def _checked(
    canvas: dict[str, object], notes: list[str], emit: Emit, *, kept_from: dict[str, object] | None = None
) -> Workflow:
    emit("status", {"stage": "validating", "message": "Checking the workflow with the flow validator."})
    workflow = render_workflow(canvas, description=_summary(canvas), kept_from=kept_from)
    if workflow.validation.valid:
        workflow.validation.warnings[:0] = notes
    validation = workflow.validation
    emit(
        "validation",
        {"valid": validation.valid, "errors": validation.errors, "warnings": validation.warnings},
    )
    return workflow


def _result(intent: str, status: str, workflow: Workflow, response: str) -> PlanResult:
    return PlanResult(
        intent=intent,  # type: ignore[arg-type]  # "build" or "modify"
        response=response,
        workflow_status=status,  # type: ignore[arg-type]  # "generated", "modified" or "unchanged"
        canvas_state=workflow.canvas_state,
        pipeline_yaml=workflow.pipeline_yaml,
        pipeline_python=workflow.pipeline_python,
        validation=workflow.validation,
    )


def _invalid(intent: str, workflow: Workflow, opening: str) -> PlanResult:
    errors = workflow.validation.errors
    listed = "; ".join(errors[:MAX_LISTED_PROBLEMS]) + ("; ..." if len(errors) > MAX_LISTED_PROBLEMS else "")
    return PlanResult(
        intent=intent,  # type: ignore[arg-type]  # "build" or "modify"
        response=f"{opening} The validator says: {listed}",
        workflow_status="invalid",
        canvas_state=workflow.canvas_state,
        validation=Validation(valid=False, errors=list(errors), warnings=list(workflow.validation.warnings)),
        workflow_errors=list(errors),
    )


def _labels_in_order(canvas: dict[str, object]) -> list[str]:
    nodes = {str(n["id"]): n for n in canvas.get("nodes", [])}  # type: ignore[attr-defined]
    return [
        str((nodes[node_id].get("data") or {}).get("label") or nodes[node_id].get("type"))
        for node_id in topological_ids(canvas)
        if node_id in nodes
    ]


def _steps_line(workflow: Workflow) -> str:
    return " → ".join(_labels_in_order(workflow.canvas_state))


def _summary(canvas: dict[str, object]) -> str:
    """The steps as one sentence: "Read JSON from S3, validate schema and write JSON to S3."."""
    labels = _labels_in_order(canvas)
    labels = labels[:1] + [_lowered(label) for label in labels[1:]]
    return (", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else "".join(labels)) + "."


def _lowered(label: str) -> str:
    """A label inside a sentence: "Validate schema" -> "validate schema"; "POST to ..." stays."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _source_note(known: Known) -> str:
    if not known.schema:
        return ""
    return f" The record schema ({len(known.fields)} fields) comes from your attached data file."


def _to_check(workflow: Workflow) -> str:
    warnings = workflow.validation.warnings
    if not warnings:
        return ""
    return " Before you run it: " + "; ".join(warnings) + "."


_STAGE_MESSAGES = {
    "build": "Reading the request into workflow steps.",
    "modify": "Working out the changes to the current workflow.",
    "advisory": "Looking at your flows and runs.",
}
_NOTHING_FOUND = (
    "I did not find a step I know in this request. I can "
    + CAPABILITIES
    + ". Name the steps in order, with the S3 locations and URLs."
)
_NO_CHANGE = (
    "I did not find a change to make in this request, so the workflow is unchanged. I can add a step "
    '("add deduplication by email before the write"), remove one ("remove the webhook"), replace one '
    '("replace the python step with a POST to https://example.com/hook") or change a setting '
    '("deduplicate by customer_id instead", "write parquet").'
)
