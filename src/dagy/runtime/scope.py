"""What every node of a run shares, read once from the worker's payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagy.secrets
from dagy.nodes import ObjectStore
from dagy.protocol import ClaimedRun, HostSettings, RunPayload, Subflow
from dagy.protocol.payload import DEFAULT_MAX_PARALLEL_NODES
from dagy.runtime.events import EventWriter
from dagy.runtime.runners import InProcess, NodeRunner


@dataclass
class RunResult:
    status: str  # completed | failed | waiting (an approval node has no decision yet)
    output: Any = None
    error: dict[str, Any] | None = None
    waiting_for: dict[str, Any] | None = None  # with `waiting`: the protocol's `Waiting` fields


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
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)  # node_id -> its decision (output)
    subflows: dict[str, Subflow] = field(default_factory=dict)
    custom_nodes: dict[str, str] = field(default_factory=dict)  # node_type -> "module:Class"
    max_parallel_nodes: int = DEFAULT_MAX_PARALLEL_NODES
    settings: HostSettings = field(default_factory=HostSettings)
    store: ObjectStore | None = None
    runner: NodeRunner = field(default_factory=InProcess)  # where node tries execute (runners.py)

    @classmethod
    def from_payload(cls, payload: RunPayload, events: EventWriter) -> RunScope:
        claim = payload.claim
        return cls(
            events=events,
            run_id=claim.run_id,
            attempt=claim.attempt,
            org_id=claim.org_id,
            flow_name=claim.flow_name,
            secrets=dict(claim.secrets),
            env=dict(claim.env),
            completed_nodes=dict(claim.completed_nodes),
            approvals={k: v.model_dump(mode="json") for k, v in claim.approvals.items()},
            subflows=dict(claim.subflows),
            custom_nodes=dict(claim.custom_nodes),
            max_parallel_nodes=payload.max_parallel_nodes,
            settings=payload.host_settings,
            store=_object_store(payload),
            runner=_runner(payload, events),
        )


def declared_secrets(claim: ClaimedRun) -> dict[str, str]:
    """The values of the secrets the run's flow and its subflows declare (`dagy.secrets.get`)."""
    specs = [claim.flow_spec, *(s.flow_spec for s in claim.subflows.values())]
    return {name: claim.secrets[name] for name in dagy.secrets.declared_names(specs) if name in claim.secrets}


def _runner(payload: RunPayload, events: EventWriter) -> NodeRunner:
    """The host's Dask cluster when it names one (`dagy worker --dask-address`), else this process."""
    address = payload.host_settings.dask_address
    if not address:
        return InProcess()
    from dagy.runtime.dask_runner import DaskRunner  # noqa: PLC0415 - only a Dask worker's runs

    claim = payload.claim
    name = f"dagy-run-{claim.run_id or 'local'}-{claim.attempt}"
    return DaskRunner(address, events, secrets=declared_secrets(claim), name=name)


def _object_store(payload: RunPayload) -> ObjectStore | None:
    """The server's folder on the embedded worker (`objects_dir`); over HTTP with the claim's object
    token on a worker without that folder (`objects_api`); else none."""
    claim = payload.claim
    store: ObjectStore
    if payload.objects_dir:
        from dagy.runtime.objects import DirectoryObjectStore  # noqa: PLC0415 - only runs that have a store

        store = DirectoryObjectStore(Path(payload.objects_dir), claim.org_id, claim.run_id or None)
        return store
    if payload.objects_api is not None and claim.objects_token and claim.run_id:
        from dagy.runtime.http_objects import HttpObjectStore  # noqa: PLC0415 - only remote runs

        api = payload.objects_api
        store = HttpObjectStore(
            api.url, claim.objects_token, run_id=claim.run_id, worker_id=api.worker_id, attempt=claim.attempt
        )
        return store
    return None
