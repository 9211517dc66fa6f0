"""The node registry: built-in types from `dagy.nodes`, plus each org's custom types, stored as
definitions (versioned on every update) and checked by the same rules as the built-ins."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from dagy.nodes import (
    CATEGORIES,
    NODE_TYPES,
    Connector,
    NodeDefinition,
    builtin_definitions,
    connection_problem,
    definition_problems,
)
from dagy.server.db.base import utcnow
from dagy.server.db.models import CustomNode, CustomNodeVersion
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.nodes import repository as repo
from dagy.server.domains.nodes.schemas import (
    CategoryList,
    CategoryRead,
    ConnectionCheck,
    ConnectionVerdict,
    ConnectorRead,
    CustomNodeCreate,
    CustomNodeUpdate,
    NodeDefinitionRead,
    NodeRegistryList,
)
from dagy.server.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuotaExceeded,
)
from dagy.server.identity import Actor

RESOURCE = "custom_node"
MAX_CUSTOM_NODES = 200  # per org: the registry answers in one response, so it stays small
MAX_DEFINITION_BYTES = 64 * 1024
# Fixed paths under /nodes/registry: a node type of that name could never be read back.
RESERVED_NAMES = frozenset({"builtin", "custom", "categories", "search"})


def custom_node_definitions(session: Session, *, org_id: str) -> list[NodeDefinition]:
    """The org's custom node types, for validating flow specs."""
    return [
        NodeDefinition.from_dict(row.definition)
        for row in repo.list_custom(session, org_id, limit=MAX_CUSTOM_NODES)
    ]


def list_registry(
    session: Session, *, actor: Actor, include_custom: bool = True, org_id: str | None = None
) -> NodeRegistryList:
    """Built-ins in the builder's order, then the org's custom types by name."""
    _same_org(actor, org_id)
    custom = repo.list_custom(session, actor.org_id, limit=MAX_CUSTOM_NODES) if include_custom else []
    return _listing(_builtin_reads(), [_custom_read(row) for row in custom])


def list_builtin_nodes() -> NodeRegistryList:
    return _listing(_builtin_reads(), [])


def list_custom_nodes(session: Session, *, actor: Actor) -> NodeRegistryList:
    return _listing(
        [], [_custom_read(row) for row in repo.list_custom(session, actor.org_id, limit=MAX_CUSTOM_NODES)]
    )


def list_categories(session: Session, *, actor: Actor, include_custom: bool = True) -> CategoryList:
    """Every category, even an empty one, with how many node types the org can use in it."""
    items = list_registry(session, actor=actor, include_custom=include_custom).items
    return CategoryList(
        categories=[
            CategoryRead(id=key, label=label, count=sum(1 for i in items if i.category == key))
            for key, label in CATEGORIES.items()
        ]
    )


def search_nodes(
    session: Session, *, actor: Actor, q: str, include_custom: bool = True, org_id: str | None = None
) -> NodeRegistryList:
    """Node types whose type, label, description or tags contain every word of `q` (any case)."""
    words = q.lower().split()
    listing = list_registry(session, actor=actor, include_custom=include_custom, org_id=org_id)
    found = [item for item in listing.items if all(word in _haystack(item) for word in words)]
    return _listing([i for i in found if i.official], [i for i in found if not i.official])


def get_node(session: Session, *, actor: Actor, node_type: str) -> NodeDefinitionRead:
    builtin = NODE_TYPES.get(node_type)
    if builtin is not None:
        return _read(builtin.definition, executable=builtin.executable)
    return _custom_read(_custom_or_404(session, actor.org_id, node_type))


def register_custom_node(session: Session, *, actor: Actor, data: CustomNodeCreate) -> NodeDefinitionRead:
    """Add an org's own node type; its name may not shadow a built-in or another custom type."""
    if data.node_type in RESERVED_NAMES:
        raise InvalidInput(
            f"{data.node_type} is a reserved name.", details={"node_type": "reserved by the registry's paths"}
        )
    if data.node_type in NODE_TYPES:
        raise Conflict(
            f"{data.node_type} is a built-in node type.",
            details={"node_type": "a built-in node type has this name"},
        )
    if repo.get_custom(session, actor.org_id, data.node_type) is not None:
        raise Conflict(
            f"Custom node type {data.node_type} already exists.", details={"node_type": "already exists"}
        )
    if repo.count_custom(session, actor.org_id) >= MAX_CUSTOM_NODES:
        raise QuotaExceeded(
            f"An organization has at most {MAX_CUSTOM_NODES} custom node types.",
            details={"node_type": f"at most {MAX_CUSTOM_NODES} custom node types per organization"},
        )
    definition = _checked(data.model_dump(exclude={"official"}))
    row = CustomNode(org_id=actor.org_id, node_type=data.node_type, definition=definition, version=1)
    repo.add(session, row)
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type=RESOURCE,
        resource_id=row.id,
        resource_name=row.node_type,
        changes={"node_type": [None, row.node_type], "version": [None, 1]},
    )
    return _custom_read(row)


def update_custom_node(
    session: Session, *, actor: Actor, node_type: str, data: CustomNodeUpdate
) -> NodeDefinitionRead:
    """Replace the fields given; the previous definition is kept as a version snapshot first."""
    _refuse_builtin(node_type, "changed")
    row = _custom_or_404(session, actor.org_id, node_type, for_update=True)
    if data.node_type is not None and data.node_type != node_type:
        raise InvalidInput(
            "A custom node type cannot be renamed.",
            details={"node_type": f"must be {node_type} (the path's)"},
        )
    changes = data.model_dump(include=data.model_fields_set - {"node_type", "official"})
    definition = _checked({**row.definition, **changes})
    if definition == row.definition:
        return _custom_read(row)
    repo.add(
        session, CustomNodeVersion(custom_node_id=row.id, version=row.version, definition=row.definition)
    )
    before = row.definition
    row.definition = definition
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=row.id,
        resource_name=row.node_type,
        changes=diff(before, definition) | {"version": [row.version - 1, row.version]},
    )
    return _custom_read(row)


def delete_custom_node(session: Session, *, actor: Actor, node_type: str) -> None:
    """Flows already registered keep their spec; new specs naming the type are refused."""
    _refuse_builtin(node_type, "deleted")
    row = _custom_or_404(session, actor.org_id, node_type, for_update=True)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type=RESOURCE,
        resource_id=row.id,
        resource_name=row.node_type,
        changes={"node_type": [row.node_type, None], "version": [row.version, None]},
    )
    repo.delete(session, row)


def validate_connection(session: Session, *, actor: Actor, data: ConnectionCheck) -> ConnectionVerdict:
    """May an edge join these connectors: known types, right directions, a shared data type, and
    room left on connectors that take one edge. Every reason is listed; `reason` is the first."""
    errors: list[str] = []
    source = _known(session, actor.org_id, data.source_node_type, "source", errors)
    target = _known(session, actor.org_id, data.target_node_type, "target", errors)
    out = _pick(source, data.source_connector_id, outgoing=True, errors=errors) if source else None
    into = _pick(target, data.target_connector_id, outgoing=False, errors=errors) if target else None
    if out is not None and into is not None:
        problem = connection_problem(out, into)
        if problem is not None:
            errors.append(problem)
    for connector, existing in (
        (out, data.existing_source_connections),
        (into, data.existing_target_connections),
    ):
        if connector is not None and connector.single and existing >= 1:
            errors.append(f"{connector.id!r} takes at most one edge and already has {existing}")
    return ConnectionVerdict(
        valid=not errors,
        reason=errors[0] if errors else None,
        errors=errors,
        source_connector=ConnectorRead(**out.to_dict()) if out else None,
        target_connector=ConnectorRead(**into.to_dict()) if into else None,
    )


def _known(
    session: Session, org_id: str, node_type: str, end: str, errors: list[str]
) -> NodeDefinition | None:
    definition = known_definition(session, org_id, node_type)
    if definition is None:
        errors.append(f"unknown {end} node type {node_type!r}")
    return definition


def _pick(
    definition: NodeDefinition, connector_id: str | None, *, outgoing: bool, errors: list[str]
) -> Connector | None:
    """The named connector, else the first outbound (source) or inbound (target) one."""
    if connector_id is not None:
        found = definition.connector(connector_id)
        if found is None:
            names = ", ".join(c.id for c in definition.connectors) or "none"
            errors.append(
                f"{definition.node_type} has no connector {connector_id!r}; its connectors: {names}"
            )
        return found
    candidates = definition.outbound if outgoing else definition.inbound
    if not candidates:
        errors.append(f"{definition.node_type} has no {'outbound' if outgoing else 'inbound'} connectors")
        return None
    return candidates[0]


def known_definition(session: Session, org_id: str, node_type: str) -> NodeDefinition | None:
    """A built-in or the org's custom definition by name; None when neither exists."""
    builtin = NODE_TYPES.get(node_type)
    if builtin is not None:
        return builtin.definition
    row = repo.get_custom(session, org_id, node_type)
    return NodeDefinition.from_dict(row.definition) if row is not None else None


def _same_org(actor: Actor, org_id: str | None) -> None:
    """The reference lets a caller name the org; it can only be its own (another org is a 404)."""
    if org_id is not None and org_id != actor.org_id:
        raise NotFound("Organization not found.")


def _refuse_builtin(node_type: str, verb: str) -> None:
    if node_type in NODE_TYPES:
        raise PermissionDenied(
            f"{node_type} is a built-in node type; it cannot be {verb}.",
            details={"node_type": "built-in node types are read-only"},
        )


def _custom_or_404(session: Session, org_id: str, node_type: str, *, for_update: bool = False) -> CustomNode:
    row = repo.get_custom(session, org_id, node_type, for_update=for_update)
    if row is None:
        raise NotFound("Node type not found.", details={"node_type": node_type[:64]})
    return row


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a custom definition, once it is well-formed: `official` is always false."""
    definition = NodeDefinition.from_dict({**body, "official": False})
    problems = definition_problems(definition)
    if problems:
        raise InvalidInput("Invalid node definition.", details=problems)
    stored = definition.to_dict()
    if len(json.dumps(stored, separators=(",", ":")).encode()) > MAX_DEFINITION_BYTES:
        raise PayloadTooLarge(
            "The node definition is too large.",
            details={"definition": f"at most {MAX_DEFINITION_BYTES} bytes"},
        )
    return stored


def _listing(builtin: list[NodeDefinitionRead], custom: list[NodeDefinitionRead]) -> NodeRegistryList:
    return NodeRegistryList(
        items=[*builtin, *custom],
        total=len(builtin) + len(custom),
        builtin_count=len(builtin),
        custom_count=len(custom),
    )


def _builtin_reads() -> list[NodeDefinitionRead]:
    return [_read(d, executable=NODE_TYPES[d.node_type].executable) for d in builtin_definitions()]


def _custom_read(row: CustomNode) -> NodeDefinitionRead:
    definition = NodeDefinition.from_dict(row.definition)
    return _read(
        definition,
        executable=False,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _read(definition: NodeDefinition, *, executable: bool, **extra: Any) -> NodeDefinitionRead:
    return NodeDefinitionRead.model_validate({**definition.to_dict(), "executable": executable, **extra})


def _haystack(item: NodeDefinitionRead) -> str:
    return " ".join([item.node_type, item.label, item.description, *item.tags]).lower()
