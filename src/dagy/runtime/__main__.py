"""`python -m dagy.runtime [--parent-pid PID]`: run one run, payload on stdin, events on stdout.

Each run has a process of its own, so a run that crashes, leaks or hangs takes only its own
process with it, and stopping a run is stopping a process. A worker forks these processes from a
template (`--template --control-fd FD`, see template.py) that has the runtime imported already;
a fresh `python -m dagy.runtime` runs the same `run_one`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any, NoReturn

from pydantic import ValidationError

import dagy.secrets
from dagy.protocol import RunPayload
from dagy.protocol.models import problems
from dagy.runtime.events import RESULT, EventWriter, LogStream
from dagy.runtime.flow_spec import run_flow_spec
from dagy.runtime.redaction import Redactor
from dagy.runtime.sandbox import Boundary, enter
from dagy.runtime.scope import RunResult, declared_secrets

_PR_SET_PDEATHSIG = 1
# HTTP clients that log each request at INFO: the object store's, the LLM providers' SDKs'; the
# Dask client of a run whose nodes execute on a cluster (its connection's comings and goings).
PLUMBING_LOGGERS = ("httpx", "httpcore", "urllib3", "botocore", "openai", "anthropic", "distributed")


def die_with_parent(parent_pid: int | None) -> None:
    """On Linux, ask the kernel to kill this process when its worker dies (even by SIGKILL), so a
    killed worker leaves no run behind that nobody reports on."""
    if sys.platform != "linux":
        return
    import ctypes  # noqa: PLC0415 - only on Linux

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # A parent outside this process's PID namespace shows as 0 (an isolated run's process forked
    # as its namespace's init): it cannot be told apart, the request stands.
    if parent_pid is not None and os.getppid() not in (parent_pid, 0):
        os._exit(1)  # the worker died before the request took effect


def execute(payload: RunPayload, events: EventWriter) -> RunResult:
    """A code flow (an artifact to call) or a flow spec (nodes to walk)."""
    claim = payload.claim
    dagy.secrets.serve_run_secrets(declared_secrets(claim), flow_name=claim.flow_name)
    if payload.artifact_path:
        from dagy.runtime.code_flow import run_code_flow  # noqa: PLC0415 - only code flows need it

        result: RunResult = run_code_flow(payload, events)
        return result
    return run_flow_spec(payload, events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagy.runtime")
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--template", action="store_true", help="serve forks of this process")
    parser.add_argument("--control-fd", type=int, default=None, help="the template's control socket")
    parser.add_argument(
        "--boundary", default=None, help="the run's isolation boundary (JSON, see sandbox.py)"
    )
    parser.add_argument(
        "--warm", action="append", default=[], help="the template imports this extra too (dask)"
    )
    args = parser.parse_args(argv)
    if args.template:
        if args.control_fd is None:
            parser.error("--template needs --control-fd")
        from dagy.runtime.template import serve  # noqa: PLC0415 - only the template serves

        return serve(args.control_fd, args.parent_pid, tuple(args.warm))
    die_with_parent(args.parent_pid)
    return run_one(Boundary.from_json(args.boundary) if args.boundary else None)


def run_one(boundary: Boundary | None = None) -> int:
    """Enter the run's isolation boundary, read the payload on stdin, run it, write the events on
    stdout; end the process."""
    if boundary is not None:
        _enter_or_fail(boundary)
    real_stdout = sys.stdout
    try:
        payload = RunPayload.model_validate_json(sys.stdin.read())
    except ValidationError as exc:
        message = f"The worker sent an invalid run payload: {problems(exc)}"
        _fail({"type": "invalid_payload", "message": message})
    # The deployment environment's variables are the process's too, as a program would expect.
    os.environ.update(payload.claim.env)
    events = EventWriter(
        real_stdout, redactor=Redactor(payload.credentials()), log_max_bytes=payload.log_max_bytes
    )
    stream = LogStream(events)
    sys.stdout = sys.stderr = stream
    logging.basicConfig(level=logging.INFO, stream=stream, format="[%(levelname)s] %(message)s", force=True)
    for plumbing in PLUMBING_LOGGERS:  # their request lines are not the run's story; their warnings are
        logging.getLogger(plumbing).setLevel(logging.WARNING)
    try:
        result = execute(payload, events)
    finally:
        stream.flush_partial()
    output, error = events.redact.value(result.output), events.redact.error(result.error)
    outcome = {"event": RESULT, "status": result.status, "output": output, "error": error}
    if result.waiting_for is not None:
        outcome["waiting_for"] = events.redact.value(result.waiting_for)
    events.emit(outcome)
    real_stdout.flush()
    # Threads a node timeout abandoned may still be running: the run is over, they end with it.
    os._exit(0)


def _enter_or_fail(boundary: Boundary) -> None:
    """Enter the boundary before the payload is read; a run that cannot be isolated fails
    (reported as its result) instead of running unisolated."""
    try:
        enter(boundary)
    except BaseException as exc:
        message = f"The run could not enter its isolation boundary: {type(exc).__name__}: {exc}"
        _fail({"type": "isolation", "message": message})


def _fail(error: dict[str, Any]) -> NoReturn:
    """End the process with a failed result before the run began."""
    EventWriter(sys.stdout).emit({"event": RESULT, "status": "failed", "output": None, "error": error})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
