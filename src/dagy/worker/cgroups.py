"""Kernel-enforced memory and process-count limits: cgroups per run, where the host lets the
worker make them.

The execution mode's memory limit is on resident size. Where the worker may create child cgroups
under its own, each run's process is moved into a cgroup of its own before it receives its payload
(so before any user code runs; what it forks stays inside), with the limit as `memory.max`
(cgroup v2, when the memory controller is enabled for the worker's children) or
`memory.limit_in_bytes` (cgroup v1's memory controller). The kernel then stops the run at the
limit however fast it allocates, and the cgroup's OOM-kill count tells the supervisor why the
process died. The supervisor's RSS sampling (watchdog.py) is the limit of a run without a memory
cgroup (hosts without such cgroups: most unprivileged containers), and its message names the size
seen; a run with one is left to the kernel (a sum of resident sizes counts the pages processes
share once per process).

The run's count of processes and threads is limited the same way with the pids controller
(`pids.max`), whose `pids.events` tells that a fork failed at the limit; the run's boundary also
sets `RLIMIT_NPROC` for its own uid (sandbox.py), which works without cgroups.

Everything here is best effort: a cgroup that cannot be made or joined leaves the run to the
sampler and the rlimit, never fails it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger("dagy.worker")

_PREFIX = "dagy-worker-"  # + the worker's pid: the folder of one worker process's runs


@dataclass(frozen=True)
class RunCgroup:
    """One run's cgroup."""

    path: Path
    version: int

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run at the memory limit."""
        return self._count("memory.events" if self.version == 2 else "memory.oom_control", "oom_kill") > 0

    def pids_limit_hit(self) -> bool:
        """Whether a fork or a new thread of the run failed at the pids limit."""
        return self._count("pids.events", "max") > 0

    def _count(self, name: str, key: str) -> int:
        try:
            lines = (self.path / name).read_text().splitlines()
        except OSError:
            return 0
        counts = dict(line.split(maxsplit=1) for line in lines if " " in line)
        return int(counts.get(key, "0"))

    def remove(self) -> None:
        """Remove the cgroup once the run's processes are gone (best effort)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


@dataclass(frozen=True)
class ControllerCgroups:
    """Where this worker makes its runs' cgroups of one controller: a folder of its own under its
    cgroup (cgroup v2: the one hierarchy; v1: the controller's)."""

    parent: Path
    version: int
    controller: str  # memory | pids

    def limit(self, name: str, pid: int, limit: int) -> RunCgroup | None:
        """A cgroup `name` limited to `limit` (bytes of memory, or processes and threads), with
        `pid` moved into it; None when the host refused any step."""
        path = self.parent / name
        limit_file = {
            ("memory", 2): "memory.max",
            ("memory", 1): "memory.limit_in_bytes",
        }.get((self.controller, self.version), "pids.max")
        try:
            path.mkdir(exist_ok=self.version == 2)  # v2: memory and pids share the run's folder
        except OSError as exc:
            log.debug("no %s cgroup for %s: %s", self.controller, name, exc)
            return None
        cgroup = RunCgroup(path, self.version)
        try:
            (path / limit_file).write_text(str(limit))
            if self.controller == "memory" and self.version == 2:
                with contextlib.suppress(OSError):  # no swap controller: nothing to turn off
                    (path / "memory.swap.max").write_text("0")
            (path / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            log.debug("no %s cgroup for %s: %s", self.controller, name, exc)
            cgroup.remove()
            return None
        return cgroup


def memory_cgroups() -> ControllerCgroups | None:
    """This worker's runs' memory cgroup folder, made on first use; None when the host allows none."""
    return controller_cgroups("memory")


def pids_cgroups() -> ControllerCgroups | None:
    """This worker's runs' pids cgroup folder, made on first use; None when the host allows none."""
    return controller_cgroups("pids")


@cache
def controller_cgroups(controller: str) -> ControllerCgroups | None:
    found = _v2_parent(controller) or _v1_parent(controller)
    if found is None:
        return None
    base, version = found
    _remove_stale(base)
    parent = base / f"{_PREFIX}{os.getpid()}"
    try:
        parent.mkdir(exist_ok=True)
        if version == 2:
            (parent / "cgroup.subtree_control").write_text(f"+{controller}")
    except OSError as exc:
        log.info("runs get no %s cgroups: cannot make cgroups under %s (%s)", controller, base, exc)
        return None
    atexit.register(_remove, parent)
    return ControllerCgroups(parent, version, controller)


def _v2_parent(controller: str) -> tuple[Path, int] | None:
    """The worker's own cgroup v2 folder, when its children may use the controller."""
    mount = _mount_point("cgroup2", None)
    own = _own_cgroup(lambda controllers: controllers == "")
    if mount is None or own is None:
        return None
    folder = mount / own.lstrip("/")
    try:
        enabled = (folder / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return (folder, 2) if controller in enabled else None


def _v1_parent(controller: str) -> tuple[Path, int] | None:
    """The worker's own folder in cgroup v1's hierarchy of the controller."""
    mount = _mount_point("cgroup", controller)
    own = _own_cgroup(lambda controllers: controller in controllers.split(","))
    if mount is None or own is None:
        return None
    folder = mount / own.lstrip("/")
    probe = "memory.limit_in_bytes" if controller == "memory" else "cgroup.procs"
    return (folder, 1) if (folder / probe).exists() else None


def _mount_point(fstype: str, option: str | None) -> Path | None:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] == fstype and (option is None or option in fields[3].split(",")):
            return Path(fields[1])
    return None


def _own_cgroup(matches: Callable[[str], bool]) -> str | None:
    """This process's cgroup path in the hierarchy whose controllers `matches` accepts."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if matches(controllers):
            return path
    return None


def _remove_stale(base: Path) -> None:
    """The folders of workers that ended without removing theirs (killed): empty once their runs'
    processes are gone."""
    with contextlib.suppress(OSError):
        for folder in base.glob(f"{_PREFIX}*"):
            pid = folder.name.removeprefix(_PREFIX)
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _remove(folder)


def _remove(parent: Path) -> None:
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            if child.is_dir():
                child.rmdir()
        parent.rmdir()
