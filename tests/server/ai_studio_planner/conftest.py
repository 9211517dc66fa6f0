"""What the planner tests share: the request corpus, turns built from it, and a recorder of the
events a planner emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dagy.server.domains.ai_studio.planner.base import Attachment, FlowSummary, PlanRequest

CORPUS_PATH = Path(__file__).with_name("corpus.yaml")


def load_corpus() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(CORPUS_PATH.read_text())
    return entries


CORPUS = load_corpus()


def corpus_entry(entry_id: str) -> dict[str, Any]:
    return next(entry for entry in CORPUS if entry["id"] == entry_id)


def attachments_of(entry: dict[str, Any]) -> list[Attachment]:
    return [
        Attachment(
            attachment_id=f"att_{i}",
            filename=item["filename"],
            kind=item["kind"],
            text=item.get("text", ""),
            schema=item.get("schema"),
            samples=item.get("samples", []),
        )
        for i, item in enumerate(entry.get("attachments", []))
    ]


def turn(
    message: str,
    *,
    intent: str = "auto",
    canvas: dict[str, Any] | None = None,
    attachments: list[Attachment] | None = None,
    flows: list[FlowSummary] | None = None,
    tier: str = "standard",
    history: list[dict[str, str]] | None = None,
    **extra: Any,
) -> PlanRequest:
    return PlanRequest(
        message=message,
        intent=intent,  # type: ignore[arg-type]
        tier=tier,
        canvas=canvas,
        attachments=attachments or [],
        history=history or [],
        flows=flows or [],
        **extra,
    )


@dataclass
class Recorder:
    """An `emit` that keeps every event, in order."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event]

    @property
    def text(self) -> str:
        return "".join(data["text"] for data in self.of("token"))


def expected_edges(entry: dict[str, Any]) -> set[tuple[int, int, str | None]]:
    """The corpus entry's edges as (source index, target index, port)."""
    nodes = entry["nodes"]
    if entry["edges"] == "chain":
        return {
            (i, i + 1, "data_out" if nodes[i] == "schema_validator" else None) for i in range(len(nodes) - 1)
        }
    found = set()
    for text in entry["edges"]:
        ends, _, port = text.partition(":")
        source, target = (int(part) for part in ends.split(">"))
        found.add((source, target, port or None))
    return found


def canvas_edges(canvas: dict[str, Any]) -> set[tuple[int, int, str | None]]:
    index = {node["id"]: i for i, node in enumerate(canvas["nodes"])}
    return {(index[e["source"]], index[e["target"]], e.get("sourceHandle")) for e in canvas["edges"]}


def subset_problems(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where `actual` lacks or differs from what `expected` names (dicts compared key by key)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems.extend(subset_problems(value, actual[key], f"{where}.{key}"))
        return problems
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]
