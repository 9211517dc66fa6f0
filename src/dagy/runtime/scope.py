"""What every node of a run shares, read once from the worker's payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagy.nodes import ObjectStore, RuntimeSettings
from dagy.runtime.events import EventWriter

DEFAULT_MAX_PARALLEL_NODES = 4


@dataclass
class RunResult:
    status: str  # completed | failed
    output: Any = None
    error: dict[str, Any] | None = None


@dataclass
class RunScope:
    events: EventWriter
    run_id: str = ""
    attempt: int = 1
    org_id: str = ""
    flow_name: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    completed_nodes: dict[str, Any] = field(default_factory=dict)
    subflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_nodes: dict[str, str] = field(default_factory=dict)  # node_type -> "module:Class"
    max_parallel_nodes: int = DEFAULT_MAX_PARALLEL_NODES
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    store: ObjectStore | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any], events: EventWriter) -> RunScope:
        return cls(
            events=events,
            run_id=str(payload.get("run_id") or ""),
            attempt=int(payload.get("attempt") or 1),
            org_id=str(payload.get("org_id") or ""),
            flow_name=str(payload.get("flow_name") or ""),
            secrets=dict(payload.get("secrets") or {}),
            env={str(k): str(v) for k, v in (payload.get("env") or {}).items()},
            completed_nodes=dict(payload.get("completed_nodes") or {}),
            subflows=dict(payload.get("subflows") or {}),
            custom_nodes={str(k): str(v) for k, v in (payload.get("custom_nodes") or {}).items()},
            max_parallel_nodes=int(payload.get("max_parallel_nodes") or DEFAULT_MAX_PARALLEL_NODES),
            settings=RuntimeSettings.from_env(payload.get("host_settings") or {}),
            store=_object_store(payload),
        )


def _object_store(payload: dict[str, Any]) -> ObjectStore | None:
    """The server's folder on the embedded worker (`objects_dir`); over HTTP on a worker that has
    an object token for the run (`objects_api`); else none."""
    run_id, org_id = str(payload.get("run_id") or ""), str(payload.get("org_id") or "")
    store: ObjectStore
    if payload.get("objects_dir"):
        from dagy.runtime.objects import DirectoryObjectStore  # noqa: PLC0415 - only runs that have a store

        store = DirectoryObjectStore(Path(payload["objects_dir"]), org_id, run_id or None)
        return store
    api = payload.get("objects_api")
    if isinstance(api, dict) and api.get("token") and run_id:
        from dagy.runtime.http_objects import HttpObjectStore  # noqa: PLC0415 - only remote runs

        store = HttpObjectStore.from_payload(api, run_id=run_id, attempt=int(payload.get("attempt") or 1))
        return store
    return None
