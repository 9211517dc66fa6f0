"""Executes one run (a flow spec or a code flow); used by workers and local runs."""

from dagy.runtime.events import LOG, NODE, RESULT, EventWriter, LogStream, parse_event
from dagy.runtime.flow_spec import run_flow_spec
from dagy.runtime.graph import FlowGraph, sinks, topological_order, upstream_of
from dagy.runtime.limits import EXECUTION_MODE_LIMITS, limits_for
from dagy.runtime.redaction import Redactor
from dagy.runtime.scope import RunResult, RunScope

__all__ = [
    "EXECUTION_MODE_LIMITS",
    "LOG",
    "NODE",
    "RESULT",
    "EventWriter",
    "FlowGraph",
    "LogStream",
    "Redactor",
    "RunResult",
    "RunScope",
    "limits_for",
    "parse_event",
    "run_flow_spec",
    "sinks",
    "topological_order",
    "upstream_of",
]
