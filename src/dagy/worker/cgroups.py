"""Kernel-enforced memory limits: a cgroup per run, where the host lets the worker make one.

The execution mode's memory limit is on resident size. Where the worker may create child cgroups
under its own, each run's process is moved into a cgroup of its own before it receives its payload
(so before any user code runs; what it forks stays inside), with the limit as `memory.max`
(cgroup v2, when the memory controller is enabled for the worker's children) or
`memory.limit_in_bytes` (cgroup v1's memory controller). The kernel then stops the run at the
limit however fast it allocates, and the cgroup's OOM-kill count tells the supervisor why the
process died. The supervisor's RSS sampling (watchdog.py) stays on as well: it is all there is on
hosts without such cgroups (most unprivileged containers), and its message names the size seen.

Everything here is best effort: a cgroup that cannot be made or joined leaves the run to the
sampler, never fails it.
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
        """Whether the kernel killed a process of the run at the limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            lines = (self.path / name).read_text().splitlines()
        except OSError:
            return False
        counts = dict(line.split(maxsplit=1) for line in lines if " " in line)
        return int(counts.get("oom_kill", "0")) > 0

    def remove(self) -> None:
        """Remove the cgroup once the run's processes are gone (best effort)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


@dataclass(frozen=True)
class MemoryCgroups:
    """Where this worker makes its runs' cgroups: a folder of its own under its cgroup."""

    parent: Path
    version: int

    def limit(self, name: str, pid: int, limit_bytes: int) -> RunCgroup | None:
        """A cgroup `name` limited to `limit_bytes`, with `pid` moved into it; None when the host
        refused any step."""
        path = self.parent / name
        limit_file = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        try:
            path.mkdir()
        except OSError as exc:
            log.debug("no memory cgroup for %s: %s", name, exc)
            return None
        cgroup = RunCgroup(path, self.version)
        try:
            (path / limit_file).write_text(str(limit_bytes))
            if self.version == 2:
                with contextlib.suppress(OSError):  # no swap controller: nothing to turn off
                    (path / "memory.swap.max").write_text("0")
            (path / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            log.debug("no memory cgroup for %s: %s", name, exc)
            cgroup.remove()
            return None
        return cgroup


@cache
def memory_cgroups() -> MemoryCgroups | None:
    """This worker's runs' cgroup folder, made on first use; None when the host allows none."""
    found = _v2_parent() or _v1_parent()
    if found is None:
        return None
    base, version = found
    _remove_stale(base)
    parent = base / f"{_PREFIX}{os.getpid()}"
    try:
        parent.mkdir(exist_ok=True)
        if version == 2:
            (parent / "cgroup.subtree_control").write_text("+memory")
    except OSError as exc:
        log.info("runs' memory limits are sampled only: cannot make cgroups under %s (%s)", base, exc)
        return None
    atexit.register(_remove, parent)
    return MemoryCgroups(parent, version)


def _v2_parent() -> tuple[Path, int] | None:
    """The worker's own cgroup v2 folder, when its children may use the memory controller."""
    mount = _mount_point("cgroup2", None)
    own = _own_cgroup(lambda controllers: controllers == "")
    if mount is None or own is None:
        return None
    folder = mount / own.lstrip("/")
    try:
        enabled = (folder / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return (folder, 2) if "memory" in enabled else None


def _v1_parent() -> tuple[Path, int] | None:
    """The worker's own folder in cgroup v1's memory hierarchy."""
    mount = _mount_point("cgroup", "memory")
    own = _own_cgroup(lambda controllers: "memory" in controllers.split(","))
    if mount is None or own is None:
        return None
    folder = mount / own.lstrip("/")
    return (folder, 1) if (folder / "memory.limit_in_bytes").exists() else None


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
