"""Modify turns of the embedded planner: the request's operations applied to the current canvas.

A request is cut into operations at its clauses; each starts with its verb and runs until the next
verb ("remove the webhook and add deduplication by email before the write"):

- add / insert / include / also: new steps, where the request says ("after the validation",
  "before the write", "at the end"), else where their kind belongs (a validator after the sources,
  other steps at the end of the line of data, writes and webhooks off its end);
- remove / delete: the nodes the words refer to, their neighbours joined ("remove duplicates" or
  "drop nulls" name no node and are read as steps instead);
- replace X with Y, use Y instead of X: Y takes X's place, edges and position;
- move X before/after Y;
- anything else (change, set, use, "deduplicate by customer_id instead"): each step named whose
  kind is on the canvas reconfigures that node (only the settings the request gives), the others
  are added.

Untouched nodes keep their ids, settings and positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dagy.server.domains.ai_studio.planner import canvas_edits as edits
from dagy.server.domains.ai_studio.planner import phrases
from dagy.server.domains.ai_studio.planner.canvas import copy_canvas, lay_out
from dagy.server.domains.ai_studio.planner.drafting import INVALID_PORT, add_node, port_of
from dagy.server.domains.ai_studio.planner.endpoints import FORMAT_LABELS
from dagy.server.domains.ai_studio.planner.fields import Known
from dagy.server.domains.ai_studio.planner.references import names_a_kind, referenced
from dagy.server.domains.ai_studio.planner.step import Step
from dagy.server.domains.ai_studio.planner.vocabulary import kinds_in, steps_of

_I = re.IGNORECASE
_OPS = (
    ("replace", re.compile(r"^(?:replace|swap|substitute)\b", _I)),
    ("remove", re.compile(r"^(?:remove|delete|drop|take\s+out|get\s+rid\s+of|eliminate)\b", _I)),
    ("move", re.compile(r"^(?:move|reorder)\b", _I)),
    ("add", re.compile(r"^(?:add|insert|include|append|put|also|plus)\b", _I)),
    ("configure", re.compile(r"^(?:change|set|update|use|switch|make|modify|edit|adjust|tweak|turn)\b", _I)),
)
_DETERMINER = re.compile(r"^(?:the|a|an|its|their|this|that|these|those|both|any|all)\b", _I)
_ANCHOR = re.compile(r"\b(before|after|between)\s+(.+)$", _I)
_AT_START = re.compile(r"\bat\s+the\s+(?:start|beginning)\b|\bfirst\b", _I)
_ADD_LEAD = re.compile(
    r"^(?:add|insert|include|append|put|also|plus)\s+(?:in\s+)?(?:an?\s+|another\s+|one\s+more\s+|the\s+)?"
    r"(?:new\s+)?(?:(?:step|node|stage)\s+)?(?:(?:that|which|to|for)\s+)?",
    _I,
)
_CONFIGURABLE_LABELS = re.compile(
    r"^(?:Read .+ from S3|Write .+ to S3|Deduplicate by .+|Fetch .+|POST to .+|Validate schema"
    r"|Normalise records)$"
)
_MERGED_KEYS = ("rename",)  # settings a change adds to rather than replaces


@dataclass
class Edit:
    canvas: dict[str, Any]
    known: Known
    changes: list[str] = field(default_factory=list)  # what was done, in words, in order
    notes: list[str] = field(default_factory=list)  # guesses, as "<node id> (<label>): <note>"


def edit_canvas(canvas: dict[str, Any], message: str, known: Known) -> Edit:
    edit = Edit(copy_canvas(canvas), known)
    for operation, text in operations(message):
        _APPLY[operation](edit, text)
    lay_out(edit.canvas)
    return edit


def operations(message: str) -> list[tuple[str, str]]:
    """(operation, its words) in order. A clause without a verb of its own continues the one
    before ("remove the webhook" + "and the dedup step"), unless it names steps with a verb of its
    own after a removal or replacement ("... and deduplicate by email instead": a change)."""
    found: list[list[str]] = []
    for clause in phrases.clauses(message):
        text = phrases.without_lead_in(clause.text)
        operation = next((name for name, pattern in _OPS if pattern.match(text)), None)
        if operation is None and found and _starts_anew(found[-1][0], text):
            operation = "configure"
        if operation is not None or not found:
            found.append([operation or "configure", text])
        else:
            found[-1][1] += ", " + text
    return [(operation, text) for operation, text in found]


def _starts_anew(previous: str, text: str) -> bool:
    if previous in ("add", "configure") or _DETERMINER.match(text):
        return False
    return bool(kinds_in(text))


# --- the operations ---------------------------------------------------------------------------


def _add(edit: Edit, text: str) -> None:
    anchor = _anchor(edit, text)
    body = _AT_START.sub("", _ANCHOR.sub("", _ADD_LEAD.sub("", text))).strip() or text
    for step in steps_of(phrases.clauses(body), edit.known):
        place(edit, step, anchor)


def _remove(edit: Edit, text: str) -> None:
    words = _OPS[1][1].sub("", text)
    targets = referenced(edit.canvas, words)
    if not targets and names_a_kind(words):
        edit.notes.append(f"there is no node matching {words.strip()!r} on the canvas")
        return
    if not targets:  # "remove duplicates", "drop nulls", "drop invalid records": steps, not nodes
        _configure(edit, text)
        return
    for node_id in targets:
        if not any(n.get("id") == node_id for n in edit.canvas["nodes"]):
            continue
        label = _label(edit, node_id)
        gone = edits.remove(edit.canvas, node_id)
        extra = f" (and {', '.join(gone[1:])}, which took its invalid records)" if gone[1:] else ""
        edit.changes.append(f"removed {label} ({node_id}){extra}")


def _replace(edit: Edit, text: str) -> None:
    match = re.match(r"^(?:replace|swap|substitute)\s+(.+?)\s+(?:with|for|by)\s+(.+)$", text, _I)
    if match is None:
        _configure(edit, text)
        return
    _swap(edit, old_words=match.group(1), new_words=match.group(2))


def _swap(edit: Edit, *, old_words: str, new_words: str) -> None:
    targets = referenced(edit.canvas, old_words)
    steps = steps_of(phrases.clauses(new_words), edit.known)
    if not targets or not steps:
        edit.notes.append(f"could not tell what to replace in {old_words!r} or with what in {new_words!r}")
        return
    old_id, old_label = targets[0], _label(edit, targets[0])
    new_id = add_node(edit.canvas, steps[0])
    edits.replace(edit.canvas, old_id, new_id)
    edit.changes.append(f"replaced {old_label} ({old_id}) with {steps[0].label} ({new_id})")
    _note(edit, new_id, steps[0])
    for step in steps[1:]:
        place(edit, step, ("after", new_id))


def _move(edit: Edit, text: str) -> None:
    match = re.match(r"^(?:move|reorder)\s+(.+?)\s+(before|after)\s+(.+)$", text, _I)
    moving = referenced(edit.canvas, match.group(1)) if match else []
    anchors = referenced(edit.canvas, match.group(3)) if match else []
    anchors = [a for a in anchors if a not in moving]
    if match is None or not moving or not anchors:
        edit.notes.append(f"could not tell what to move where in {text!r}")
        return
    node_id, where = moving[0], match.group(2).lower()
    moved = dict(edits.node(edit.canvas, node_id))
    moved.pop("position", None)
    edits.remove(edit.canvas, node_id)
    edit.canvas["nodes"].append(moved)
    _attach(edit, node_id, (where, anchors[0]), sink=False)
    edit.changes.append(f"moved {_label(edit, node_id)} ({node_id}) {where} {_label(edit, anchors[0])}")


def _configure(edit: Edit, text: str) -> None:
    instead = re.match(r"^(?:use\s+)?(.+?)\s+instead\s+of\s+(.+)$", text, _I)
    if instead and referenced(edit.canvas, instead.group(2)):
        _swap(edit, old_words=instead.group(2), new_words=instead.group(1))
        return
    steps = steps_of(phrases.clauses(text), edit.known)
    if not steps and phrases.file_format(text):
        steps = _format_change(edit, text)
    for step in steps:
        target = _target_of(edit, step, text)
        if target is None:
            place(edit, step, _anchor(edit, text))
        else:
            _reconfigure(edit, target, step)


_APPLY: dict[str, Callable[[Edit, str], None]] = {
    "add": _add,
    "remove": _remove,
    "replace": _replace,
    "move": _move,
    "configure": _configure,
}


# --- placing and reconfiguring ----------------------------------------------------------------

Anchor = tuple[str, str] | None


def place(edit: Edit, step: Step, anchor: Anchor) -> None:
    """Adds a step's node where it belongs (see the module's description)."""
    if step.role == "option":
        validators = edits.of_type(edit.canvas, ["schema_validator"])
        if validators:
            for node_id in validators:
                _reconfigure(edit, node_id, step)
            return
        step.role = "main"
    node_id = add_node(edit.canvas, step)
    _attach(edit, node_id, anchor, sink=step.is_sink, role=step.role)
    where = f" {anchor[0]} {_label(edit, anchor[1])}" if anchor else ""
    edit.changes.append(f"added {step.label} ({node_id}){where}")
    _note(edit, node_id, step)


def _attach(edit: Edit, node_id: str, anchor: Anchor, *, sink: bool, role: str = "main") -> None:
    canvas, kind = edit.canvas, edits.node_type(edit.canvas, node_id)
    if kind in ("s3_ingest", "http_fetch"):
        fed = [
            str(e["target"]) for source in edits.sources_of(canvas) for e in edits.edges_out(canvas, source)
        ]
        target = fed[0] if fed else edits.first_processing(canvas)
        if target is not None and target != node_id:
            edits.connect(canvas, node_id, target)
        return
    validators = [v for v in edits.of_type(canvas, ["schema_validator"]) if v != node_id]
    if role == "invalid" and validators:
        edits.connect(canvas, validators[-1], node_id, INVALID_PORT)
        return
    writes = [w for w in edits.of_type(canvas, ["s3_write"]) if w != node_id]
    if role == "notify" and writes:
        edits.connect(canvas, writes[-1], node_id)
        return
    if anchor is not None:
        _attach_at(edit, node_id, anchor, sink=sink)
        return
    _attach_by_kind(edit, node_id, kind, sink=sink)


def _attach_at(edit: Edit, node_id: str, anchor: tuple[str, str], *, sink: bool) -> None:
    where, other = anchor
    canvas = edit.canvas
    if where == "after" and sink:
        edits.connect(canvas, other, node_id, port_of(edits.node_type(canvas, other)))
    elif where == "after":
        edits.insert_after(canvas, other, node_id)
    elif sink:  # a write "before" a node takes the same data as that node, beside it
        for edge in edits.edges_in(canvas, other):
            edits.connect(canvas, str(edge["source"]), node_id, edge.get("sourceHandle"))
    else:
        edits.insert_before(canvas, other, node_id)


def _attach_by_kind(edit: Edit, node_id: str, kind: str, *, sink: bool) -> None:
    canvas = edit.canvas
    tail = edits.main_tail({**canvas, "nodes": [n for n in canvas["nodes"] if n.get("id") != node_id]})
    if sink:
        if tail is not None:
            edits.connect(canvas, tail, node_id, port_of(edits.node_type(canvas, tail)))
        return
    first = edits.first_processing(
        {**canvas, "nodes": [n for n in canvas["nodes"] if n.get("id") != node_id]}
    )
    if kind == "schema_validator" and first is not None:
        edits.insert_before(canvas, first, node_id)
    elif tail is not None:
        edits.insert_after(canvas, tail, node_id)


def _target_of(edit: Edit, step: Step, text: str) -> str | None:
    """The node a configuring step changes: one of its kind the words refer to, else the only or
    the last one of its kind; None when the canvas has none (the step is added instead)."""
    if step.node_type == "python_function" or step.role in ("invalid", "notify"):
        return None
    same = edits.of_type(edit.canvas, [step.node_type])
    if not same:
        return None
    named = [node_id for node_id in referenced(edit.canvas, text) if node_id in same]
    return named[0] if named else same[-1]


def _reconfigure(edit: Edit, node_id: str, step: Step) -> None:
    data = edits.node(edit.canvas, node_id).setdefault("data", {})
    changed = []
    for key in sorted(step.explicit):
        value = step.data[key]
        if key in _MERGED_KEYS and isinstance(data.get(key), dict):
            value = {**data[key], **value}
        if data.get(key) != value:
            data[key] = value
            changed.append(key)
    if not changed:
        return
    if _CONFIGURABLE_LABELS.match(str(data.get("label", ""))):
        data["label"] = step.label
    edit.changes.append(f"changed {data.get('label') or node_id} ({node_id}): {', '.join(changed)}")
    _note(edit, node_id, step)


def _format_change(edit: Edit, text: str) -> list[Step]:
    """ "use parquet", "write CSV instead": the format of the write (or of the read, if it says so)."""
    file_format = phrases.file_format(text)
    reads = re.search(r"\b(?:read|input|ingest|source)\w*", text, _I)
    kind = "s3_ingest" if reads else "s3_write"
    targets = edits.of_type(edit.canvas, [kind])
    if not targets or file_format is None:
        return []
    shown = FORMAT_LABELS[file_format]
    label = f"Read {shown} from S3" if reads else f"Write {shown} to S3"
    return [Step(kind, label, {"format": file_format}, {"format"}, clause=text)]


def _anchor(edit: Edit, text: str) -> Anchor:
    match = _ANCHOR.search(text)
    if match:
        found = referenced(edit.canvas, match.group(2))
        if found:
            return (match.group(1).lower() if match.group(1).lower() != "between" else "after", found[0])
    if _AT_START.search(text):
        first = edits.first_processing(edit.canvas)
        return ("before", first) if first else None
    return None


def _label(edit: Edit, node_id: str) -> str:
    try:
        return str(edits.node(edit.canvas, node_id).get("data", {}).get("label") or node_id)
    except StopIteration:
        return node_id


def _note(edit: Edit, node_id: str, step: Step) -> None:
    edit.notes.extend(f"{node_id} ({step.label}): {note}" for note in step.notes)
