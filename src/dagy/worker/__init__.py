"""`dagy worker`: claim loop, heartbeats, one subprocess per run. Talks to the server over HTTP only."""

from dagy.worker.config import WorkerConfig, default_worker_id
from dagy.worker.loop import Worker
from dagy.worker.supervisor import RunSupervisor

__all__ = ["RunSupervisor", "Worker", "WorkerConfig", "default_worker_id"]
