"""`dagy execute-run RUN_ID`: one attempt of one run, in a run container of a container executor.

The background services launch a container (a Kubernetes Job's pod, a Docker or Podman container)
for each attempt of a run queued for `kubernetes` or `docker`, with a payload file mounted for the
container's lifetime: the claimed run (secrets included), what the host adds, the API's URL and the
attempt's token (docs/deployments.md, "Container executors"). This command does what a worker does
for one claimed run: it starts the run's process, heartbeats the lease, streams log lines and node
runs, and reports the result, with that token, which is good for this attempt of this run only.
The container is the run's boundary, so the run's process gets no isolation of its own.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dagy.protocol import ContainerPayload


def execute_run(
    run_id: Annotated[str, typer.Argument(help="The run this container executes.")],
    payload: Annotated[
        Path,
        typer.Option(
            envvar="DAGY_RUN_PAYLOAD", help="The payload file the executor mounted (the claim and the token)."
        ),
    ] = Path("/var/run/dagy/payload.json"),
) -> None:
    """Execute one claimed attempt of RUN_ID and report it to the API (run containers only)."""
    from pydantic import ValidationError

    from dagy.protocol import ContainerPayload

    try:
        contents = ContainerPayload.model_validate_json(payload.read_bytes())
    except OSError as exc:
        typer.echo(f"error: cannot read the payload file {payload}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    except ValidationError as exc:
        problems = exc.error_count()
        typer.echo(f"error: {payload} is not a run container's payload ({problems} problem(s))", err=True)
        raise typer.Exit(2) from exc
    if contents.claim.run_id != run_id:
        typer.echo(f"error: the payload is for run {contents.claim.run_id}, not {run_id}", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_execute(contents))


async def _execute(contents: ContainerPayload) -> None:
    from dagy.client import WorkerApi
    from dagy.worker import WorkerConfig
    from dagy.worker.processes import Launcher
    from dagy.worker.supervisor import RunSupervisor

    config = WorkerConfig(
        url=contents.api_url,
        token=contents.token,
        executor="container",
        concurrency=1,
        worker_id=contents.worker_id,
        max_parallel_nodes=contents.max_parallel_nodes,
        log_max_bytes=contents.log_max_bytes,
        host_settings=contents.host_settings,
        isolation="off",
        memory_cgroups=False,
        template_process=False,
    )
    api = WorkerApi(config.url, config.token)
    launcher = Launcher(config)  # no isolation: the container is the run's boundary
    supervisor = RunSupervisor(api, config, contents.claim, contents.heartbeat_seconds, launcher)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    # Stopped by the orchestrator (a cancel deletes the Job, a deadline, a node drained): the run's
    # process is stopped and nothing is reported; the services record what became of the attempt.
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await supervisor.execute()
    finally:
        await launcher.close()
        await api.aclose()
