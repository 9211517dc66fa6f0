"""Run containers: what a container executor is asked to do, and what it answers.

A container executor (`kubernetes`, `docker`) is driven by the background services: they claim the
executor's queued runs and launch one container per attempt; the container runs `dagy execute-run
RUN_ID`, which reads its payload (the claim, secrets included, and the attempt's token) from a file
mounted for the container's lifetime and reports to the API with that token, as a worker would. The
services reconcile: they keep the lease of a run whose container is pending or running, fail the
attempt of a container that failed or vanished, and remove the containers of ended runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

# Where the payload file is mounted in a run container (read-only, the container's lifetime only).
PAYLOAD_DIR = "/var/run/dagy"
PAYLOAD_FILE = "payload.json"
# Labels on every container (and Kubernetes object) a container executor makes.
LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_RUN = "dagy.dev/run-id"
LABEL_ATTEMPT = "dagy.dev/attempt"
LABEL_EXECUTOR = "dagy.dev/executor"
MANAGED_BY = "dagy"

Phase = Literal["pending", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class ContainerRun:
    """One attempt of one run, as its container is made."""

    name: str  # unique per attempt, a DNS-1123 label: `dagy-run-<run id>-<attempt>`, lower case
    run_id: str
    attempt: int
    image: str
    command: tuple[str, ...]  # ("dagy", "execute-run", run_id)
    env: dict[str, str]  # nothing secret: the payload file holds secrets and the token
    payload: bytes  # the payload file's content, mounted at PAYLOAD_DIR/PAYLOAD_FILE
    memory_mb: int  # the execution mode's memory: the container's limit
    cpu: float  # cores requested and allowed
    timeout_seconds: int  # the execution mode's wall time: the orchestrator stops the container past it
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerState:
    """A container the executor made, as the orchestrator sees it now."""

    name: str
    run_id: str
    attempt: int
    phase: Phase
    # Why a failed container failed, for the run's error: `OOMKilled`, `DeadlineExceeded`,
    # `ImagePullBackOff`, `Error`...; and what the orchestrator or the container's last lines say.
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None


class ContainerBackend(Protocol):
    """An orchestrator of run containers. Calls are blocking (the services call them in a thread)
    and idempotent: launching a name that exists, or removing one that is gone, is not an error."""

    executor: str  # the executor name runs are queued for

    def launch(self, run: ContainerRun) -> None:
        """Make the payload file and the container, and start it."""
        ...

    def states(self) -> list[ContainerState]:
        """Every container this executor made (by its labels) that still exists."""
        ...

    def remove(self, name: str) -> None:
        """Stop the container (what it started with it) and delete it and its payload file."""
        ...

    def close(self) -> None:
        """Release the client's connections."""
        ...
