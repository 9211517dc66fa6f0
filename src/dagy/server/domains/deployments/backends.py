"""The executors this installation has: the one table `/backends`, deployment settings and runs read.

An executor is a label on a queued run; a worker claims the runs of the executor it serves.
`local` is the embedded worker inside `dagy server` (and any `dagy worker` left on its default
executor); `flow-executor` is a fleet of `dagy worker --executor flow-executor` processes on other
hosts. Operators add their own fleets, worker pools such as `gpu` or `eu-west`, with
`DAGY_WORKER_POOLS`: each is served by `dagy worker --executor NAME` processes like flow-executor.

`kubernetes` and `docker` are container executors: the background services launch each run as a
Kubernetes Job or a container on a Docker/Podman host (dagy/server/executors/), once the installation
names a cluster (`DAGY_K8S_NAMESPACE`) or an engine (`DAGY_DOCKER_URL`). `dask` is a worker pool whose
workers (`dagy worker --executor dask --dask-address ...`) hand a run's nodes to a Dask cluster.

The reference's examples also name `lambda`, `ecs` and `step-functions`. Dagy has no launcher for
those services, so each is a worker pool of that name, served by `dagy worker --executor NAME`
processes (which may themselves run on Lambda, ECS or anywhere else). `/backends` says which
executors something serves (`launcher`: `worker` or the container executor), so a run queued for
one nobody serves is not a surprise (and its `status_detail` says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from dagy.server.errors import InvalidInput
from dagy.server.settings import Settings

# Wall-time limit of each execution mode (runtime tier), smallest first.
EXECUTION_MODE_TIMEOUTS: dict[str, int] = {
    "nano": 60,
    "micro": 5 * 60,
    "small": 15 * 60,
    "medium": 60 * 60,
    "large": 4 * 60 * 60,
    "xlarge": 24 * 60 * 60,
}
EXECUTION_MODES = tuple(EXECUTION_MODE_TIMEOUTS)

LOCAL = "local"
FLOW_EXECUTOR = "flow-executor"
KUBERNETES = "kubernetes"
DOCKER = "docker"
DASK = "dask"
WORKER_LAUNCHER = "worker"  # runs taken by `dagy worker` processes (or the embedded one)
# The reference's managed-service names, served by worker pools of those names (no launcher).
SERVICE_POOLS = ("lambda", "ecs", "step-functions")


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    capabilities: tuple[str, ...]
    embedded: bool  # the worker inside `dagy server`: its concurrency is `worker_concurrency`
    launcher: str = WORKER_LAUNCHER  # what starts its runs: workers, or a container executor


_WORKER_CAPABILITIES = ("cpu", "memory_limited", "subprocess_isolation", "long_running")
_FLEET_CAPABILITIES = (*_WORKER_CAPABILITIES, "remote", "horizontally_scalable")
_CONTAINER_CAPABILITIES = (
    "cpu",
    "memory_limited",
    "container_isolation",
    "long_running",
    "remote",
    "horizontally_scalable",
)

BACKENDS: tuple[Backend, ...] = (
    Backend(
        name=LOCAL,
        description="The embedded worker of `dagy server`, on the server's own host.",
        capabilities=_WORKER_CAPABILITIES,
        embedded=True,
    ),
    Backend(
        name=FLOW_EXECUTOR,
        description="`dagy worker --executor flow-executor` processes on any host, over HTTP.",
        capabilities=_FLEET_CAPABILITIES,
        embedded=False,
    ),
    *(
        Backend(
            name=name,
            description=f"Worker pool named after {service}: `dagy worker --executor {name}` processes "
            f"on any host, over HTTP (Dagy does not launch {service} tasks itself).",
            capabilities=_FLEET_CAPABILITIES,
            embedded=False,
        )
        for name, service in zip(
            SERVICE_POOLS, ("AWS Lambda", "Amazon ECS", "AWS Step Functions"), strict=True
        )
    ),
    Backend(
        name=KUBERNETES,
        description="Each run a Kubernetes Job running `dagy execute-run`, launched by the background "
        "services in DAGY_K8S_NAMESPACE.",
        capabilities=_CONTAINER_CAPABILITIES,
        embedded=False,
        launcher=KUBERNETES,
    ),
    Backend(
        name=DOCKER,
        description="Each run a container running `dagy execute-run` on the Docker or Podman engine at "
        "DAGY_DOCKER_URL, launched by the background services.",
        capabilities=_CONTAINER_CAPABILITIES,
        embedded=False,
        launcher=DOCKER,
    ),
    Backend(
        name=DASK,
        description="`dagy worker --executor dask --dask-address ...` processes: each run's nodes are "
        "submitted to a Dask cluster, independent nodes on different machines.",
        capabilities=(*_FLEET_CAPABILITIES, "distributed_nodes"),
        embedded=False,
    ),
)
MAX_TIMEOUT_SECONDS = max(EXECUTION_MODE_TIMEOUTS.values())


def installation_backends(settings: Settings) -> tuple[Backend, ...]:
    """The built-in table, then one fleet per worker pool in `settings.worker_pools`."""
    return BACKENDS + tuple(_pool(name) for name in settings.worker_pools)


def check_executor(value: str | None, settings: Settings, *, field: str = "default_executor") -> str | None:
    """`value` when this installation has that executor; `None` for `None` or `""` (automatic)."""
    if not value:
        return None
    names = sorted(b.name for b in installation_backends(settings))
    if value not in names:
        raise InvalidInput(
            f"Unknown executor {value!r}.",
            details={field: f"one of {', '.join(names)}, or empty for automatic"},
        )
    return value


def _pool(name: str) -> Backend:
    return Backend(
        name=name,
        description=f"Worker pool: `dagy worker --executor {name}` processes on any host, over HTTP.",
        capabilities=_FLEET_CAPABILITIES,
        embedded=False,
    )
