"""What registration can know about an artifact in the server's object store before any run: that
it is there, and that a code flow's entry point is in it.

A key that names nothing is refused (`artifact_s3_uri`), so is an entry point whose module the zip
lacks or that the module does not define at its top level (`flow_spec.entrypoint`): the module is
parsed, never imported, so registering runs none of the author's code. An artifact in an external
bucket (`s3://...`) is not fetched here; its run reports what is wrong with it.
"""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_MAX_MODULE_BYTES = 5 * 1024 * 1024


def stored_artifact_problems(objects: Path, key: str, spec: Mapping[str, Any] | None) -> dict[str, str]:
    """The problems of the artifact stored under `key` (in the object store's folder `objects`) for
    a version with `spec`."""
    root = objects.resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return {
            "artifact_s3_uri": f"the object store holds no {key}: put the artifact there first "
            f"({objects / key})"
        }
    entrypoint = (spec or {}).get("entrypoint")
    if not isinstance(entrypoint, str):
        return {}
    problem = _entrypoint_problem(path, entrypoint)
    return {"flow_spec.entrypoint": problem} if problem else {}


def _entrypoint_problem(artifact: Path, entrypoint: str) -> str | None:
    module, function = entrypoint.split(":")
    base = module.replace(".", "/")
    try:
        with zipfile.ZipFile(artifact) as archive:
            names = set(archive.namelist())
            found = next((n for n in (f"{base}.py", f"{base}/__init__.py") if n in names), None)
            if found is None:
                return f"the artifact has no module {module} ({base}.py or {base}/__init__.py)"
            if archive.getinfo(found).file_size > _MAX_MODULE_BYTES:
                return None  # too large to read here; the run checks it
            source = archive.read(found).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile) as exc:
        return f"the artifact is not a readable zip file: {exc}"
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"module {module} does not parse: {exc.msg} (line {exc.lineno})"
    return None if function in _top_level_names(tree) else f"module {module} defines no {function}"


def _top_level_names(tree: ast.Module) -> set[str]:
    """Functions, classes, assignments and imports at the module's top level."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names
