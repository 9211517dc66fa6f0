"""Vector DB: storing, searching and deleting embeddings in a vector store."""

from __future__ import annotations

from dagy.nodes.base import NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import AT_MOST_ONE, inbound, outbound
from dagy.nodes.definition import NodeDefinition

_STORE = (
    ConfigField(
        "provider",
        "Vector store",
        "enum",
        default="pgvector",
        options=("pgvector", "qdrant", "pinecone", "weaviate", "chroma"),
    ),
    ConfigField("collection", "Collection", "string", required=True, description="Table, index or class."),
    ConfigField("connection_url", "Connection URL", "secret", description="pgvector DSN or service URL."),
    ConfigField("api_key", "API key", "secret"),
    ConfigField("namespace", "Namespace", "string"),
)


class VectorUpsertNode(NodeType):
    definition = NodeDefinition(
        node_type="vector_upsert",
        label="Vector Upsert",
        description="Insert or replace embeddings (with their ids and metadata) in a collection.",
        category="vectordb",
        icon="DatabaseZap",
        color="teal",
        tags=("vector", "embeddings", "upsert", "index", "rag", "pgvector"),
        connectors=(
            inbound(("vector",), connector_id="vectors_in", name="Vectors", required=True),
            outbound(("json",), name="Summary"),
        ),
        config_schema=(*_STORE, ConfigField("batch_size", "Batch size", "integer", default=100)),
    )


class VectorSearchNode(NodeType):
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
            ConfigField("filter", "Metadata filter", "object"),
            ConfigField("min_score", "Minimum score", "number"),
        ),
    )


class VectorDeleteNode(NodeType):
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
            ConfigField("filter", "Metadata filter", "object", description="Used when no ids come in."),
        ),
    )


NODES: tuple[type[NodeType], ...] = (VectorUpsertNode, VectorSearchNode, VectorDeleteNode)
