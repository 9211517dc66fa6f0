"""Starting run processes: `python -m dagy.runtime` in a fresh temporary directory, its own session
and process group, without the worker's credentials in its environment.

A run process imports the runtime before it reads its payload, so the launcher keeps one started
ahead (`spare_process`): the next run skips interpreter start and imports. Each run still gets a
process of its own, never one another run used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass

from dagy.worker.config import WorkerConfig

log = logging.getLogger("dagy.worker")

STREAM_LIMIT = 32 * 1024 * 1024  # one event line may carry a large node output
_TOKEN_VARIABLES = ("DAGY_WORKER_TOKEN", "DAGY_TOKEN", "DAGY_API_KEY")


@dataclass
class RunProcess:
    process: asyncio.subprocess.Process
    workdir: str

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def discard(self) -> None:
        """Kill the process group (what the run left running too) and remove the directory."""
        kill_group(self.process.pid)
        await self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def kill_group(pgid: int) -> None:
    """SIGKILL a run's process group. Safe after its leader ended: Linux does not hand out a pid
    still used as a process group id, so the group is the run's as long as a member lives."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """The pids below `pid`, including those in sessions of their own (a `shell_command` starts its
    command in a new session, out of reach of the run's process group)."""
    import psutil  # noqa: PLC0415 - a worker dependency (the `worker` extra), not the SDK's

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def kill_processes(pids: list[int]) -> None:
    """SIGKILL each process and its own process group (what it started in its session)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class Launcher:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self._spare: asyncio.Task[RunProcess] | None = None

    def prepare(self) -> None:
        """Start the spare process now (the worker is starting), so the first run is quick too."""
        if self.config.spare_process and self._spare is None:
            self._spare = asyncio.create_task(self._start())

    async def take(self) -> RunProcess:
        """A started process waiting for its payload: the spare when it is alive, else a new one."""
        spare, self._spare = self._spare, None
        process = await _spare_result(spare)
        if process is None:
            process = await self._start()
        self.prepare()
        return process

    async def close(self) -> None:
        spare, self._spare = self._spare, None
        process = await _spare_result(spare)
        if process is not None:
            await process.discard()

    async def _start(self) -> RunProcess:
        workdir = tempfile.mkdtemp(prefix="dagy-run-")
        env = {k: v for k, v in os.environ.items() if k not in _TOKEN_VARIABLES}  # user code never sees it
        env.update(self.config.runtime_env)
        env["PYTHONUNBUFFERED"] = "1"
        process = await asyncio.create_subprocess_exec(
            self.config.python,
            "-m",
            "dagy.runtime",
            "--parent-pid",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env=env,
            start_new_session=True,
            limit=STREAM_LIMIT,
        )
        return RunProcess(process, workdir)


async def _spare_result(spare: asyncio.Task[RunProcess] | None) -> RunProcess | None:
    if spare is None:
        return None
    try:
        process = await spare
    except OSError as exc:
        log.warning("starting a spare run process failed: %s", exc)
        return None
    if process.alive:
        return process
    await process.discard()
    return None
