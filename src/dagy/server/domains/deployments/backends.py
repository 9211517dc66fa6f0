"""The executors this installation has: the one table `/backends`, deployment settings and runs read.

An executor is a label on a queued run; a worker claims the runs of the executor it serves.
`local` is the embedded worker inside `dagy server` (and any `dagy worker` left on its default
executor); `flow-executor` is a fleet of `dagy worker --executor flow-executor` processes on other
hosts. Operators add their own fleets, worker pools such as `gpu` or `eu-west`, with
`DAGY_WORKER_POOLS`: each is served by `dagy worker --executor NAME` processes like flow-executor.
Engines such as Kubernetes Jobs join this table when Dagy can hand runs to them, not before:
a deployment naming an executor nobody serves would queue runs that never start.
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


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    capabilities: tuple[str, ...]
    embedded: bool  # the worker inside `dagy server`: its concurrency is `worker_concurrency`

    def max_concurrent_runs(self, settings: Settings) -> int | None:
        """None for a fleet: it runs as many at once as its `dagy worker` processes offer."""
        return settings.worker_concurrency if self.embedded else None


_WORKER_CAPABILITIES = ("cpu", "memory_limited", "subprocess_isolation", "long_running")
_FLEET_CAPABILITIES = (*_WORKER_CAPABILITIES, "remote", "horizontally_scalable")

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
