"""What registration can know about an artifact in the server's object store before any run: that
it is there, that a code flow's entry point is in it, and the `def` of its entry function.

A key that names nothing is refused (`artifact_s3_uri`), so is an entry point whose module the zip
lacks or that the module does not define at its top level (`flow_spec.entrypoint`): the module is
parsed, never imported, so registering runs none of the author's code. The same parse gives the
entry function's definition, whose parameters the version's `parameter_schema` is read from
(`parameters.py`). An artifact in an external bucket (`s3://...`) is not fetched here; its run
reports what is wrong with it.
"""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagy.server.domains.flows.parameters import FunctionDef

_MAX_MODULE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class StoredArtifact:
    """What registration learns from an artifact of the object store: its problems by field, and the
    `def` of a code flow's entry function (None when the spec names no entry point, its module is
    too large to read here, or the name is bound by something other than a `def`)."""

    problems: dict[str, str] = field(default_factory=dict)
    entry_function: FunctionDef | None = None


def read_stored_artifact(objects: Path, key: str, spec: Mapping[str, Any] | None) -> StoredArtifact:
    """The artifact stored under `key` (in the object store's folder `objects`) for a version with
    `spec`: its module read and parsed once."""
    root = objects.resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        missing = f"the object store holds no {key}: put the artifact there first ({objects / key})"
        return StoredArtifact({"artifact_s3_uri": missing})
    entrypoint = (spec or {}).get("entrypoint")
    if not isinstance(entrypoint, str):
        return StoredArtifact()
    problem, function = _read_entrypoint(path, entrypoint)
    return StoredArtifact({"flow_spec.entrypoint": problem} if problem else {}, function)


def _read_entrypoint(artifact: Path, entrypoint: str) -> tuple[str | None, FunctionDef | None]:
    """What is wrong with the entry point, else None and its function's `def`."""
    module, function = entrypoint.split(":")
    problem, source = _module_source(artifact, module)
    if source is None:
        return problem, None
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"module {module} does not parse: {exc.msg} (line {exc.lineno})", None
    except (RecursionError, MemoryError):
        return None, None  # nested too deep to read here; the run checks it
    binding = next((node for node in reversed(tree.body) if function in _bound_names(node)), None)
    if binding is None:
        return f"module {module} defines no {function}", None
    return None, binding if isinstance(binding, ast.FunctionDef | ast.AsyncFunctionDef) else None


def _module_source(artifact: Path, module: str) -> tuple[str | None, str | None]:
    """The module's source from the zip, else what is wrong (neither: too large to read here; the
    run checks it)."""
    base = module.replace(".", "/")
    try:
        with zipfile.ZipFile(artifact) as archive:
            names = set(archive.namelist())
            found = next((n for n in (f"{base}.py", f"{base}/__init__.py") if n in names), None)
            if found is None:
                return f"the artifact has no module {module} ({base}.py or {base}/__init__.py)", None
            if archive.getinfo(found).file_size > _MAX_MODULE_BYTES:
                return None, None
            return None, archive.read(found).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile) as exc:
        return f"the artifact is not a readable zip file: {exc}", None


def _bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds: a function, a class, an assignment, an import."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return set()
