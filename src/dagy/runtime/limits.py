"""What each execution mode lets a run use: resident memory, wall time, processes and threads.

One table, read by the server (it fills a claimed run's `limits`) and by workers (a claim without
limits falls back to it). A worker host may tighten or loosen a mode for its own runs
(`DAGY_EXECUTION_MODE_LIMITS`, `dagy worker --mode-limits`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# max_processes: the run's processes and threads together (an isolated run's RLIMIT_NPROC and pids
# cgroup, see dagy/runtime/sandbox.py): a fork bomb fails the run instead of the host.
EXECUTION_MODE_LIMITS: dict[str, dict[str, int]] = {
    "nano": {"memory_mb": 256, "timeout_seconds": 60, "max_processes": 256},
    "micro": {"memory_mb": 512, "timeout_seconds": 300, "max_processes": 512},
    "small": {"memory_mb": 1024, "timeout_seconds": 900, "max_processes": 1024},
    "medium": {"memory_mb": 2048, "timeout_seconds": 3600, "max_processes": 2048},
    "large": {"memory_mb": 4096, "timeout_seconds": 4 * 3600, "max_processes": 4096},
    "xlarge": {"memory_mb": 8192, "timeout_seconds": 24 * 3600, "max_processes": 8192},
}
DEFAULT_MODE = "nano"
LIMIT_KEYS = ("memory_mb", "timeout_seconds", "max_processes")


def limits_for(mode: str, overrides: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, float]:
    """The mode's limits (an unknown mode gets the smallest), with `overrides[mode]` on top."""
    limits: dict[str, float] = dict(EXECUTION_MODE_LIMITS.get(mode, EXECUTION_MODE_LIMITS[DEFAULT_MODE]))
    limits.update({k: v for k, v in (overrides or {}).get(mode, {}).items() if k in LIMIT_KEYS})
    return limits


def parse_mode_limits(text: str) -> dict[str, dict[str, float]]:
    """`{"nano": {"memory_mb": 128, "timeout_seconds": 5, "max_processes": 64}}` as JSON; a partial
    entry keeps the rest."""
    value: Any = json.loads(text) if text.strip() else {}
    problems = mode_limits_problems(value)
    if problems:
        raise ValueError(problems)
    return value  # type: ignore[no-any-return]


def mode_limits_problems(value: Any) -> str | None:
    """Why `value` is not a valid overrides table, or None."""
    if not isinstance(value, dict):
        return "must be an object of execution mode -> limits"
    for mode, limits in value.items():
        if mode not in EXECUTION_MODE_LIMITS:
            return f"{mode!r} is not an execution mode ({', '.join(EXECUTION_MODE_LIMITS)})"
        if not isinstance(limits, dict) or set(limits) - set(LIMIT_KEYS):
            return f"{mode}: an object with {' and/or '.join(LIMIT_KEYS)}"
        for key, number in limits.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
                return f"{mode}.{key} must be a positive number"
    return None
