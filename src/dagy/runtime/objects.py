"""Dagy's object store as a run on the embedded worker sees it: the server's local folder
(`DAGY_HOME/objects`), scoped to the run's org.

The folder holds every org's objects: flow artifacts under `dagy/flows/<org_id>/<flow_name>/`,
the data flows read and write under `dagy/data/<org_id>/`, and what runs persist of themselves
(large node outputs) under `dagy/runs/<org_id>/<run_id>/`. A run names a key relative to its org's
data (`reports/latest.json` is `dagy/data/<org_id>/reports/latest.json`) or a full key inside its
org's folders; anything else (`..`, an absolute path, another org's key) is refused. Flow
artifacts are read-only for runs (the server writes them); the org's run folders are readable,
and a store made for one run (`run_id`) writes only that run's folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from dagy.nodes.base import NodeError

ROOT_PREFIX = "dagy/"
_TEMP_SUFFIX = ".dagy-partial"
OBJECT_MODE = 0o660


class DirectoryObjectStore:
    """The `ObjectStore` of `dagy.nodes.base` over a local folder, for one org."""

    def __init__(self, root: Path, org_id: str, run_id: str | None = None) -> None:
        if not _is_segment(org_id):
            raise ValueError(f"not an org id: {org_id!r}")
        if run_id is not None and not _is_segment(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        self.root = root
        self.org_id = org_id
        self.data_prefix = data_prefix(org_id)
        self.flows_prefix = flows_prefix(org_id)
        self.runs_prefix = run_objects_prefix(org_id)
        # The one run folder this store may write; None: no run's folder (a store outside a run).
        self.run_prefix = run_objects_prefix(org_id, run_id) if run_id else None

    def key(self, key: str) -> str:
        """The full key `key` names for this org; NodeError("forbidden_key") when it is not the org's."""
        if not key or "\\" in key or "\0" in key or key.startswith("/"):
            raise NodeError("forbidden_key", f"{key!r} is not a relative object key.")
        parts = PurePosixPath(key).parts
        if any(part in ("..", ".") for part in parts) or "//" in key:
            raise NodeError("forbidden_key", f"{key!r}: an object key has no empty, . or .. segments.")
        if not key.startswith(ROOT_PREFIX):
            return self.data_prefix + key
        if key.startswith((self.data_prefix, self.flows_prefix, self.runs_prefix)):
            return key
        raise NodeError(
            "forbidden_key",
            f"{key!r} is outside this org's objects "
            f"({self.data_prefix}, {self.flows_prefix}, {self.runs_prefix}).",
        )

    def writable_key(self, key: str) -> str:
        """The full key of `key` when this store may write it: the org's data, or this run's folder."""
        full = self.key(key)
        if full.startswith(self.flows_prefix):
            raise NodeError(
                "forbidden_key", f"{key!r}: flow artifacts are written by the server, not by runs."
            )
        own = self.run_prefix is not None and full.startswith(self.run_prefix)
        if full.startswith(self.runs_prefix) and not own:
            raise NodeError(
                "forbidden_key", f"{key!r}: a run writes only its own folder ({self.run_prefix})."
            )
        return full

    def get(self, key: str) -> bytes:
        path = self._path(self.key(key))
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NodeError("object_not_found", f"No object {key!r} in the object store.") from exc

    def file(self, key: str) -> Path:
        """The file holding a readable object (to stream it); NodeError as `get`."""
        path = self._path(self.key(key))
        if not path.is_file() or path.name.endswith(_TEMP_SUFFIX):
            raise NodeError("object_not_found", f"No object {key!r} in the object store.")
        return path

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` atomically (a reader sees the old object or the new one, never
        part of it); answers the full key."""
        full = self.writable_key(key)
        path = self._path(full)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
        try:
            # Readable by the org's other runs (each isolated run has its own uid; they share a group).
            os.fchmod(handle, OBJECT_MODE)
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return full

    def list(self, prefix: str) -> list[str]:
        """The full keys starting with `prefix` (relative to the org's data like any key; empty: all
        of the org's data), sorted."""
        full = self.key(prefix) if prefix else self.data_prefix
        folder = self._path(full if full.endswith("/") else full.rsplit("/", 1)[0] + "/")
        if not folder.is_dir():
            return []
        root = self.root.resolve()
        keys = (
            path.relative_to(root).as_posix()
            for path in folder.resolve().rglob("*")
            if path.is_file() and not path.name.endswith(_TEMP_SUFFIX)
        )
        return sorted(key for key in keys if key.startswith(full))

    def _path(self, full_key: str) -> Path:
        """Where a full key lives; a symbolic link leading out of the org's folder is refused."""
        path = self.root / full_key
        prefix = next(
            (p for p in (self.flows_prefix, self.runs_prefix) if full_key.startswith(p)), self.data_prefix
        )
        org_root = self.root / prefix
        if not path.resolve().is_relative_to(org_root.resolve()):
            raise NodeError("forbidden_key", f"{full_key!r} leads outside the org's objects.")
        return path


def data_prefix(org_id: str) -> str:
    """`dagy/data/<org_id>/`: the data an org's flows read and write."""
    return f"dagy/data/{org_id}/"


def flows_prefix(org_id: str) -> str:
    """`dagy/flows/<org_id>/`: the org's flow artifacts (written by the server)."""
    return f"dagy/flows/{org_id}/"


def run_objects_prefix(org_id: str, run_id: str | None = None) -> str:
    """`dagy/runs/<org_id>/`, or `dagy/runs/<org_id>/<run_id>/`: what a run persists of itself
    (large node outputs); removed with the run."""
    return f"dagy/runs/{org_id}/" + (f"{run_id}/" if run_id else "")


def _is_segment(value: str) -> bool:
    return bool(value) and "/" not in value and "\\" not in value and value not in (".", "..")
