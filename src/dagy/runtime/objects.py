"""Dagy's object store as a run on the embedded worker sees it: the server's local folder
(`DAGY_HOME/objects`), scoped to the run's org.

The folder holds every org's objects: flow artifacts under `dagy/flows/<org_id>/<flow_name>/` and
the data flows read and write under `dagy/data/<org_id>/`. A run names a key relative to its org's
data (`reports/latest.json` is `dagy/data/<org_id>/reports/latest.json`) or a full key inside its
org's two folders; anything else (`..`, an absolute path, another org's key) is refused. Flow
artifacts are read-only for runs: the server writes them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from dagy.nodes.base import NodeError

ROOT_PREFIX = "dagy/"
_TEMP_SUFFIX = ".dagy-partial"


class DirectoryObjectStore:
    """The `ObjectStore` of `dagy.nodes.base` over a local folder, for one org."""

    def __init__(self, root: Path, org_id: str) -> None:
        if not org_id or "/" in org_id or org_id in (".", ".."):
            raise ValueError(f"not an org id: {org_id!r}")
        self.root = root
        self.org_id = org_id
        self.data_prefix = f"dagy/data/{org_id}/"
        self.flows_prefix = f"dagy/flows/{org_id}/"

    def key(self, key: str) -> str:
        """The full key `key` names for this org; NodeError("forbidden_key") when it is not the org's."""
        if not key or "\\" in key or "\0" in key or key.startswith("/"):
            raise NodeError("forbidden_key", f"{key!r} is not a relative object key.")
        parts = PurePosixPath(key).parts
        if any(part in ("..", ".") for part in parts) or "//" in key:
            raise NodeError("forbidden_key", f"{key!r}: an object key has no empty, . or .. segments.")
        if not key.startswith(ROOT_PREFIX):
            return self.data_prefix + key
        if key.startswith((self.data_prefix, self.flows_prefix)):
            return key
        raise NodeError(
            "forbidden_key",
            f"{key!r} is outside this org's objects ({self.data_prefix}, {self.flows_prefix}).",
        )

    def get(self, key: str) -> bytes:
        path = self._path(self.key(key))
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NodeError("object_not_found", f"No object {key!r} in the object store.") from exc

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` atomically (a reader sees the old object or the new one, never
        part of it); answers the full key."""
        full = self.key(key)
        if full.startswith(self.flows_prefix):
            raise NodeError(
                "forbidden_key", f"{key!r}: flow artifacts are written by the server, not by runs."
            )
        path = self._path(full)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
        try:
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
        org_root = self.root / (
            self.flows_prefix if full_key.startswith(self.flows_prefix) else self.data_prefix
        )
        if not path.resolve().is_relative_to(org_root.resolve()):
            raise NodeError("forbidden_key", f"{full_key!r} leads outside the org's objects.")
        return path
