"""The execution mode's limits on a run's process: wall time and resident memory.

Memory is the resident size of the run's process tree, sampled every `memory_poll_seconds` with
psutil; past the limit the process group is killed at once. Where the host allows it the run is
also in a memory cgroup of its own (cgroups.py), which lets the kernel enforce the limit exactly;
sampling works everywhere.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class Breach:
    kind: str  # timeout | memory
    message: str


def tree_rss(pid: int, *, own_uid: bool = False) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone). With `own_uid` (an
    isolated run, whose code runs under a uid of its own) the processes still running as the
    worker's uid (the boundary's own: forks of the template that allocate nothing) are not
    counted: their pages are the run's."""
    import psutil  # noqa: PLC0415 - a worker dependency (the `worker` extra), not the SDK's

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    if own_uid:
        worker = os.geteuid()
        processes = [p for p in processes if _uid(p) not in (worker, None)]
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue  # ended between listing and reading
    return total


def _uid(process: Any) -> int | None:
    import psutil  # noqa: PLC0415 - as above

    try:
        return int(process.uids().real)
    except psutil.Error:  # ended between listing and reading
        return None


async def watch(
    pid: int, limits: Mapping[str, float], *, poll_seconds: float, own_uid: bool = False
) -> Breach:
    """Return when the run's process passes one of its limits (cancel the task when it ends)."""
    timeout = float(limits.get("timeout_seconds") or 0)
    memory_mb = float(limits.get("memory_mb") or 0)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return Breach(
                "timeout", f"The run exceeded its execution mode's wall time of {timeout:g} seconds."
            )
        if memory_mb > 0:
            rss = tree_rss(pid, own_uid=own_uid)  # a few system calls: quick enough for the event loop
            if rss > memory_mb * MB:
                return Breach(
                    "memory",
                    f"The run used {rss / MB:.0f} MB of memory, over its execution mode's {memory_mb:g} MB.",
                )
        await asyncio.sleep(poll_seconds)
