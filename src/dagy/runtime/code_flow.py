"""Running a code flow: a zip of Python modules whose entry point is a `@flow` function.

The artifact is unpacked into `code/` in the run's working directory (every path checked: nothing
absolute, no `..`, bounded count and size), that directory goes first on `sys.path`, the entry
point (`module:function` or `package.module:function`) is imported and called with the run's
parameters as keyword arguments. Each task run is reported as a node run (`node_type` "task",
`node_id` the task run's name), the flow's return value is the run's output.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
import sys
import traceback
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import dagy
from dagy.protocol import RunPayload
from dagy.runtime.events import NODE, EventWriter
from dagy.runtime.flow_spec import RunResult
from dagy.runtime.node_call import exception_type
from dagy.sdk import Flow, FlowRun, TaskRun, TaskTimeoutError, flow, listening

CODE_DIR = "code"
MAX_FILES = 10_000
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_NODE_ID_CHARS = 128
MAX_NODE_OUTPUT_BYTES = 256 * 1024
NODE_TYPE = "task"
_ENTRYPOINT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_DAGY_DIR = str(Path(dagy.__file__).resolve().parent)
_IMPORTLIB_DIR = str(Path(importlib.__file__).parent)
_TERMINAL = frozenset({"completed", "failed", "skipped"})


class CodeFlowError(Exception):
    """The artifact or its entry point cannot be run; `error_type` names why for the run's error."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def run_code_flow(payload: RunPayload, events: EventWriter) -> RunResult:
    """Call the entry point of the artifact the worker fetched (`payload.artifact_path`)."""
    claim = payload.claim
    try:
        code_dir = unpack_artifact(Path(str(payload.artifact_path)))
        entry = load_entrypoint(code_dir, (claim.artifact.entrypoint if claim.artifact else None) or "")
        parameters = dict(claim.parameters)
        check_parameters(entry, parameters)
    except CodeFlowError as exc:
        return RunResult("failed", error={"type": exc.error_type, "message": exc.message})
    except Exception as exc:  # the author's module raised on import
        return RunResult("failed", error=_exception_error(exc, None, events))
    reporter = TaskRunReporter(events)
    with listening(claim.run_id, reporter):
        flow_run = entry.run(**parameters)
    return _result_of(flow_run, events)


def unpack_artifact(artifact: Path) -> Path:
    """Extract the zip into `code/` beside it and return that directory."""
    target = artifact.resolve().parent / CODE_DIR
    try:
        archive = zipfile.ZipFile(artifact)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CodeFlowError(
            "invalid_artifact", f"The flow's artifact is not a readable zip file: {exc}"
        ) from exc
    with archive:
        members = archive.infolist()
        _check_members(members)
        target.mkdir(exist_ok=True)
        written = 0
        for member in members:
            path = target.joinpath(*PurePosixPath(member.filename).parts)
            if member.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, path.open("wb") as sink:
                shutil.copyfileobj(source, sink)
                written += sink.tell()
            if written > MAX_UNPACKED_BYTES:
                raise CodeFlowError(
                    "invalid_artifact", f"The artifact unpacks to more than {MAX_UNPACKED_BYTES} bytes."
                )
    return target


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_FILES:
        raise CodeFlowError(
            "invalid_artifact", f"The artifact holds {len(members)} entries; at most {MAX_FILES}."
        )
    declared = sum(member.file_size for member in members)
    if declared > MAX_UNPACKED_BYTES:
        message = f"The artifact unpacks to {declared} bytes; at most {MAX_UNPACKED_BYTES}."
        raise CodeFlowError("invalid_artifact", message)
    for member in members:
        name = member.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or not parts:
            message = f"The artifact holds an unsafe path {member.filename!r}: relative paths only, no '..'."
            raise CodeFlowError("invalid_artifact", message)
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            raise CodeFlowError(
                "invalid_artifact", f"The artifact holds a symbolic link {member.filename!r}."
            )


def load_entrypoint(code_dir: Path, entrypoint: str) -> Flow[..., Any]:
    """Import `module:function` from the unpacked artifact; a plain function is treated as a flow."""
    if not _ENTRYPOINT.match(entrypoint):
        message = f"The entry point {entrypoint!r} is not 'module:function' or 'package.module:function'."
        raise CodeFlowError("invalid_entrypoint", message)
    module_name, attribute = entrypoint.split(":")
    sys.path.insert(0, str(code_dir))
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise  # the module exists but imports something missing: the author's error, with its traceback
        raise CodeFlowError("invalid_entrypoint", f"The artifact has no module {module_name!r}.") from exc
    _check_inside(module, module_name, code_dir)
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise CodeFlowError(
                "invalid_entrypoint", f"Module {module_name!r} has no attribute {attribute!r}."
            )
    if isinstance(target, Flow):
        return target
    if not callable(target) or isinstance(target, type):
        raise CodeFlowError("invalid_entrypoint", f"The entry point {entrypoint!r} is not a function.")
    return flow(target)


def _check_inside(module: Any, module_name: str, code_dir: Path) -> None:
    """A module named like one already imported (the standard library's `json`, say) would shadow
    the artifact's: say so instead of running the wrong code."""
    location = getattr(module, "__file__", None)
    if location is None or not Path(location).resolve().is_relative_to(code_dir):
        message = (
            f"Module {module_name!r} resolves to {location or 'a built-in module'}, not to the artifact: "
            "rename the artifact's module."
        )
        raise CodeFlowError("invalid_entrypoint", message)


def check_parameters(entry: Flow[..., Any], parameters: dict[str, Any]) -> None:
    """The run's parameters must fit the flow function's signature as keyword arguments."""
    signature = inspect.signature(entry.fn)
    accepted = {
        name: p
        for name, p in signature.parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(parameters) - set(accepted)) if not takes_any else []
    missing = sorted(
        name
        for name, p in accepted.items()
        if p.default is inspect.Parameter.empty and name not in parameters
    )
    problems = []
    if unknown:
        problems.append(f"does not take {', '.join(map(repr, unknown))}")
    if missing:
        problems.append(f"needs {', '.join(map(repr, missing))}")
    if problems:
        message = f"Flow {entry.name!r} {' and '.join(problems)} (parameters given: {sorted(parameters)})."
        raise CodeFlowError("invalid_parameters", message)


class TaskRunReporter:
    """Turns the SDK's task-run state changes into node events; called from the tasks' threads."""

    def __init__(self, events: EventWriter) -> None:
        self._events = events

    def __call__(self, task_run: TaskRun, status: str) -> None:
        finished = status in _TERMINAL
        exc = task_run.exception if status != "completed" else None
        event = {
            "event": NODE,
            "node_id": node_id_of(task_run),
            "node_type": NODE_TYPE,
            "status": status,
            "started_at": _iso(task_run.started_at),
            "completed_at": _iso(task_run.ended_at) if finished else None,
            "output": node_output(task_run.result) if status == "completed" else None,
            "error": _exception_error(exc, task_run, self._events) if exc is not None else None,
            "tries": task_run.tries,
        }
        if status == "retrying":
            event["retry_in_seconds"] = task_run.retry_in_seconds
        self._events.node(event)


def node_id_of(task_run: TaskRun) -> str:
    name = task_run.name
    return name if len(name) <= MAX_NODE_ID_CHARS else name[: MAX_NODE_ID_CHARS - 1] + "…"


def node_output(value: Any) -> Any:
    """A task's result as a node run shows it: JSON values as they are (up to 256 KB), anything else
    (a DataFrame, an object) as a cut-down `repr`."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= MAX_NODE_OUTPUT_BYTES else _repr(value)
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return _repr(value)
    return value if size <= MAX_NODE_OUTPUT_BYTES else _repr(value)


def _repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 1000 else text[:999] + "…"


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _result_of(flow_run: FlowRun[Any], events: EventWriter) -> RunResult:
    if flow_run.exception is not None:
        return RunResult(
            "failed", error=_exception_error(flow_run.exception, flow_run.failed_task_run, events)
        )
    output = flow_run.return_value
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        message = f"Flow {flow_run.flow_name!r} returned a value that is not JSON-serialisable: {exc}"
        return RunResult("failed", error={"type": "invalid_output", "message": message})
    return RunResult("completed", output=output)


def _exception_error(
    exc: BaseException | None, task_run: TaskRun | None, events: EventWriter
) -> dict[str, Any]:
    redact = events.redact
    assert exc is not None
    return {
        "type": "timeout" if isinstance(exc, TaskTimeoutError) else exception_type(exc),
        "message": redact(f"{type(exc).__name__}: {exc}"),
        "node_id": node_id_of(task_run) if task_run is not None else None,
        "node_type": NODE_TYPE if task_run is not None else None,
        "traceback": redact(user_traceback(exc)),
    }


def user_traceback(exc: BaseException) -> str:
    """The traceback without Dagy's own frames or the import machinery's: the author's code only."""
    report = traceback.TracebackException.from_exception(exc)
    pending, seen = [report], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        kept = [frame for frame in current.stack if not _is_machinery(frame.filename)]
        current.stack = traceback.StackSummary.from_list(kept or list(current.stack))
        pending.extend(chained for chained in (current.__cause__, current.__context__) if chained is not None)
    return "".join(report.format())


def _is_machinery(filename: str) -> bool:
    return filename.startswith((_DAGY_DIR, _IMPORTLIB_DIR, "<frozen importlib"))
