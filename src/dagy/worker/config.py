"""A worker's settings: where the server is, what it runs, how many at once."""

from __future__ import annotations

import os
import re
import secrets
import socket
import sys
from dataclasses import dataclass, field


def default_worker_id() -> str:
    """Host, process and a random tail: unique across restarts, readable in the run's logs."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass
class WorkerConfig:
    url: str
    token: str
    executor: str = "local"
    concurrency: int = 4
    worker_id: str = field(default_factory=default_worker_id)
    claim_wait_seconds: float = 25.0
    stop_grace_seconds: float = 10.0  # SIGTERM to SIGKILL when a run is cancelled
    drain_seconds: float = 30.0  # on shutdown, how long running runs may finish before they are stopped
    log_flush_seconds: float = 0.5
    log_batch_lines: int = 500
    python: str = sys.executable
