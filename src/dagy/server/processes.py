"""`dagy server --processes N`: N server processes sharing one port (uvicorn's workers).

One process serves about one core's worth of requests (the Python of the HTTP stack and of the
group-commit writer). On PostgreSQL several processes serve one installation as several replicas
would: claims, the reaper, the scheduler and the sensor loop take their rows with `SKIP LOCKED`,
and LISTEN/NOTIFY wakes the claims waiting in the other processes. The parent applies the
migrations and makes `DAGY_HOME`'s keys once, then uvicorn starts the processes, each building
its app here from the environment. SQLite keeps one process: its writes are serial, so more
processes add lock waits, not throughput. Rate-limit counters are per process unless
`DAGY_REDIS_URL` names a shared store. The HTTP metrics of `GET /metrics` are written by each
process into a folder the parent makes (prometheus-client's multiprocess mode) and summed by
whichever process answers the scrape (docs/adr/0019-metrics.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

from dagy.server.app import create_app
from dagy.server.background import background_parts
from dagy.server.settings import Settings

# How the parent tells its processes what `dagy server`'s flags said.
WORKER_ENV = "DAGY_SERVER_PROCESS_WORKER"
SERVICES_ENV = "DAGY_SERVER_PROCESS_SERVICES"
# prometheus-client's own name: set, its counters and histograms write their values to files there
# (it reads this when first imported, so the processes must inherit it).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_directory() -> Iterator[None]:
    """The parent, around uvicorn's processes: a fresh folder where every process writes its HTTP
    metrics, removed at exit. A process that dies leaves its files, so the sums never go back."""
    with tempfile.TemporaryDirectory(prefix="dagy-metrics-") as folder:
        os.environ[METRICS_DIR_ENV] = folder
        try:
            yield
        finally:
            os.environ.pop(METRICS_DIR_ENV, None)


def app_from_environment() -> FastAPI:
    """The app of one server process (uvicorn's factory): settings from the environment, the
    migrations already applied by the parent."""
    settings = Settings()
    worker = os.environ.get(WORKER_ENV) == "1"
    services = os.environ.get(SERVICES_ENV) == "1"
    metrics_dir = os.environ.get(METRICS_DIR_ENV)
    return create_app(
        settings,
        migrate=False,
        background=background_parts(settings, worker=worker, services=services),
        metrics_dir=Path(metrics_dir) if metrics_dir else None,
    )
