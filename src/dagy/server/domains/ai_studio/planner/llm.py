"""The LLM planner: a model of the session's tier, through the OpenAI (or compatible) or Anthropic
API, builds and modifies workflows by calling the `submit_workflow` tool, whose JSON Schema keeps
its answer to the allowlisted node types and their settings (prompting.py).

Each candidate goes through the validator of `POST /flows` (workflow.py); its errors are fed back
as the tool's result for up to `REPAIR_ROUNDS` repair rounds. A workflow still invalid after them
is answered with `workflow_status="invalid"` and the errors. Advisory turns are answered in
streamed text from the org's flows. Intent `auto` is resolved by the same rules as the embedded
planner (intent.py), so both planners treat a turn alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagy.server.domains.ai_studio.planner import prompting
from dagy.server.domains.ai_studio.planner.base import (
    Emit,
    PlannerUnavailable,
    PlanRequest,
    PlanResult,
    ResolvedIntent,
    Validation,
)
from dagy.server.domains.ai_studio.planner.canvas import lay_out, make_edge, node_position
from dagy.server.domains.ai_studio.planner.embedded import emit_text
from dagy.server.domains.ai_studio.planner.intent import resolve_intent
from dagy.server.domains.ai_studio.planner.providers import Provider, ProviderSettings, provider_for
from dagy.server.domains.ai_studio.planner.workflow import Workflow, flow_spec_of, render_workflow

if TYPE_CHECKING:
    from dagy.server.settings import Settings

REPAIR_ROUNDS = 2


@dataclass(frozen=True)
class Models:
    """The model of each tier: `per_tier` first, else `default`."""

    default: str
    per_tier: Mapping[str, str]

    def for_tier(self, tier: str) -> str:
        model = self.per_tier.get(tier) or self.default
        if not model:
            raise PlannerUnavailable(
                f"no model is configured for tier {tier!r} (DAGY_AI_MODELS, DAGY_AI_MODEL)"
            )
        return model


class LlmPlanner:
    def __init__(self, provider: Provider, models: Models) -> None:
        self.provider = provider
        self.models = models
        self.name = f"llm:{provider.name}"

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmPlanner:
        key = settings.ai_api_key.get_secret_value() if settings.ai_api_key else None
        provider = provider_for(
            ProviderSettings(
                provider=settings.ai_provider,
                base_url=settings.ai_base_url or None,
                api_key=key,
                timeout_seconds=settings.ai_timeout_seconds,
                max_tokens=settings.ai_max_tokens,
            )
        )
        return cls(provider, Models(settings.ai_model, dict(settings.ai_models)))

    def plan(self, request: PlanRequest, emit: Emit) -> PlanResult:
        intent = resolve_intent(request.intent, request.message, request.canvas)
        model = self.models.for_tier(request.tier)
        if intent == "advisory":
            return self._advise(request, emit, model)
        return self._draft(request, emit, model, intent)

    def _advise(self, request: PlanRequest, emit: Emit, model: str) -> PlanResult:
        emit("status", {"stage": "planning", "message": "Looking at your flows and runs."})
        messages = prompting.conversation(request, prompting.advisory_message(request))
        text = self.provider.answer(
            model=model,
            system=prompting.ADVISORY_SYSTEM,
            messages=messages,
            on_text=lambda piece: emit("token", {"text": piece}),
        )
        return PlanResult(intent="advisory", response=text.strip(), workflow_status="advisory")

    def _draft(self, request: PlanRequest, emit: Emit, model: str, intent: ResolvedIntent) -> PlanResult:
        modify = intent == "modify"
        system = prompting.BUILD_SYSTEM + ("\n" + prompting.MODIFY_RULE if modify else "")
        messages = prompting.conversation(request, prompting.workflow_message(request, modify=modify))
        chat = self.provider.workflow_chat(
            model=model, system=system, messages=messages, tool=prompting.workflow_tool()
        )
        workflow: Workflow | None = None
        problems: list[str] = []
        for round_number in range(REPAIR_ROUNDS + 1):
            stage = "planning" if round_number == 0 else "repairing"
            emit("status", {"stage": stage, "message": _STAGES[stage].format(round=round_number)})
            answer = chat.ask()
            if answer.arguments is None:
                workflow, problems = None, [answer.problem or "the model returned no workflow"]
            else:
                workflow = _checked(answer.arguments, request.canvas if modify else None, emit)
                if workflow.validation.valid:
                    return self._answer(intent, request, workflow, _reply(answer.arguments), emit)
                problems = list(workflow.validation.errors)
            if round_number < REPAIR_ROUNDS:
                chat.tell(prompting.problems_message(problems, workflow.canvas_state if workflow else {}))
        return _invalid(intent, workflow, problems, emit)

    def _answer(
        self, intent: ResolvedIntent, request: PlanRequest, workflow: Workflow, response: str, emit: Emit
    ) -> PlanResult:
        status = "generated"
        if intent == "modify":
            before = flow_spec_of(request.canvas or {}, workflow.flow_name)
            status = "unchanged" if before == workflow.flow_spec else "modified"
        text = response or ("I built the workflow." if intent == "build" else "I changed the workflow.")
        if workflow.validation.warnings:
            text += " Before you run it: " + "; ".join(workflow.validation.warnings) + "."
        emit_text(emit, text)
        return PlanResult(
            intent=intent,
            response=text,
            workflow_status=status,  # type: ignore[arg-type]  # generated, modified or unchanged
            canvas_state=workflow.canvas_state,
            pipeline_yaml=workflow.pipeline_yaml,
            pipeline_python=workflow.pipeline_python,
            validation=workflow.validation,
        )


def canvas_of(arguments: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tool's nodes and edges as a builder canvas: a node the previous canvas had (same id)
    keeps its position, the others are laid out around them."""
    positions = {
        str(node.get("id")): node["position"]
        for node in (previous or {}).get("nodes", [])
        if isinstance(node, dict) and node_position(node) is not None
    }
    nodes = []
    for item in arguments.get("nodes") or []:
        if not isinstance(item, dict):
            continue
        data = dict(item.get("data") or {}) if isinstance(item.get("data"), dict) else {}
        if item.get("label"):
            data = {"label": str(item["label"]), **data}
        node: dict[str, Any] = {"id": item.get("id"), "type": item.get("type"), "data": data}
        if str(item.get("id")) in positions:
            node["position"] = positions[str(item.get("id"))]
        nodes.append(node)
    edges = []
    for item in arguments.get("edges") or []:
        if isinstance(item, dict):
            edge = make_edge(
                str(item.get("source")), str(item.get("target")), item.get("sourceHandle") or None
            )
            edges.append(edge)
    return lay_out({"nodes": nodes, "edges": edges})


def _checked(arguments: Mapping[str, Any], previous: Mapping[str, Any] | None, emit: Emit) -> Workflow:
    """A candidate workflow laid out, rendered and validated, its canvas and verdict emitted."""
    canvas = canvas_of(arguments, previous)
    emit("canvas", {"canvas_state": canvas})
    emit("status", {"stage": "validating", "message": "Checking the workflow with the flow validator."})
    workflow = render_workflow(canvas, description=_first_sentence(_reply(arguments)), kept_from=previous)
    validation = workflow.validation
    emit(
        "validation",
        {"valid": validation.valid, "errors": validation.errors, "warnings": validation.warnings},
    )
    return workflow


def _reply(arguments: Mapping[str, Any]) -> str:
    return str(arguments.get("response") or "").strip()


def _invalid(
    intent: ResolvedIntent, workflow: Workflow | None, problems: list[str], emit: Emit
) -> PlanResult:
    listed = "; ".join(problems[:5])
    text = f"I could not make a valid workflow in {REPAIR_ROUNDS} repair rounds. The validator says: {listed}"
    emit_text(emit, text)
    return PlanResult(
        intent=intent,
        response=text,
        workflow_status="invalid",
        canvas_state=workflow.canvas_state if workflow else None,
        validation=Validation(valid=False, errors=list(problems)),
        workflow_errors=list(problems),
    )


def _first_sentence(text: str) -> str:
    return text.split(". ", maxsplit=1)[0].strip().rstrip(".") + "." if text else ""


_STAGES = {
    "planning": "Asking the model for the workflow.",
    "repairing": "The workflow did not validate; asking the model to repair it (round {round}).",
}
