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
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from dagy.nodes.base import NodeError

ROOT_PREFIX = "dagy/"
_TEMP_SUFFIX = ".dagy-partial"
OBJECT_MODE = 0o660
SHARED_FOLDER_MODE = 0o2775  # group-writable for the org's runs, setgid keeps the group
MAX_KEY_LENGTH = 1024  # characters of a full key
MAX_SEGMENT_BYTES = 255  # a file name's limit on the usual file systems


class DirectoryObjectStore:
    """The `ObjectStore` of `dagy.nodes.base` over a local folder, for one org."""

    def __init__(
        self, root: Path, org_id: str, run_id: str | None = None, *, group: int | None = None
    ) -> None:
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
        # The runs' group when they run as their own users (a root server writing for them): what
        # this store writes in the org's data is theirs to read and replace, as their own writes are.
        self.group = group

    def key(self, key: str) -> str:
        """The full key `key` names for this org; NodeError("forbidden_key") when it is not the org's."""
        if not key or "\\" in key or "\0" in key or key.startswith("/"):
            raise NodeError("forbidden_key", f"{key!r} is not a relative object key.")
        parts = PurePosixPath(key).parts
        segments = key.removesuffix("/").split("/")  # PurePosixPath drops `.` segments
        if any(segment in ("", ".", "..") for segment in segments):
            raise NodeError("forbidden_key", f"{key!r}: an object key has no empty, . or .. segments.")
        if len(key) > MAX_KEY_LENGTH or any(len(p.encode()) > MAX_SEGMENT_BYTES for p in parts):
            raise NodeError(
                "forbidden_key",
                f"An object key has at most {MAX_KEY_LENGTH} characters, "
                f"{MAX_SEGMENT_BYTES} bytes between slashes.",
            )
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
        if full.endswith(_TEMP_SUFFIX) or full.endswith("/"):
            raise NodeError("forbidden_key", f"{key!r} does not name an object (a folder, a partial file).")
        return full

    def path(self, key: str, *, write: bool = False) -> Path:
        """Where the object `key` lives, whether or not it exists; NodeError as `key` (`writable_key`
        with `write`)."""
        return self._path(self.writable_key(key) if write else self.key(key))

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
        file, temp = self.partial_file(path)
        try:
            with file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return full

    def partial_file(self, path: Path) -> tuple[BinaryIO, Path]:
        """A new file beside `path`, for content to be renamed onto it once complete: hidden from
        `list`, `file` and `scan` until then. Creates the missing folders (shared with the runs'
        group, when the store has one, inside the org's data)."""
        shared = (self.root / self.data_prefix) if self.group is not None else None
        _make_folders(path.parent, shared, self.group)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
        try:
            # Readable by the org's other runs (each isolated run has its own uid; they share a group).
            os.fchmod(handle, OBJECT_MODE)
            if self.group is not None:
                os.fchown(handle, -1, self.group)
            return os.fdopen(handle, "wb"), Path(temp)
        except BaseException:
            os.close(handle)
            Path(temp).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        """Remove a writable object, and the folders it leaves empty; NodeError("object_not_found")."""
        path = self.path(key, write=True)
        if not path.is_file() or path.name.endswith(_TEMP_SUFFIX):
            raise NodeError("object_not_found", f"No object {key!r} in the object store.")
        path.unlink(missing_ok=True)
        top = (self.root / self.data_prefix).resolve()
        folder = path.parent
        while folder.resolve() != top and folder.resolve().is_relative_to(top):
            try:
                folder.rmdir()  # only an empty folder; a concurrent write keeps it
            except OSError:
                break
            folder = folder.parent

    def scan(self, prefix: str = "", *, after: str | None = None) -> Iterator[tuple[str, os.stat_result]]:
        """The org's data objects whose keys start with `prefix` (relative to the org's data) and
        sort after `after` (a key relative to it too), in key order, lazily: a page of a listing
        reads only the folders it passes through. Answers keys relative to the org's data."""
        full = self.key(prefix) if prefix else self.data_prefix
        if not full.startswith(self.data_prefix):
            raise NodeError("forbidden_key", f"{prefix!r} is not under the org's data.")
        start = full[: full.rfind("/") + 1]  # the folder holding every key with the prefix
        folder = self._path(start)
        return _scan(folder, start[len(self.data_prefix) :], full[len(self.data_prefix) :], after)

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


def _make_folders(folder: Path, shared: Path | None, group: int | None) -> None:
    """`folder` and its missing parents; those from `shared` down belong to `group`, writable by it
    (setgid: what is made inside keeps the group), as the worker makes the folders it shares."""
    if shared is None or group is None or not folder.is_relative_to(shared):
        folder.mkdir(parents=True, exist_ok=True)
        return
    missing = [f for f in (folder, *folder.parents) if f.is_relative_to(shared) and not f.is_dir()]
    if not missing:
        return
    shared.parent.mkdir(parents=True, exist_ok=True)
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
        os.chown(made, -1, group)
        os.chmod(made, SHARED_FOLDER_MODE)


def _scan(
    folder: Path, relative: str, prefix: str, after: str | None
) -> Iterator[tuple[str, os.stat_result]]:
    """Files below `folder` (whose keys start with `relative`) in key order."""
    for key, entry, is_folder in _entries(folder, relative):
        if not (key.startswith(prefix) or (is_folder and prefix.startswith(key))):
            continue
        if after is not None and key <= after and not (is_folder and after.startswith(key)):
            continue
        if is_folder:
            yield from _scan(Path(entry.path), key, prefix, after)
            continue
        try:
            status = entry.stat()  # a symbolic link's target; one leading nowhere is no object
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            yield key, status


def _entries(folder: Path, relative: str) -> list[tuple[str, os.DirEntry[str], bool]]:
    """(key, entry, is a folder) of a folder's entries, partial files left out, in key order: a
    folder sorts as its name and a slash, which is where its keys sort among its siblings'
    (`a-b` < `a/b` < `a0`)."""
    try:
        with os.scandir(folder) as scanned:
            entries = list(scanned)
    except (FileNotFoundError, NotADirectoryError):
        return []
    named = [
        (relative + entry.name + "/", entry, True)
        if entry.is_dir(follow_symlinks=False)
        else (relative + entry.name, entry, False)
        for entry in entries
        if not entry.name.endswith(_TEMP_SUFFIX)
    ]
    return sorted(named, key=lambda item: item[0])


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
