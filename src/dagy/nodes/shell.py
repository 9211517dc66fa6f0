"""Running the `shell_command` node's command: its own process group, a timeout that ends the whole
group, stdout streamed to the run's log and kept (up to 10 MB), the stderr tail for errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from dagy.nodes.base import NodeContext, NodeError
from dagy.nodes.inputs import required_text

MAX_KEPT_OUTPUT = 10 * 1024 * 1024
TRUNCATED_MARKER = "\n[output truncated: only its first 10 MB are kept]"
STDERR_TAIL_LINES = 20
_LINE_CHUNK = 64 * 1024  # a line longer than this reaches the log in pieces
_READER_GRACE_SECONDS = 2.0


def run_shell_command(config: Mapping[str, Any], context: NodeContext, value: Any) -> Any:
    argv = [_shell_path(str(config.get("shell") or "bash")), "-c", required_text(config, "command")]
    timeout = config.get("timeout_seconds") or 300
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise NodeError("invalid_config", "timeout_seconds must be a number of seconds above 0.")
    stdin = None if value is None else json.dumps(value, separators=(",", ":")).encode()
    command = _Command(argv, working_directory(config.get("working_dir")), environment(config, context))
    returncode = command.run(stdin, float(timeout), context.logger)
    if returncode != 0:
        how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}"
        tail = "\n".join(command.stderr_tail)
        raise NodeError(
            "command_failed", f"The command {how}." + (f" Its stderr ends with:\n{tail}" if tail else "")
        )
    return command_output(command.stdout, command.truncated, str(config.get("output_format") or "text"))


def command_output(stdout: bytes, truncated: bool, output_format: str) -> Any:
    text = stdout.decode(errors="replace").strip()
    if output_format != "json":
        return text + TRUNCATED_MARKER if truncated else text
    if truncated:
        raise NodeError(
            "invalid_json_output", "The command printed more than 10 MB: too much for a JSON output."
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NodeError("invalid_json_output", f"The command's output is not JSON: {exc}.") from exc


class _Command:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.stdout = b""
        self.truncated = False
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def run(self, stdin: bytes | None, timeout: float, logger: logging.Logger) -> int:
        """Run to the end or the timeout; whatever the command left running is killed with it."""
        process = subprocess.Popen(  # noqa: S603 - running the author's command is the point
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        kept = bytearray()
        threads = [
            _thread(self._keep_stdout, process.stdout, logger, kept),
            _thread(self._keep_stderr, process.stderr, logger),
        ]
        if stdin is not None:
            threads.append(_thread(_feed, process.stdin, stdin))
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
            raise NodeError(
                "timeout", f"The command ran for more than {timeout:g} s and was killed."
            ) from None
        finally:
            _kill_group(process.pid)  # background jobs end with the command; so does all on a timeout
            for thread in threads:
                thread.join(_READER_GRACE_SECONDS)
            self.stdout = bytes(kept)
        return returncode

    def _keep_stdout(self, stream: IO[bytes], logger: logging.Logger, kept: bytearray) -> None:
        for line in _lines(stream):
            logger.info("%s", line.decode(errors="replace").rstrip("\r\n"))
            room = MAX_KEPT_OUTPUT - len(kept)
            if len(line) > room:
                self.truncated = True
            kept += line[: max(room, 0)]

    def _keep_stderr(self, stream: IO[bytes], logger: logging.Logger) -> None:
        for line in _lines(stream):
            text = line.decode(errors="replace").rstrip("\r\n")
            logger.warning("%s", text)
            self.stderr_tail.append(text[:1000])


def _thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _lines(stream: IO[bytes]) -> Any:
    with stream:
        yield from iter(lambda: stream.readline(_LINE_CHUNK), b"")


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        with stream:
            stream.write(data)
    except (BrokenPipeError, ValueError):
        pass  # the command stopped reading its input: its exit code says how that went


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, signal.SIGKILL)


def _shell_path(name: str) -> str:
    if name not in ("bash", "sh"):
        raise NodeError("invalid_config", f"shell must be bash or sh, not {name!r}.")
    path = shutil.which(name)
    if path is None:
        raise NodeError("shell_not_found", f"This worker has no {name}.")
    return path


def working_directory(value: Any) -> Path:
    """The run's directory (the process's working directory), or the `working_dir` inside it."""
    base = Path.cwd().resolve()
    if value is None or value == "":
        return base
    problem = working_dir_problem(value) if isinstance(value, str) else "must be a string"
    if problem is None:
        target: Path = (base / value).resolve()  # symbolic links followed: one pointing out is refused too
        if not target.is_relative_to(base):
            problem = "leaves the run's directory"
        elif not target.is_dir():
            problem = "is not a directory of the run"
        else:
            return target
    raise NodeError("invalid_working_dir", f"working_dir {value!r} {problem}.")


def working_dir_problem(value: str) -> str | None:
    if posixpath.isabs(value):
        return "must be relative to the run's directory, not absolute"
    if posixpath.normpath(value).split("/")[0] == "..":
        return "leaves the run's directory"
    return None


def environment(config: Mapping[str, Any], context: NodeContext) -> dict[str, str]:
    """The run process's variables, then the deployment environment's, then the node's own."""
    extra = config.get("env") or {}
    problem = environment_problem(extra) if isinstance(extra, Mapping) else "must be an object"
    if problem is not None:
        raise NodeError("invalid_config", f"env {problem}.")
    return {**os.environ, **context.env, **extra}  # the process's own variables: a command expects PATH, HOME


def _is_secret_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret"} and isinstance(value["secret"], str)


def environment_problem(env: Mapping[Any, Any], *, secrets: bool = False) -> str | None:
    """What is wrong with `env`; with `secrets`, a value may also be `{"secret": "name"}` (a spec
    before its secrets are resolved)."""
    expected = 'a string or {"secret": "<secret name>"}' if secrets else "a string"
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name or "\x00" in name:
            return f"has an invalid variable name {name!r}"
        if secrets and _is_secret_reference(value):
            continue
        if not isinstance(value, str) or "\x00" in value:
            return f"value of {name} must be {expected}"
    return None
