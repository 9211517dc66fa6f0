"""`python -m dagy.runtime --template --control-fd FD`: the fork server a worker keeps per worker.

The template imports the runtime, the engine and the node modules once and never runs a run
itself. For each run the worker sends, on the control socket (a Unix SOCK_SEQPACKET pair), the
run's working directory and environment as JSON with the run's stdin, stdout and stderr pipe ends
attached (SCM_RIGHTS). The template forks; the child becomes a run process exactly like a fresh
`python -m dagy.runtime`: its own session and process group, the parent-death signal, the pipes on
0/1/2, nothing else inherited, the run's directory and environment, default signal handlers, and
the run's isolation boundary (sandbox.py) entered once it has read its payload. The
template answers `{"id", "pid"}` (or `{"id", "error"}`), reaps its children and reports
`{"exited": pid, "returncode"}` (negative: killed by that signal).

The template stays single-threaded (fork with threads is unsafe) and never touches a run's state:
each run starts from the same freshly imported interpreter, so nothing one run does reaches the next.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from typing import Any

from dagy.runtime.__main__ import die_with_parent, run_one
from dagy.runtime.sandbox import Boundary, BoundaryError, fork_into_pid_namespace, seccomp_program

MAX_MESSAGE = 4 * 1024 * 1024  # one request: a run's environment and directory
_template_cwd = os.getcwd()
# The engine and the node modules (flow specs), the SDK (code flows), the object store over HTTP
# (remote workers' runs: httpx).
WARM_MODULES = ("dagy.runtime.flow_spec", "dagy.nodes", "dagy.runtime.code_flow", "dagy.runtime.http_objects")


# What the runs of a worker whose nodes execute on a Dask cluster import too (`--warm dask`): Dask's
# client costs ~1 s to import, once here rather than in each run. Importing it starts no thread.
WARM_EXTRAS = {"dask": ("dagy.runtime.dask_runner", "distributed")}


def warm_up(extras: tuple[str, ...] = ()) -> None:
    """Import what every run needs (and the `extras` of WARM_EXTRAS this worker's runs need), so a
    forked child starts with it loaded; compile the runs' seccomp filter, so that each run only
    loads it."""
    for module in (*WARM_MODULES, *(m for extra in extras for m in WARM_EXTRAS.get(extra, ()))):
        importlib.import_module(module)
    with contextlib.suppress(BoundaryError):  # no libseccomp: a run that asks for the filter fails
        seccomp_program()


def serve(control_fd: int, parent_pid: int | None, extras: tuple[str, ...] = ()) -> int:
    die_with_parent(parent_pid)
    warm_up(extras)
    # Objects made so far are shared with every child: keep the collector from touching (and so
    # copying) their pages in each child.
    gc.freeze()
    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker stops the template, not a terminal
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: set[int] = set()
    _send(control, {"ready": os.getpid()})
    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                try:
                    message, fds, _flags, _addr = socket.recv_fds(control, MAX_MESSAGE, 3)
                except ConnectionResetError:  # the worker went away mid-message
                    return 0
                if not message:  # the worker closed its end: it is stopping
                    return 0
                request = json.loads(message)
                try:
                    pid = _fork(request, fds, control, (wake_r, wake_w))
                except OSError as exc:
                    _send(control, {"id": request.get("id"), "error": str(exc)})
                else:
                    children.add(pid)
                    _send(control, {"id": request.get("id"), "pid": pid})
                finally:
                    for fd in fds:
                        os.close(fd)
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
            _reap(control, children)


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.sendall(json.dumps(message).encode())


def _reap(control: socket.socket, children: set[int]) -> None:
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            _send(control, {"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _fork(request: dict[str, Any], fds: list[int], control: socket.socket, wake: tuple[int, int]) -> int:
    if len(fds) != 3:
        raise OSError(f"a run needs 3 descriptors, got {len(fds)}")
    if threading.active_count() != 1:
        raise OSError("the template has threads running: it does not fork")
    sys.stdout.flush()
    sys.stderr.flush()
    template_pid = os.getpid()
    boundary = Boundary.from_json(request["boundary"]) if request.get("boundary") else None
    pid = _fork_for(boundary)
    if pid:
        return pid
    try:  # the child: never returns into the template's loop
        _become_run_process(request, fds, control, wake, template_pid)
        run_one(boundary)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
            sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def _fork_for(boundary: Boundary | None) -> int:
    """An isolated run's process is forked as pid 1 of a PID namespace of its own, where the
    template may make one (it then needs no process of its own above it)."""
    if boundary is not None and boundary.namespaces:
        with contextlib.suppress(BoundaryError):
            return fork_into_pid_namespace()
    return os.fork()


def _become_run_process(
    request: dict[str, Any], fds: list[int], control: socket.socket, wake: tuple[int, int], template_pid: int
) -> None:
    os.setsid()
    die_with_parent(template_pid)
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd, target in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, target)  # dup2 leaves 0/1/2 inheritable, as a program's standard streams are
    control.close()
    # Nothing else the template holds reaches the run: the control socket, the wakeup pipe, the
    # received descriptors and anything an import opened.
    os.closerange(3, _max_fd())
    del wake
    cwd = str(request["cwd"])
    os.chdir(cwd)
    if sys.path and sys.path[0] == _template_cwd:
        sys.path[0] = cwd  # as `python -m` puts the working directory first
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536
