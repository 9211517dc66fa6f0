"""A step of a plain-language request: one node to be, as the embedded planner reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# How a step is wired: `main` continues the line of data, `invalid` takes a validator's invalid
# records, `notify` follows the last write, `option` is settings for the validator, not a node.
Role = Literal["main", "invalid", "notify", "option"]
SOURCES = ("s3_ingest", "http_fetch")
SINKS = ("s3_write", "webhook_post")


@dataclass
class Step:
    """`explicit` names the keys of `data` the request actually gave (a modify turn changes only
    those on an existing node); `notes` say what was guessed."""

    node_type: str
    label: str
    data: dict[str, Any]
    explicit: set[str] = field(default_factory=set)
    role: Role = "main"
    notes: list[str] = field(default_factory=list)
    clause: str = ""
    at: int = 0  # where in its clause the request names it (steps of one clause go in this order)

    @property
    def is_source(self) -> bool:
        return self.node_type in SOURCES

    @property
    def is_sink(self) -> bool:
        return self.node_type in SINKS
