"""Environments and their deployments: comparing two environments, and promoting a deployment
from one to the next.

Both act on deployments through `deployments.service`, which itself reads environments through
`environments.service`; a protected environment marks every promotion into it in the audit trail.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from dagy.server.db.models import Deployment, Environment
from dagy.server.domains.deployments import service as deployments
from dagy.server.domains.deployments.schemas import DEPLOYMENT_NAME_PATTERN, DeploymentRead
from dagy.server.domains.environments import service as environments
from dagy.server.domains.environments.schemas import (
    DiffItem,
    EnvironmentDiff,
    Promoted,
    Promotion,
    VersionDiffers,
)
from dagy.server.domains.flows import service as flows
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor


def diff_environments(session: Session, *, actor: Actor, env_name: str, target_env: str) -> EnvironmentDiff:
    """Deployments matched by flow name. An environment normally holds one deployment per flow; when
    it holds several, the most recently updated one stands for the flow in `version_differs`."""
    source = _environment(session, actor.org_id, env_name)
    target = _environment(session, actor.org_id, target_env)
    in_source = _by_flow(session, actor.org_id, source)
    in_target = _by_flow(session, actor.org_id, target)
    differs = [
        VersionDiffers(flow_name=flow, source=_diff_item(s[0]), target=_diff_item(in_target[flow][0]))
        for flow, s in sorted(in_source.items())
        if flow in in_target and s[0].flow_version != in_target[flow][0].flow_version
    ]
    return EnvironmentDiff(
        source_environment=source.name,
        target_environment=target.name,
        only_in_source=[
            _diff_item(d) for f, ds in sorted(in_source.items()) if f not in in_target for d in ds
        ],
        only_in_target=[
            _diff_item(d) for f, ds in sorted(in_target.items()) if f not in in_source for d in ds
        ],
        version_differs=differs,
    )


def promote_deployment(session: Session, *, actor: Actor, data: Promotion) -> Promoted:
    """Create (or move) the target environment's deployment to the source's flow and version."""
    source = deployments.find_deployment(session, org_id=actor.org_id, name=data.source_deployment)
    if source is None:
        raise NotFound(
            f"Deployment {data.source_deployment} not found.",
            details={"source_deployment": "no such deployment"},
        )
    environment = environments.find_environment(session, org_id=actor.org_id, name=data.target_environment)
    if environment is None:
        raise NotFound(
            f"Environment {data.target_environment} not found.",
            details={"target_environment": "no such environment"},
        )
    if source.environment_id == environment.id:
        raise InvalidInput(
            "The deployment is already in this environment.",
            details={"target_environment": "must differ from the source deployment's environment"},
        )
    read = deployments.read_deployment(session, source)
    version = flows.version_for_deployment(
        session,
        org_id=actor.org_id,
        flow_id=source.flow_id,
        label=str(data.flow_version or read.flow_version),
    )
    name = data.new_deployment_name or _promoted_name(read, environment.name)
    target = deployments.find_deployment(session, org_id=actor.org_id, name=name)
    if target is not None:
        _check_promotion_target(target, source, environment)
    promoted = deployments.promote_into(
        session,
        actor=actor,
        source=source,
        target=target,
        name=name,
        environment=environment,
        version=version,
    )
    return Promoted(
        target_deployment=promoted.name,
        deployment_id=promoted.id,
        flow_name=read.flow_name,
        flow_version=version.version,
        target_environment=environment.name,
        source_deployment=source.name,
        source_environment=read.environment,
        promoted_at=promoted.promoted_at or promoted.updated_at,
    )


def _promoted_name(source: DeploymentRead, target_env: str) -> str:
    """`my-flow-staging` → `my-flow-production`; otherwise `<flow>-<target env>`."""
    suffix = f"-{source.environment}" if source.environment else None
    if suffix and source.deployment_name.endswith(suffix):
        name = source.deployment_name.removesuffix(suffix) + f"-{target_env}"
    else:
        name = f"{source.flow_name}-{target_env}"
    if not re.match(DEPLOYMENT_NAME_PATTERN, name):
        raise InvalidInput(
            "The default name of the promoted deployment is too long.",
            details={"new_deployment_name": "required: the default name would exceed 128 characters"},
        )
    return name


def _check_promotion_target(target: Deployment, source: Deployment, environment: Environment) -> None:
    if target.id == source.id:
        raise InvalidInput(
            "The target name is the source deployment.", details={"new_deployment_name": "names the source"}
        )
    if target.environment_id != environment.id or target.flow_id != source.flow_id:
        raise Conflict(
            f"Deployment {target.name} already exists outside {environment.name} or for another flow.",
            details={"new_deployment_name": "taken by another deployment; choose another name"},
        )


def _by_flow(session: Session, org_id: str, environment: Environment) -> dict[str, list[DeploymentRead]]:
    """The environment's deployments by flow name, most recently updated first."""
    reads = deployments.read_deployments_in_environment(session, org_id=org_id, environment_id=environment.id)
    grouped: dict[str, list[DeploymentRead]] = {}
    for read in sorted(reads, key=lambda r: (r.updated_at, r.deployment_name), reverse=True):
        grouped.setdefault(read.flow_name, []).append(read)
    return grouped


def _diff_item(read: DeploymentRead) -> DiffItem:
    return DiffItem(
        deployment_name=read.deployment_name,
        flow_name=read.flow_name,
        flow_version=read.flow_version,
        updated_at=read.updated_at,
    )


def _environment(session: Session, org_id: str, name: str) -> Environment:
    environment = environments.find_environment(session, org_id=org_id, name=name)
    if environment is None:
        raise NotFound(f"Environment {name} not found.")
    return environment
