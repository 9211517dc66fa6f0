"""Ingestion: where a flow's data comes from, and where it lands when the flow writes it back out
(reading and writing S3 are two sides of one connector, so `s3_write` lives here too)."""

from __future__ import annotations

from dagy.nodes.base import NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound, trigger_in
from dagy.nodes.definition import NodeDefinition

FILE_FORMATS = ("json", "jsonl", "csv", "parquet", "text")
_S3_CREDENTIALS = (
    ConfigField(
        "aws_access_key_id",
        "Access key id",
        "secret",
        description="Leave empty to use the worker's own AWS credentials (instance role, environment).",
    ),
    ConfigField("aws_secret_access_key", "Secret access key", "secret"),
    ConfigField("region", "Region", "string", description="For example eu-west-1."),
    ConfigField(
        "endpoint_url", "Endpoint URL", "string", description="For S3-compatible stores such as MinIO."
    ),
)


class S3IngestNode(NodeType):
    definition = NodeDefinition(
        node_type="s3_ingest",
        label="S3 Ingest",
        description="Read files from Amazon S3 or an S3-compatible store, parsed by their format.",
        category="ingestion",
        icon="CloudDownload",
        color="blue",
        tags=("s3", "aws", "object storage", "read", "files", "source"),
        connectors=(trigger_in(), outbound(("dataframe", "json", "string"))),
        config_schema=(
            ConfigField("bucket", "Bucket", "string", required=True),
            ConfigField("prefix", "Prefix", "string", description="Read every object under this prefix."),
            ConfigField("format", "Format", "enum", default="json", options=FILE_FORMATS),
            ConfigField("max_objects", "Max objects", "integer", default=1000),
            *_S3_CREDENTIALS,
        ),
    )


class S3WriteNode(NodeType):
    definition = NodeDefinition(
        node_type="s3_write",
        label="S3 Write",
        description="Write the incoming data to one object in S3; outputs the object's location.",
        category="ingestion",
        icon="CloudUpload",
        color="blue",
        tags=("s3", "aws", "object storage", "write", "export", "sink"),
        connectors=(
            inbound(("dataframe", "json", "string"), required=True),
            outbound(("file", "json"), connector_id="object_out", name="Object"),
        ),
        config_schema=(
            ConfigField("bucket", "Bucket", "string", required=True),
            ConfigField(
                "key",
                "Object key",
                "string",
                required=True,
                description="May use {run_id} and {date}, e.g. exports/{date}/{run_id}.jsonl.",
            ),
            ConfigField("format", "Format", "enum", default="jsonl", options=FILE_FORMATS),
            ConfigField("overwrite", "Overwrite", "boolean", default=True),
            *_S3_CREDENTIALS,
        ),
    )


class HttpFetchNode(NodeType):
    definition = NodeDefinition(
        node_type="http_fetch",
        label="HTTP Fetch",
        description="Call an HTTP API and output its response body (through the SSRF guard).",
        category="ingestion",
        icon="Globe",
        color="blue",
        tags=("http", "rest", "api", "request", "download", "source"),
        connectors=(trigger_in(), outbound(("json", "dataframe", "string"))),
        config_schema=(
            ConfigField("url", "URL", "string", required=True),
            ConfigField(
                "method", "Method", "enum", default="GET", options=("GET", "POST", "PUT", "PATCH", "DELETE")
            ),
            ConfigField("headers", "Headers", "object"),
            ConfigField("query", "Query parameters", "object"),
            ConfigField("body", "JSON body", "object"),
            ConfigField("auth_token", "Bearer token", "secret"),
            ConfigField(
                "response_format", "Response format", "enum", default="json", options=("json", "text")
            ),
            ConfigField("timeout_seconds", "Timeout (seconds)", "number", default=30),
        ),
    )


class SqlQueryNode(NodeType):
    definition = NodeDefinition(
        node_type="sql_query",
        label="SQL Query",
        description="Run a read query against a database and output the rows.",
        category="ingestion",
        icon="Database",
        color="blue",
        tags=("sql", "database", "postgres", "mysql", "query", "source"),
        connectors=(trigger_in(), outbound(("dataframe", "json"))),
        config_schema=(
            ConfigField(
                "connection_url",
                "Connection URL",
                "secret",
                required=True,
                description="A SQLAlchemy URL, usually a reference to a secret.",
            ),
            ConfigField("query", "Query", "code", required=True),
            ConfigField("parameters", "Bound parameters", "object"),
            ConfigField("max_rows", "Max rows", "integer", default=10000),
        ),
    )


class FileReadNode(NodeType):
    definition = NodeDefinition(
        node_type="file_read",
        label="File Read",
        description="Read a file from Dagy's object store (an uploaded artifact or a run's output).",
        category="ingestion",
        icon="FileText",
        color="blue",
        tags=("file", "object store", "csv", "json", "read", "source"),
        connectors=(trigger_in(), outbound(("dataframe", "json", "string"))),
        config_schema=(
            ConfigField("path", "Path", "string", required=True, description="The object's key."),
            ConfigField("format", "Format", "enum", default="json", options=FILE_FORMATS),
            ConfigField("encoding", "Encoding", "string", default="utf-8"),
        ),
    )


NODES: tuple[type[NodeType], ...] = (S3IngestNode, S3WriteNode, HttpFetchNode, SqlQueryNode, FileReadNode)
