"""Executes one run (a flow spec today, code flows later); used by workers and local runs."""

from dagy.runtime.events import LOG, NODE, RESULT, EventWriter, LogStream, parse_event
from dagy.runtime.flow_spec import RunResult, run_flow_spec
from dagy.runtime.graph import sinks, topological_order, upstream_of

__all__ = [
    "LOG",
    "NODE",
    "RESULT",
    "EventWriter",
    "LogStream",
    "RunResult",
    "parse_event",
    "run_flow_spec",
    "sinks",
    "topological_order",
    "upstream_of",
]
