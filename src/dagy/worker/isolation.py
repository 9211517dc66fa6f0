"""How strongly this host isolates runs, measured once at start, and each run's boundary.

`DAGY_ISOLATION` asks for a level:
- `strict`: the full boundary (dagy/runtime/sandbox.py: own root, mount, PID, IPC and UTS
  namespaces, own unprivileged uid, no capabilities, no_new_privs, seccomp, process limit) or the
  worker refuses to start;
- `best`: the strongest boundary the host offers, with a warning naming what is missing;
- `off`: runs see the host as the worker does (single-user installations only).

What the host offers is measured, not guessed: `establish()` enters a boundary for real in a probe
process (`python -m dagy.runtime.sandbox`) and falls back step by step. The result is logged at
start and shown by `GET /v1/health/detailed`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal

import dagy
from dagy.runtime.sandbox import SYSTEM_PATHS, Boundary

log = logging.getLogger("dagy.worker")

LEVELS = ("strict", "best", "off")  # what DAGY_ISOLATION asks for
Level = Literal["strict", "partial", "off"]  # what a worker gets
# Runs' uids are RUN_UID_BASE + the pid of the run's process: unprivileged, unique among the runs
# alive on a host, outside the ranges distributions give to users and subordinate ids.
RUN_UID_BASE = 0x60000000
RUN_GID = 0x60000000  # the group of every run: the org's shared folders are writable by it
PROBE_SECONDS = 30.0
# What the full boundary consists of, in the words the level report uses.
FULL = ("filesystem", "pid_namespace", "own_uid", "no_new_privs", "seccomp", "process_limit")


class IsolationUnavailable(RuntimeError):
    """`strict` was asked for and the host cannot give the full boundary."""


@dataclass(frozen=True)
class Isolation:
    requested: str
    level: Level  # strict (the full boundary) | partial | off
    features: tuple[str, ...]  # what runs get (FULL's words)
    template: Boundary | None  # the boundary of every run, but for its scratch and folders
    reason: str = ""  # why the level is below strict

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(feature for feature in FULL if feature not in self.features)

    def describe(self) -> dict[str, object]:
        return {
            "requested": self.requested,
            "level": self.level,
            "features": list(self.features),
            "missing": list(self.missing),
            **({"reason": self.reason} if self.reason else {}),
        }

    def boundary(
        self,
        scratch: str,
        *,
        read_only: tuple[str, ...] = (),
        writable: tuple[str, ...] = (),
        max_processes: int,
    ) -> Boundary | None:
        if self.template is None:
            return None
        return replace(
            self.template,
            scratch=scratch,
            read_only=self.template.read_only + read_only,
            writable=writable,
            max_processes=max_processes,
        )


def system_paths() -> tuple[str, ...]:
    """The system folders runs read, and where `/etc` links out of them (a resolv.conf kept under
    /run by systemd-resolved, say)."""
    linked = {os.path.realpath(f"/etc/{name}") for name in ("resolv.conf", "hosts", "localtime")}
    outside = sorted(path for path in linked if not any(path.startswith(f"{p}/") for p in SYSTEM_PATHS))
    return (*SYSTEM_PATHS, *(path for path in outside if os.path.exists(path)))


def interpreter_paths() -> tuple[str, ...]:
    """What a run's Python needs to read: its prefixes, site-packages and Dagy's own package."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    user_site = site.getusersitepackages()
    if site.ENABLE_USER_SITE and os.path.isdir(user_site):
        paths.add(user_site)
    paths.add(str(Path(dagy.__file__).resolve().parent.parent))  # an editable install's source folder
    real = {os.path.realpath(path) for path in paths} | paths
    return tuple(sorted(path for path in real if os.path.isdir(path)))


def establish(requested: str, *, hidden: tuple[str, ...], python: str = sys.executable) -> Isolation:
    """The isolation this host gives runs for `requested` (strict | best | off); IsolationUnavailable
    when strict cannot be had."""
    if requested not in LEVELS:
        raise ValueError(f"DAGY_ISOLATION must be one of {', '.join(LEVELS)}, not {requested!r}")
    if requested == "off":
        return Isolation(
            requested, "off", (), None, "DAGY_ISOLATION=off: runs see the host as the worker does"
        )
    full = _full_template(hidden)
    problem = _probe(python, full)
    if problem is None:
        return Isolation(requested, "strict", FULL, full)
    if requested == "strict":
        raise IsolationUnavailable(
            f"DAGY_ISOLATION=strict, but this host cannot isolate runs: {problem}. Run the worker as "
            "root (or where user namespaces are allowed) with libseccomp installed, or set "
            "DAGY_ISOLATION=best to run with what the host offers."
        )
    for features, template in _weaker_templates(full):
        if _probe(python, template) is None:
            return Isolation(requested, "partial", features, template, problem)
    return Isolation(requested, "partial", (), None, problem)


def _full_template(hidden: tuple[str, ...]) -> Boundary:
    return Boundary(
        scratch="",
        root=_root_folder(),
        read_only=(*system_paths(), *interpreter_paths()),
        hidden=hidden,
        namespaces=True,
        uid_base=RUN_UID_BASE if os.geteuid() == 0 else None,
        gid=RUN_GID if os.geteuid() == 0 else None,
        seccomp=True,
    )


def _weaker_templates(full: Boundary) -> list[tuple[tuple[str, ...], Boundary]]:
    """What `best` tries after the full boundary, strongest first."""
    no_namespaces = replace(full, namespaces=False)
    return [
        (("own_uid", "no_new_privs", "seccomp", "process_limit"), no_namespaces),
        (("own_uid", "no_new_privs", "process_limit"), replace(no_namespaces, seccomp=False)),
        (("no_new_privs", "seccomp", "process_limit"), replace(no_namespaces, uid_base=None, gid=None)),
        (("no_new_privs", "process_limit"), replace(no_namespaces, uid_base=None, gid=None, seccomp=False)),
    ]


@cache
def _root_folder() -> str:
    """An empty folder each run mounts its own root on (in its own mount namespace); one per
    worker process, removed at exit."""
    folder = tempfile.mkdtemp(prefix="dagy-sandbox-root-")
    atexit.register(_remove_folder, folder)
    return folder


def _remove_folder(folder: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(folder)


_probed: dict[tuple[str, str], str | None] = {}


def _probe(python: str, template: Boundary) -> str | None:
    """None when a process could enter `template`'s boundary, else why not. Probed once per kind of
    boundary and interpreter in a process (tests start many workers)."""
    if sys.platform != "linux":
        return "run isolation needs Linux"
    if template.uid_base is None and template.namespaces:
        return "the worker is not root (unprivileged user namespaces are not used)"
    key = (python, replace(template, hidden=()).to_json())
    if key not in _probed:
        scratch = tempfile.mkdtemp(prefix="dagy-probe-")
        try:
            _probed[key] = _run_probe(python, replace(template, scratch=scratch, hidden=(), max_processes=64))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _probed[key]


def _run_probe(python: str, boundary: Boundary) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [python, "-m", "dagy.runtime.sandbox", boundary.to_json()],
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        report = json.loads(lines[-1]) if lines else {}
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return f"the probe failed: {exc}"
    if report.get("ok"):
        return None
    return str(report.get("error") or done.stderr.strip()[-500:] or "the probe ended without a report")


def default_level(*, serves_many_orgs: bool, loopback_only: bool) -> str:
    """`strict` wherever runs of several orgs may meet (or the API is reachable from outside);
    `best` for a single-user installation on loopback."""
    return "best" if loopback_only and not serves_many_orgs else "strict"


def log_level(isolation: Isolation, who: str) -> None:
    if isolation.level == "strict":
        log.info("%s: run isolation strict (%s)", who, ", ".join(isolation.features))
    elif isolation.level == "off":
        log.warning("%s: run isolation OFF: runs can read this host's files and environment", who)
    else:
        log.warning(
            "%s: run isolation partial: runs lack %s (%s)",
            who,
            ", ".join(isolation.missing),
            isolation.reason,
        )
