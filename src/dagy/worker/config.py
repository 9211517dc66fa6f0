"""A worker's settings: where the server is, what it runs, how many at once, what runs may use."""

from __future__ import annotations

import os
import re
import secrets
import socket
import sys
from dataclasses import dataclass, field

from dagy.protocol import HostSettings
from dagy.protocol.payload import DEFAULT_LOG_MAX_BYTES, DEFAULT_MAX_PARALLEL_NODES
from dagy.tracing import Tracing


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
    stop_grace_seconds: float = 2.0  # SIGTERM to SIGKILL when a run is cancelled or out of time
    drain_seconds: float = 30.0  # on shutdown, how long running runs may finish before they are stopped
    log_flush_seconds: float = 0.5
    log_batch_lines: int = 500
    python: str = sys.executable
    max_parallel_nodes: int = DEFAULT_MAX_PARALLEL_NODES  # nodes of one run executing at once
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES  # a run's log past this is cut with one marker line
    # What nodes may do on this host (SSRF guard, SMTP, vector store), in each run's payload.
    host_settings: HostSettings = field(default_factory=HostSettings)
    # DAGY_ISOLATION: strict | best | off (isolation.py).
    isolation: str = "best"
    # Paths runs must never see even where they lie inside a folder runs may read (DAGY_HOME, keys,
    # the database): isolation.py hides them.
    private_paths: tuple[str, ...] = ()
    # Dagy's object store folder (the embedded worker's DAGY_HOME/objects); None: runs have none.
    objects_dir: str | None = None
    # execution mode -> {"memory_mb", "timeout_seconds"}: this host's limits, over the claim's.
    mode_limits: dict[str, dict[str, float]] = field(default_factory=dict)
    memory_poll_seconds: float = 0.25
    # Each run in memory and pids cgroups of its own where the host allows it (cgroups.py); False:
    # memory sampling and the boundary's RLIMIT_NPROC only.
    memory_cgroups: bool = True
    # Fork run processes from a template process that has the runtime imported (Linux); off: start
    # `python -m dagy.runtime` for each run.
    template_process: bool = True
    # DAGY_TRACING=otlp: the spans of its runs' attempts and nodes (dagy/tracing.py); None: off.
    tracing: Tracing | None = None
    # DAGY_DASK_ADDRESS: the Dask scheduler its runs' nodes execute on (`dagy worker --dask-address`);
    # it reaches each run in its payload's host settings.
    dask_address: str | None = None

    def __post_init__(self) -> None:
        if self.dask_address:
            self.host_settings = self.host_settings.model_copy(update={"dask_address": self.dask_address})
