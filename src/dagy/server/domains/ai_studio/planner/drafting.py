"""Steps wired into a canvas, for a build turn.

The steps form a line of data, in the order the request names them: each step takes the output of
the step before it. Sources start the line (several sources at its start, or a source named later,
all feed the next step: its input is their outputs combined). Writes and webhooks take the line's
data without ending it, so a step named after a write still gets the records. A step fed by a
validator takes its valid records (`sourceHandle: data_out`); a write or webhook of invalid
records takes the other port (`invalid_out`); a notification follows the last write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagy.server.domains.ai_studio.planner.canvas import (
    empty_canvas,
    lay_out,
    make_edge,
    new_node_id,
    node_ids,
)
from dagy.server.domains.ai_studio.planner.step import Step

VALID_PORT = "data_out"
INVALID_PORT = "invalid_out"


@dataclass
class _Line:
    """Where the next step attaches: the nodes feeding it, the latest validator and write."""

    tip: list[str] = field(default_factory=list)
    validators: set[str] = field(default_factory=set)
    last_validator: str | None = None
    last_sink: str | None = None


@dataclass
class Draft:
    canvas: dict[str, Any]
    notes: list[str]  # guesses, as "<node id> (<label>): <note>"
    placed: list[Step]  # the steps that became nodes, in order


def draft_canvas(steps: list[Step]) -> Draft:
    canvas = empty_canvas()
    line = _Line()
    notes: list[str] = []
    placed: list[Step] = []
    for step in steps:
        if step.role == "option" and _configure_validator(canvas, line, step):
            continue
        node_id = add_node(canvas, step)
        for source, handle in _feeders(step, line):
            canvas["edges"].append(make_edge(source, node_id, handle))
        _advance(line, step, node_id)
        notes.extend(f"{node_id} ({step.label}): {note}" for note in step.notes)
        placed.append(step)
    return Draft(lay_out(canvas), notes, placed)


def add_node(canvas: dict[str, Any], step: Step) -> str:
    """Appends the step's node (no position yet) and answers its id."""
    node_id = new_node_id(step.node_type, node_ids(canvas))
    canvas["nodes"].append(
        {"id": node_id, "type": step.node_type, "data": {"label": step.label, **step.data}}
    )
    return node_id


def port_of(node_type: str) -> str | None:
    """The port a node's data leaves by on the main line (a validator's valid records)."""
    return VALID_PORT if node_type == "schema_validator" else None


def _configure_validator(canvas: dict[str, Any], line: _Line, step: Step) -> bool:
    """Applies a validator setting ("drop invalid records") to the latest validator, if any."""
    if line.last_validator is None:
        step.role = "main"
        return False
    node = next(n for n in canvas["nodes"] if n["id"] == line.last_validator)
    node["data"].update({key: step.data[key] for key in step.explicit if key != "schema"})
    return True


def _feeders(step: Step, line: _Line) -> list[tuple[str, str | None]]:
    if step.is_source:
        return []
    if step.role == "invalid" and line.last_validator is not None:
        return [(line.last_validator, INVALID_PORT)]
    if step.role == "notify" and line.last_sink is not None:
        return [(line.last_sink, None)]
    return [(node_id, VALID_PORT if node_id in line.validators else None) for node_id in line.tip]


def _advance(line: _Line, step: Step, node_id: str) -> None:
    if step.is_source:
        line.tip.append(node_id)
    elif step.is_sink:
        line.last_sink = node_id
    else:
        line.tip = [node_id]
        if step.node_type == "schema_validator":
            line.validators.add(node_id)
            line.last_validator = node_id
