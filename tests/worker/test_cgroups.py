"""Per-run memory cgroups (dagy/worker/cgroups.py) on hosts that allow them: the kernel stops a
process at the limit however fast it allocates, and the cgroup says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dagy.worker.cgroups import memory_cgroups
from dagy.worker.watchdog import MB
from tests.factories import unique

ALLOCATE = "import sys; sys.stdin.read(); blob = b'x' * ({mb} * 2**20); print(len(blob))"


def run_in_cgroup(allocate_mb: int, limit_mb: int) -> tuple[int, bool, bool]:
    """A Python process that waits for its go, joins a cgroup limited to `limit_mb`, then allocates
    `allocate_mb` at once: (its return code, whether the cgroup saw an OOM kill, whether the cgroup
    is gone after `remove`)."""
    cgroups = memory_cgroups()
    if cgroups is None:
        pytest.skip("this host lets the worker make no memory cgroups: runs are sampled only")
    process = subprocess.Popen(
        [sys.executable, "-c", ALLOCATE.format(mb=allocate_mb)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    cgroup = cgroups.limit(unique("run"), process.pid, limit_mb * MB)
    assert cgroup is not None
    process.communicate(b"go", timeout=60)
    killed = cgroup.oom_killed()
    cgroup.remove()
    return process.returncode, killed, not cgroup.path.exists()


def test_the_kernel_stops_a_run_at_its_cgroup_limit() -> None:
    returncode, killed, removed = run_in_cgroup(allocate_mb=300, limit_mb=64)
    assert (returncode, killed, removed) == (-9, True, True)


def test_a_run_under_its_limit_is_left_alone() -> None:
    returncode, killed, removed = run_in_cgroup(allocate_mb=16, limit_mb=256)
    assert (returncode, killed, removed) == (0, False, True)
