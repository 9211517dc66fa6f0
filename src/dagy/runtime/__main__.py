"""`python -m dagy.runtime [--parent-pid PID]`: run one run, payload on stdin, events on stdout.

The worker starts one of these per run, so a run that crashes, leaks or hangs takes only its own
process with it, and stopping a run is stopping a process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

from dagy.runtime.events import RESULT, EventWriter, LogStream
from dagy.runtime.flow_spec import run_flow_spec

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int | None) -> None:
    """On Linux, ask the kernel to kill this process when its worker dies (even by SIGKILL), so a
    killed worker leaves no run behind that nobody reports on."""
    if sys.platform != "linux":
        return
    import ctypes  # noqa: PLC0415 - only on Linux

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the worker died before the request took effect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagy.runtime")
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent_pid)
    payload = json.loads(sys.stdin.read())
    events = EventWriter(sys.stdout)
    stream = LogStream(events)
    sys.stdout = sys.stderr = stream
    logging.basicConfig(level=logging.INFO, stream=stream, format="[%(levelname)s] %(message)s", force=True)
    try:
        result = run_flow_spec(payload, events)
    finally:
        stream.flush_partial()
    events.emit({"event": RESULT, "status": result.status, "output": result.output, "error": result.error})
    return 0


if __name__ == "__main__":
    sys.exit(main())
