"""`dagy server --processes N`: N server processes sharing one port (uvicorn's workers).

One process serves about one core's worth of requests (the Python of the HTTP stack and of the
group-commit writer). On PostgreSQL several processes serve one installation as several replicas
would: claims, the reaper, the scheduler and the sensor loop take their rows with `SKIP LOCKED`,
and LISTEN/NOTIFY wakes the claims waiting in the other processes. The parent applies the
migrations and makes `DAGY_HOME`'s keys once, then uvicorn starts the processes, each building
its app here from the environment. SQLite keeps one process: its writes are serial, so more
processes add lock waits, not throughput. Rate-limit counters are per process unless
`DAGY_REDIS_URL` names a shared store.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from dagy.server.app import create_app
from dagy.server.background import background_parts
from dagy.server.settings import Settings

# How the parent tells its processes what `dagy server`'s flags said.
WORKER_ENV = "DAGY_SERVER_PROCESS_WORKER"
SERVICES_ENV = "DAGY_SERVER_PROCESS_SERVICES"


def app_from_environment() -> FastAPI:
    """The app of one server process (uvicorn's factory): settings from the environment, the
    migrations already applied by the parent."""
    settings = Settings()
    worker = os.environ.get(WORKER_ENV) == "1"
    services = os.environ.get(SERVICES_ENV) == "1"
    return create_app(
        settings, migrate=False, background=background_parts(settings, worker=worker, services=services)
    )
