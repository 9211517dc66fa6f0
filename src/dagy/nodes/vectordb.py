"""Vector DB: storing, searching and deleting embeddings in a vector store.

The store is Qdrant: embedded (qdrant-client's local mode, no service to run) in a folder per org
under `DAGY_VECTOR_DIR`, so one org never sees another's collections; or a Qdrant server when
`connection_url` names one. Local mode allows one client per folder at a time, so every node run
takes the org's lock file first and waits (up to `LOCK_WAIT_SECONDS`) while another run holds it.

An entry's id may be any string: its point id is a UUID derived from the namespace and the id, and
the id itself is kept in the payload. A namespace is a payload field every read, write and delete
is filtered by, so the same id may live in two namespaces of one collection.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeGuard

from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import AT_MOST_ONE, inbound, outbound
from dagy.nodes.definition import NodeDefinition

LOCK_WAIT_SECONDS = 120.0
_ID_FIELD = "_dagy_id"  # payload keys of Dagy's own, never shown as metadata
_NAMESPACE_FIELD = "_dagy_namespace"
_POINT_IDS = uuid.UUID("6f1c2a4e-9b7d-5e3f-8a21-d4c0b9e7f612")  # the uuid5 namespace of point ids
_COLLECTION = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ORG_FOLDER = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_COLLECTION_RULE = "1-128 characters of letters, digits, _ and -"

_STORE = (
    ConfigField(
        "provider",
        "Vector store",
        "enum",
        default="qdrant",
        options=("qdrant",),
        description="Embedded in the worker's DAGY_VECTOR_DIR, or the Qdrant server of connection_url.",
    ),
    ConfigField("collection", "Collection", "string", required=True, description=_COLLECTION_RULE + "."),
    ConfigField(
        "connection_url",
        "Connection URL",
        "secret",
        description="A Qdrant server (http://host:6333); empty: the embedded store.",
    ),
    ConfigField("api_key", "API key", "secret", description="The Qdrant server's API key."),
    ConfigField("namespace", "Namespace", "string", description="A partition of the collection."),
)


class VectorUpsertNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="vector_upsert",
        label="Vector Upsert",
        description="Insert or replace embeddings (with their ids and metadata) in a collection.",
        category="vectordb",
        icon="DatabaseZap",
        color="teal",
        tags=("vector", "embeddings", "upsert", "index", "rag", "qdrant"),
        connectors=(
            inbound(("vector",), connector_id="vectors_in", name="Vectors", required=True),
            outbound(("json",), name="Summary"),
        ),
        config_schema=(*_STORE, ConfigField("batch_size", "Batch size", "integer", default=100)),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        return _collection_problem(data)

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        from qdrant_client import models  # noqa: PLC0415 - imported when the node runs

        name, namespace = _collection(config), _namespace(config)
        points = [_point(record, index, namespace) for index, record in enumerate(_records(inputs))]
        if not points:
            return {"collection": name, "upserted": 0}
        dimension = len(points[0].vector)
        if any(len(point.vector) != dimension for point in points):
            raise NodeError("dimension_mismatch", "The embeddings do not all have the same dimension.")
        batch_size = max(1, int(config.get("batch_size", 100)))
        with open_store(config, context) as client:
            if not client.collection_exists(name):
                vectors = models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                client.create_collection(name, vectors_config=vectors)
                context.logger.info("created collection %s (%d dimensions, cosine)", name, dimension)
            _check_dimension(client, name, dimension)
            for start in range(0, len(points), batch_size):
                client.upsert(name, points=points[start : start + batch_size], wait=True)
        context.logger.info("upserted %d entries into %s", len(points), name)
        return {"collection": name, "upserted": len(points)}


class VectorSearchNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="vector_search",
        label="Vector Search",
        description="Find the entries nearest to a query text or vector.",
        category="vectordb",
        icon="Search",
        color="teal",
        tags=("vector", "similarity", "semantic search", "retrieval", "rag"),
        connectors=(
            inbound(
                ("string", "vector"),
                connector_id="query_in",
                name="Query",
                cardinality=AT_MOST_ONE,
                required=True,
            ),
            outbound(("dataframe", "json"), connector_id="results_out", name="Matches"),
        ),
        config_schema=(
            *_STORE,
            ConfigField("top_k", "Results", "integer", default=5),
            ConfigField("filter", "Metadata filter", "object", description="{field: value} all equal."),
            ConfigField("min_score", "Minimum score", "number", description="Cosine similarity, -1 to 1."),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        problems = _collection_problem(data)
        top_k = data.get("top_k")
        if isinstance(top_k, int) and not 1 <= top_k <= 1000:
            problems["top_k"] = "must be between 1 and 1000"
        return problems

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        name = _collection(config)
        query = _query_vector(inputs)
        min_score = config.get("min_score")
        with open_store(config, context) as client:
            if not client.collection_exists(name):
                raise NodeError("collection_not_found", f"There is no collection {name!r}.")
            _check_dimension(client, name, len(query))
            hits = client.query_points(
                name,
                query=query,
                query_filter=_filter(config, config.get("filter") or {}),
                limit=int(config.get("top_k", 5)),
                score_threshold=None if min_score is None else float(min_score),
                with_payload=True,
            ).points
        return [_match(hit.payload or {}, hit.score) for hit in hits]


class VectorDeleteNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="vector_delete",
        label="Vector Delete",
        description="Delete entries from a collection by id (from the input) or by metadata filter.",
        category="vectordb",
        icon="Trash2",
        color="teal",
        tags=("vector", "delete", "purge", "gdpr"),
        connectors=(
            inbound(("json", "dataframe"), connector_id="ids_in", name="Ids"),
            outbound(("json",), name="Summary"),
        ),
        config_schema=(
            *_STORE,
            ConfigField("id_field", "Id field", "string", default="id"),
            ConfigField(
                "filter",
                "Metadata filter",
                "object",
                description="Used when no ids come in; {} deletes the whole namespace.",
            ),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        return _collection_problem(data)

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        from qdrant_client import models  # noqa: PLC0415 - imported when the node runs

        name, namespace = _collection(config), _namespace(config)
        if not inputs and config.get("filter") is None:
            raise NodeError("invalid_config", "Nothing to delete: no ids come in and no filter is set.")
        with open_store(config, context) as client:
            if not client.collection_exists(name):
                return {"collection": name, "deleted": 0}
            if inputs:
                ids: list[models.ExtendedPointId] = [
                    point_id(value, namespace) for value in _incoming_ids(inputs, config)
                ]
                deleted = len(client.retrieve(name, ids=ids, with_payload=False)) if ids else 0
                selector: Any = models.PointIdsList(points=ids)
            else:
                condition = _filter(config, config["filter"])
                deleted = client.count(name, count_filter=condition, exact=True).count
                selector = models.FilterSelector(filter=condition)
            if deleted:
                client.delete(name, points_selector=selector, wait=True)
        context.logger.info("deleted %d entries from %s", deleted, name)
        return {"collection": name, "deleted": deleted}


@contextmanager
def open_store(config: Mapping[str, Any], context: NodeContext) -> Iterator[Any]:
    """A Qdrant client: the server of `connection_url`, or the org's embedded store, held alone."""
    from qdrant_client import QdrantClient  # noqa: PLC0415 - imported when the node runs
    from qdrant_client.http.exceptions import ApiException  # noqa: PLC0415 - imported when the node runs

    from dagy.nodes.net import check_url  # noqa: PLC0415 - httpx is imported when a node runs

    url = config.get("connection_url")
    if url:
        check_url(str(url), context)
        server = QdrantClient(
            url=str(url), api_key=config.get("api_key") or None, timeout=60, check_compatibility=False
        )
        try:
            yield server
        except ApiException as exc:  # the server refused, or did not answer
            raise NodeError("vector_store_error", f"The Qdrant server: {exc}") from exc
        finally:
            server.close()
        return
    folder = org_folder(context)
    with org_lock(folder):
        local = QdrantClient(path=str(folder))
        try:
            yield local
        finally:
            local.close()


def org_folder(context: NodeContext) -> Path:
    """The org's embedded store."""
    return Path(context.settings.vector_dir).expanduser() / org_folder_name(context.org_id)


def org_folder_name(org_id: str) -> str:
    """The org's id as its folder's name when that is a safe one, else a hash."""
    org = org_id or "default"
    return org if _ORG_FOLDER.match(org) else hashlib.sha256(org.encode()).hexdigest()


@contextmanager
def org_lock(folder: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """The folder's lock file held exclusively (against other processes and threads alike)."""
    import fcntl  # noqa: PLC0415 - POSIX only; imported when the node runs

    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with (folder / ".dagy.lock").open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise NodeError(
                        "vector_store_busy",
                        f"The org's vector store stayed in use by another run for {wait_seconds:.0f} s.",
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def point_id(entry_id: Any, namespace: str) -> str:
    """The point id of an entry: a UUID derived from the namespace and the id (as text)."""
    return str(uuid.uuid5(_POINT_IDS, f"{namespace}\x00{entry_id}"))


def _point(record: Any, index: int, namespace: str) -> Any:
    from qdrant_client import models  # noqa: PLC0415 - imported when the node runs

    if not isinstance(record, dict):
        raise NodeError("invalid_input", f"Entry {index} is not a record with id and embedding.")
    entry_id = record.get("id")
    if entry_id is None or isinstance(entry_id, dict | list):
        raise NodeError("invalid_input", f"Entry {index} has no id (a string or a number).")
    embedding = record.get("embedding")
    if not _is_vector(embedding):
        raise NodeError("invalid_input", f"Entry {index} ({entry_id}) has no embedding (a list of numbers).")
    metadata = {key: value for key, value in record.items() if key not in ("id", "embedding")}
    payload = {**metadata, _ID_FIELD: entry_id, _NAMESPACE_FIELD: namespace}
    return models.PointStruct(
        id=point_id(entry_id, namespace), vector=[float(x) for x in embedding], payload=payload
    )


def _records(inputs: Mapping[str, Any]) -> list[Any]:
    records: list[Any] = []
    for value in inputs.values():
        records.extend(value if isinstance(value, list) else [value])
    return records


def _query_vector(inputs: Mapping[str, Any]) -> list[float]:
    """The query: a vector, an embedded record (or a list of one, as embed_text answers one text),
    or a text, embedded with the local model."""
    if not inputs:
        raise NodeError("missing_input", "No query came in.")
    value = next(iter(inputs.values()))
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if isinstance(value, dict):
        value = value.get("embedding")
    if isinstance(value, str):
        from dagy.nodes.llm_providers import embed_locally  # noqa: PLC0415 - loads the model when needed

        return embed_locally([value])[0]
    if not _is_vector(value):
        raise NodeError(
            "invalid_input", "The query must be a text, an embedding, or one record with an embedding."
        )
    return [float(x) for x in value]


def _incoming_ids(inputs: Mapping[str, Any], config: Mapping[str, Any]) -> list[Any]:
    id_field = str(config.get("id_field", "id"))
    ids = []
    for index, item in enumerate(_records(inputs)):
        entry_id = item.get(id_field) if isinstance(item, dict) else item
        if entry_id is None or isinstance(entry_id, dict | list):
            raise NodeError("invalid_input", f"Item {index} carries no id (field {id_field!r}).")
        ids.append(entry_id)
    return ids


def _filter(config: Mapping[str, Any], equal: Mapping[str, Any]) -> Any:
    """Entries of the node's namespace whose metadata equals `equal` (a list value: any of it)."""
    from qdrant_client import models  # noqa: PLC0415 - imported when the node runs

    conditions: list[models.Condition] = [
        models.FieldCondition(key=_NAMESPACE_FIELD, match=models.MatchValue(value=_namespace(config)))
    ]
    for key, value in equal.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str | int) for v in values) or key.startswith("_dagy_"):
            raise NodeError(
                "invalid_config", f"filter.{key}: a string, an integer, a boolean or a list of them."
            )
        match = models.MatchAny(any=values) if isinstance(value, list) else models.MatchValue(value=value)
        conditions.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conditions)


def _match(payload: Mapping[str, Any], score: float) -> dict[str, Any]:
    metadata = {key: value for key, value in payload.items() if key not in (_ID_FIELD, _NAMESPACE_FIELD)}
    return {"id": payload.get(_ID_FIELD), "score": score, **metadata}


def _check_dimension(client: Any, name: str, dimension: int) -> None:
    size = client.get_collection(name).config.params.vectors.size
    if size != dimension:
        raise NodeError(
            "dimension_mismatch", f"Collection {name!r} holds {size}-dimensional vectors, not {dimension}."
        )


def _collection(config: Mapping[str, Any]) -> str:
    name = str(config.get("collection") or "")
    if not _COLLECTION.match(name):
        raise NodeError("invalid_config", f"collection: {_COLLECTION_RULE}.")
    return name


def _namespace(config: Mapping[str, Any]) -> str:
    return str(config.get("namespace") or "")


def _collection_problem(data: Mapping[str, Any]) -> dict[str, str]:
    name = data.get("collection")
    if isinstance(name, str) and name and not _COLLECTION.match(name):
        return {"collection": _COLLECTION_RULE}
    return {}


def _is_vector(value: Any) -> TypeGuard[list[Any]]:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in value)
    )


NODES: tuple[type[NodeType], ...] = (VectorUpsertNode, VectorSearchNode, VectorDeleteNode)
