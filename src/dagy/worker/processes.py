"""Starting run processes: one per run, in a fresh temporary directory (the run's scratch), its own
session and process group, inside the run's isolation boundary (isolation.py, sandbox.py) with an
environment that holds nothing of the worker's but locale and time zone.

The launcher keeps a template process (`python -m dagy.runtime --template`, see
dagy/runtime/template.py) that has the runtime imported, and asks it to fork each run's process:
the run skips interpreter start and imports, and still gets a process no other run used. When the
template cannot be started the launcher starts `python -m dagy.runtime` for each run instead; a
template that died is started again for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from dagy.runtime.sandbox import Boundary
from dagy.worker.config import WorkerConfig
from dagy.worker.isolation import Isolation

log = logging.getLogger("dagy.worker")

STREAM_LIMIT = 32 * 1024 * 1024  # one event line may carry a large node output
MAX_MESSAGE = 64 * 1024  # one message from the template (a pid, an exit status)
TEMPLATE_START_SECONDS = 60.0
GROUP_WAIT_SECONDS = 0.005  # a run process just forked makes its process group within this
_TOKEN_VARIABLES = ("DAGY_WORKER_TOKEN", "DAGY_TOKEN", "DAGY_API_KEY")
# What an isolated run keeps of the worker's environment: how text and time are written.
_KEPT_VARIABLES = ("LANG", "LANGUAGE", "TZ")
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class RunProcess:
    process: asyncio.subprocess.Process | ForkedProcess
    workdir: str
    # An isolated run's code runs under uids of its own: the boundary's processes above it (its PID
    # namespace's init; the worker's uid) are not counted in the run's memory.
    own_uid: bool = False

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def discard(self) -> None:
        """Kill the process group (what the run left running too) and remove the directory. A
        process the template forked a moment ago may not have made its group yet (`setsid` is the
        first thing it does, after the template answered its pid): it is waited for, not looked
        up by its bare pid."""
        while not kill_group(self.process.pid) and self.process.returncode is None:
            await asyncio.sleep(GROUP_WAIT_SECONDS)
        await self.process.wait()
        if isinstance(self.process, ForkedProcess):
            self.process.close_pipes()
        shutil.rmtree(self.workdir, ignore_errors=True)


def kill_group(pgid: int) -> bool:
    """SIGKILL a run's process group; False when there is no such group. Safe after its leader
    ended: Linux does not hand out a pid still used as a process group id, so the group is the
    run's as long as a member lives. (Never a bare pid: pids are reused, within minutes on a host
    whose pid_max is 32,768.)"""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


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


class ForkedProcess:
    """A run process the template forked, as the supervisor uses an `asyncio.subprocess.Process`:
    `pid`, `returncode`, `wait()`, and the worker's ends of its stdin, stdout and stderr pipes."""

    def __init__(
        self,
        pid: int,
        *,
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        transports: list[asyncio.BaseTransport],
        closed: list[asyncio.Future[None]],
    ) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None
        self._exited = asyncio.Event()
        self._transports = transports
        self._closed = closed

    def exited(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self._exited.set()

    async def wait(self) -> int:
        """Like `asyncio.subprocess.Process.wait()`: the process ended and its stdout and stderr
        reached their end (a child still holding them keeps the run waiting, then is killed)."""
        await self._exited.wait()
        await asyncio.gather(*self._closed)
        assert self.returncode is not None
        return self.returncode

    def close_pipes(self) -> None:
        for transport in self._transports:
            transport.close()


class _ReadPipe(asyncio.StreamReaderProtocol):
    """A stdout or stderr pipe: `closed` is done once the pipe is (EOF, or closed by the worker)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        super().__init__(reader)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def eof_received(self) -> bool:
        super().eof_received()
        return False  # close the transport (uvloop keeps a pipe open when told True)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)


class Template:
    """The worker's side of the template process: requests out, pids and exit statuses in."""

    def __init__(self, process: asyncio.subprocess.Process, control: socket.socket) -> None:
        self.process = process
        self.control = control
        self._next_id = 0
        self._requests: dict[int, asyncio.Future[int]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}  # exits reported before the pid was handed out
        self._reader = asyncio.create_task(self._read())

    @property
    def alive(self) -> bool:
        return not self._reader.done()

    @classmethod
    async def start(cls, config: WorkerConfig, env: dict[str, str]) -> Template:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = await asyncio.create_subprocess_exec(
                config.python,
                "-m",
                "dagy.runtime",
                "--template",
                "--control-fd",
                str(theirs.fileno()),
                "--parent-pid",
                str(os.getpid()),
                *(("--warm", "dask") if config.host_settings.dask_address else ()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(loop.sock_recv(ours, MAX_MESSAGE), TEMPLATE_START_SECONDS)
        except BaseException:
            ours.close()
            kill_group(process.pid)
            await process.wait()
            raise
        if not ready or "ready" not in json.loads(ready):
            ours.close()
            await process.wait()
            raise OSError(f"the template process exited with code {process.returncode} before it was ready")
        return cls(process, ours)

    async def fork(self, workdir: str, env: dict[str, str], boundary: Boundary | None) -> ForkedProcess:
        """Ask for a run process with fresh pipes; OSError when the template cannot give one."""
        if not self.alive:
            raise OSError("the template process is gone")
        loop = asyncio.get_running_loop()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        theirs, ours = (stdin_r, stdout_w, stderr_w), (stdin_w, stdout_r, stderr_r)
        self._next_id += 1
        request_id = self._next_id
        reply: asyncio.Future[int] = loop.create_future()
        self._requests[request_id] = reply
        try:
            request = {
                "id": request_id,
                "cwd": workdir,
                "env": env,
                "boundary": boundary and boundary.to_json(),
            }
            message = json.dumps(request).encode()
            socket.send_fds(self.control, [message], list(theirs))
        except OSError:
            self._requests.pop(request_id, None)
            for fd in (*theirs, *ours):
                os.close(fd)
            raise
        for fd in theirs:
            os.close(fd)
        try:
            pid = await reply
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        stdout = asyncio.StreamReader(limit=STREAM_LIMIT)
        stderr = asyncio.StreamReader(limit=STREAM_LIMIT)
        transports: list[asyncio.BaseTransport] = []
        closed: list[asyncio.Future[None]] = []
        for reader, fd in ((stdout, stdout_r), (stderr, stderr_r)):
            transport, protocol = await loop.connect_read_pipe(
                functools.partial(_ReadPipe, reader),
                open(fd, "rb", buffering=0),  # noqa: SIM115 - the transport closes it
            )
            transports.append(transport)
            closed.append(protocol.closed)
        stdin_transport, stdin_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin,
            open(stdin_w, "wb", buffering=0),  # noqa: SIM115 - the transport closes it
        )
        transports.append(stdin_transport)
        stdin = asyncio.StreamWriter(stdin_transport, stdin_protocol, None, loop)
        child = ForkedProcess(
            pid, stdin=stdin, stdout=stdout, stderr=stderr, transports=transports, closed=closed
        )
        self._children[pid] = child
        if pid in self._early_exits:
            self._children.pop(pid)
            child.exited(self._early_exits.pop(pid))
        return child

    async def close(self) -> None:
        """Close the control socket (the template exits), then make sure it did. Shut down first:
        uvloop keeps the descriptor open while `_read` waits on it, so a close alone would not reach
        the template until the wait below gave up and killed it."""
        with contextlib.suppress(OSError):  # already shut by a template that went first
            self.control.shutdown(socket.SHUT_RDWR)
        self.control.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            kill_group(self.process.pid)
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await loop.sock_recv(self.control, MAX_MESSAGE)
                if not message:
                    break
                self._handle(json.loads(message))
        except OSError:
            pass
        finally:
            self._gone()

    def _handle(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            pid, returncode = int(message["exited"]), int(message["returncode"])
            child = self._children.pop(pid, None)
            if child is None:
                self._early_exits[pid] = returncode
            else:
                child.exited(returncode)
            return
        reply = self._requests.pop(int(message["id"]), None)
        if reply is None or reply.done():
            return
        if "pid" in message:
            reply.set_result(int(message["pid"]))
        else:
            reply.set_exception(OSError(f"the template could not fork: {message.get('error')}"))

    def _gone(self) -> None:
        """The template ended: its children died with it (their parent-death signal)."""
        for reply in self._requests.values():
            if not reply.done():
                reply.set_exception(OSError("the template process is gone"))
        self._requests.clear()
        for pid, child in self._children.items():
            kill_group(pid)
            child.exited(-signal.SIGKILL)
        self._children.clear()


class Launcher:
    def __init__(self, config: WorkerConfig, isolation: Isolation | None = None) -> None:
        self.config = config
        self.isolation = isolation  # None: runs are not isolated (DAGY_ISOLATION=off)
        self._template: asyncio.Task[Template] | None = None
        self._fallback_logged = False

    def prepare(self) -> None:
        """Start the template now (the worker is starting), so the first run is quick too."""
        if self.config.template_process and self._template is None and sys.platform == "linux":
            self._template = asyncio.create_task(Template.start(self.config, self._env()))

    async def take(
        self, *, read_only: tuple[str, ...] = (), writable: tuple[str, ...] = (), max_processes: int = 0
    ) -> RunProcess:
        """A started process for one run, waiting for its payload on stdin: forked from the
        template, or a fresh `python -m dagy.runtime` when there is no template. Once it has read
        the payload it enters the run's boundary, which grants it `read_only` and `writable`
        folders besides its scratch and at most `max_processes` processes and threads."""
        workdir = tempfile.mkdtemp(prefix="dagy-run-")
        boundary = (
            self.isolation.boundary(
                workdir, read_only=read_only, writable=writable, max_processes=max_processes
            )
            if self.isolation is not None
            else None
        )
        env = self._env(workdir)
        own_uid = boundary is not None and boundary.uid_base is not None
        try:
            template = await self._live_template()
            if template is not None:
                try:
                    return RunProcess(await template.fork(workdir, env, boundary), workdir, own_uid)
                except OSError as exc:
                    log.warning("the template process could not fork a run process: %s", exc)
            return RunProcess(await self._start(workdir, env, boundary), workdir, own_uid)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    async def close(self) -> None:
        task, self._template = self._template, None
        if task is None:
            return
        task.cancel()  # a template still starting is killed; a started one is unaffected
        try:
            template = await task
        except (asyncio.CancelledError, OSError, TimeoutError, ValueError):
            return
        await template.close()

    async def _live_template(self) -> Template | None:
        """The template; a new one when it died; None when none can be started (logged once)."""
        if self._template is None:
            self.prepare()
        task = self._template
        if task is None:
            return None
        if task.done() and task.exception() is None and not task.result().alive:
            log.warning(
                "the template process ended (code %s); starting a new one", task.result().process.returncode
            )
            self._template = None
            self.prepare()
            task = self._template
            assert task is not None
        try:
            return await asyncio.shield(task)
        except (OSError, TimeoutError, ValueError) as exc:
            if not self._fallback_logged:
                self._fallback_logged = True
                log.warning("the template process could not be started (%s): starting a process per run", exc)
            return None

    def _env(self, scratch: str | None = None) -> dict[str, str]:
        """A run's environment (the template's without `scratch`). Isolated: locale, time zone, a
        system PATH, HOME and TMPDIR in the scratch folder, nothing else of the worker's; the
        deployment's variables are added by the run's process from its payload. Not isolated: the
        worker's environment without its credential."""
        if self.isolation is None:
            env = {k: v for k, v in os.environ.items() if k not in _TOKEN_VARIABLES}
        else:
            env = {k: v for k, v in os.environ.items() if k in _KEPT_VARIABLES or k.startswith("LC_")}
            env["PATH"] = f"{os.path.dirname(self.config.python)}:{_SYSTEM_PATH}"
            env["HOME"] = scratch or "/"
            if scratch:
                env["TMPDIR"] = os.path.join(scratch, "tmp")
            env["PYTHONDONTWRITEBYTECODE"] = "1"  # the interpreter's folders are read-only
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def _start(
        self, workdir: str, env: dict[str, str], boundary: Boundary | None
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.config.python,
            "-m",
            "dagy.runtime",
            "--parent-pid",
            str(os.getpid()),
            *(("--boundary", boundary.to_json()) if boundary is not None else ()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env=env,
            start_new_session=True,
            limit=STREAM_LIMIT,
        )
