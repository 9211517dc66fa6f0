"""What a claimed run carries besides its spec: everything its process needs and cannot ask the
server for, since a run's process holds no credentials (docs/workers.md, "The claim payload").

- `secrets`: the values of the secrets the spec, and the specs of its subflows, reference as
  `{"secret": "name"}` or declare in `secrets` (for their code), chosen in the deployment's
  environment (else the secret without one).
- `env`: the variables of the deployment's environment.
- `completed_nodes`: outputs of the nodes earlier attempts completed, so the attempt resumes.
- `approvals`: the decisions that approved the run's approval nodes, which they complete with.
- `subflows`: the flow versions that `subflow` nodes run, five levels deep at most.
- `limits`: memory and wall time of the run's execution mode.
- `artifact`: a code flow's artifact and entry point.
- `custom_nodes`: the import paths of the org's custom node types the specs use; the worker's
  Python environment provides their code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy.orm import Session

from dagy.nodes import NODE_TYPES
from dagy.nodes.control_flow import APPROVAL
from dagy.protocol import Artifact, ExecutionLimits, Subflow
from dagy.runtime.limits import DEFAULT_MODE, EXECUTION_MODE_LIMITS
from dagy.secrets import referenced_names
from dagy.server.db.models import FlowVersion, Run
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.approvals import approved_decisions
from dagy.server.domains.secrets import service as secrets
from dagy.server.domains.secrets.crypto import EncryptionKeyError
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.orchestration import SECRET_NOT_FOUND, SECRET_UNREADABLE
from dagy.server.settings import Settings

MAX_SUBFLOW_DEPTH = 5
BUILTIN_TYPES = frozenset(NODE_TYPES)
SUBFLOW_NODE_TYPE = "subflow"
NO_ENVIRONMENT = ""  # the secrets service's selector for the secret without an environment


class UnresolvedSecret(Exception):
    """A secret the run needs cannot be handed out; `error` is the run's error (no value in it)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


def run_payload(session: Session, run: Run, version: FlowVersion, *, settings: Settings) -> dict[str, Any]:
    """The claim fields of `run` beyond its row. Raises `UnresolvedSecret`."""
    subflows = resolve_subflows(session, run.org_id, version.flow_spec)
    environment = (
        repo.deployment_environment(session, run.org_id, run.deployment_name) if run.deployment_name else None
    )
    env_name = environment.name if environment is not None else None
    specs = [version.flow_spec, *(s.flow_spec for s in subflows.values())]
    names = referenced_names(specs)
    return {
        "deployment_name": run.deployment_name,
        "secrets": {name: _secret_value(session, run.org_id, name, env_name, settings) for name in names},
        "env": dict(environment.variables) if environment is not None else {},
        "completed_nodes": repo.completed_node_outputs(session, run.id, before_attempt=run.attempt),
        "approvals": approved_decisions(session, run.id) if _has_approval(version.flow_spec) else {},
        "subflows": subflows,
        "limits": ExecutionLimits(
            **EXECUTION_MODE_LIMITS.get(run.execution_mode, EXECUTION_MODE_LIMITS[DEFAULT_MODE])
        ),
        "artifact": _artifact(version),
        "custom_nodes": repo.custom_node_import_paths(
            session, run.org_id, {str(node.get("type")) for node in _nodes(specs)} - BUILTIN_TYPES
        ),
    }


def resolve_subflows(session: Session, org_id: str, spec: Mapping[str, Any] | None) -> dict[str, Subflow]:
    """`name` or `name@version` -> the org's flow version, for every `subflow` node of `spec` and of
    the subflows' specs, level by level, at most five levels deep. A flow met again (a cycle) is not
    looked up twice; an unknown one is left out: the runtime fails that node (`unknown_subflow`)."""
    found: dict[str, Subflow] = {}
    unknown: set[str] = set()
    level: list[Mapping[str, Any] | None] = [spec]
    for _depth in range(MAX_SUBFLOW_DEPTH):
        next_level: list[Mapping[str, Any] | None] = []
        for flow_name, flow_version in _subflow_references(level):
            key = flow_name if flow_version is None else f"{flow_name}@{flow_version}"
            if key in found or key in unknown:
                continue
            row = repo.get_flow_version(session, org_id, flow_name, flow_version)
            if row is None:
                unknown.add(key)
                continue
            name, version = row
            found[key] = Subflow(flow_name=name, flow_version=version.version, flow_spec=version.flow_spec)
            next_level.append(version.flow_spec)
        if not next_level:
            break
        level = next_level
    return found


def _nodes(specs: Iterable[Mapping[str, Any] | None]) -> Iterator[Mapping[str, Any]]:
    for spec in specs:
        nodes = (spec or {}).get("nodes")
        for node in nodes if isinstance(nodes, list) else ():
            if isinstance(node, dict):
                yield node


def _has_approval(spec: Mapping[str, Any] | None) -> bool:
    """Whether the run's own spec has an approval node: a claim of any other run looks up no decision."""
    return any(node.get("type") == APPROVAL for node in _nodes([spec]))


def _subflow_references(specs: Iterable[Mapping[str, Any] | None]) -> Iterator[tuple[str, str | None]]:
    for node in _nodes(specs):
        data = node.get("data")
        if node.get("type") != SUBFLOW_NODE_TYPE or not isinstance(data, dict):
            continue
        flow_name, flow_version = data.get("flow_name"), data.get("flow_version")
        if isinstance(flow_name, str) and flow_name:
            has_version = isinstance(flow_version, str | int) and not isinstance(flow_version, bool)
            yield flow_name, (str(flow_version) if has_version and str(flow_version) else None)


def _secret_value(
    session: Session, org_id: str, name: str, environment: str | None, settings: Settings
) -> str:
    """The secret in the deployment's environment, else the one without an environment. Without a
    deployment environment, the secrets API's own choice (docs/secrets.md)."""
    try:
        return _resolve(session, org_id, name, environment, settings)
    except NotFound:
        where = f" in environment {environment} or without one" if environment is not None else ""
        message = f"The flow references secret {name!r}, which does not exist{where}."
    except InvalidInput:
        message = (
            f"Several environments have a secret named {name!r}; deploy the flow to an environment "
            "to choose one."
        )
    except EncryptionKeyError:
        raise UnresolvedSecret(
            {
                "type": SECRET_UNREADABLE,
                "message": f"Secret {name!r} cannot be decrypted with this server's keys.",
                "secret": name,
            }
        ) from None
    raise UnresolvedSecret({"type": SECRET_NOT_FOUND, "message": message, "secret": name})


def _resolve(session: Session, org_id: str, name: str, environment: str | None, settings: Settings) -> str:
    if environment is not None:
        try:
            return secrets.resolve_secret_value(
                session, org_id=org_id, name=name, environment=environment, settings=settings
            )
        except NotFound:
            environment = NO_ENVIRONMENT
    return secrets.resolve_secret_value(
        session, org_id=org_id, name=name, environment=environment, settings=settings
    )


def _artifact(version: FlowVersion) -> Artifact | None:
    if version.artifact_s3_uri is None:
        return None
    entrypoint = (version.flow_spec or {}).get("entrypoint")
    return Artifact(
        uri=version.artifact_s3_uri, entrypoint=entrypoint if isinstance(entrypoint, str) else None
    )
