"""Ingestion: where a flow's data comes from, and where it lands when the flow writes it back out
(reading and writing S3 are two sides of one connector, so `s3_write` lives here too)."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dagy.nodes import formats
from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound, trigger_in
from dagy.nodes.definition import NodeDefinition
from dagy.nodes.formats import FILE_FORMATS

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
KEY_PLACEHOLDERS = ("run_id", "date", "node_id", "flow_name")
_KEY_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_S3_ERROR_TYPES = {
    "NoSuchBucket": "bucket_not_found",
    "NoSuchKey": "object_not_found",
    "AccessDenied": "access_denied",
    "AllAccessDisabled": "access_denied",
    "403": "access_denied",
    "InvalidAccessKeyId": "invalid_credentials",
    "SignatureDoesNotMatch": "invalid_credentials",
    "PreconditionFailed": "object_exists",
}

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


class S3IngestNode(ExecutableNode):
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

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        bucket, prefix = str(config["bucket"]), str(config.get("prefix") or "")
        file_format = str(config.get("format", "json"))
        max_objects = int(config.get("max_objects", 1000))
        if max_objects < 1:
            raise NodeError("invalid_config", "max_objects must be at least 1.")
        client = _s3_client(config, context)
        with _s3_errors(bucket, prefix):
            keys = _list_keys(client, bucket, prefix, max_objects, context)
            values = [
                formats.parse(
                    client.get_object(Bucket=bucket, Key=key)["Body"].read(),
                    file_format,
                    source=f"s3://{bucket}/{key}",
                )
                for key in keys
            ]
        context.logger.info("Read %d objects from s3://%s/%s as %s", len(keys), bucket, prefix, file_format)
        return formats.combine_files(values, file_format)


class S3WriteNode(ExecutableNode):
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

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        key = data.get("key")
        problem = _key_problem(key) if isinstance(key, str) else None
        return {} if problem is None else {"key": problem}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        bucket, file_format = str(config["bucket"]), str(config.get("format", "jsonl"))
        key = render_key(str(config["key"]), context)
        body, records = formats.serialise(formats.combined_input(inputs), file_format)
        client = _s3_client(config, context)
        with _s3_errors(bucket, key):
            conditions = {}
            if not config.get("overwrite", True):
                _refuse_existing(client, bucket, key)
                conditions["IfNoneMatch"] = "*"  # and atomically, where the store supports it
            client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=formats.CONTENT_TYPES[file_format],
                **conditions,
            )
        context.logger.info("Wrote %d records (%d bytes) to s3://%s/%s", records, len(body), bucket, key)
        return {
            "uri": f"s3://{bucket}/{key}",
            "bucket": bucket,
            "key": key,
            "bytes": len(body),
            "records": records,
        }


class HttpFetchNode(ExecutableNode):
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

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        import httpx  # noqa: PLC0415 - imported when the node runs

        from dagy.nodes.net import http_client  # noqa: PLC0415 - it imports httpx

        url, method = str(config["url"]), str(config.get("method", "GET")).upper()
        timeout = float(config.get("timeout_seconds", 30))
        where = f"{method} {url.split('?', 1)[0]}"
        try:
            with (
                http_client(context, timeout=timeout) as client,
                client.stream(method, url, **_request_parts(config)) as response,
            ):
                content = _read_capped(response, where)
        except httpx.TimeoutException as exc:
            raise NodeError("timeout", f"{where} got no answer within {timeout:g} s.") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise NodeError("request_failed", f"{where} failed: {exc}.") from exc
        context.logger.info("%s answered %d (%d bytes)", where, response.status_code, len(content))
        if not response.is_success:
            start = content[:300].decode(response.encoding or "utf-8", errors="replace")
            raise NodeError(
                "http_error", f"{where} answered {response.status_code} {response.reason_phrase}: {start}"
            )
        return _response_value(content, response, str(config.get("response_format", "json")), where)


class SqlQueryNode(ExecutableNode):
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

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        from sqlalchemy import create_engine, exc  # noqa: PLC0415 - imported when the node runs
        from sqlalchemy.pool import NullPool  # noqa: PLC0415

        max_rows = int(config.get("max_rows", 10000))
        parameters = config.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise NodeError("invalid_config", "parameters must be an object of bound values.")
        try:
            engine = create_engine(str(config["connection_url"]), poolclass=NullPool)
        except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as error:
            raise NodeError("invalid_connection_url", f"The connection URL is not usable: {error}") from error
        try:
            _check_database_host(engine.url, context)
            rows = _fetch_rows(engine, str(config["query"]), parameters, max_rows + 1)
        finally:
            engine.dispose()
        if len(rows) > max_rows:
            context.logger.warning(
                "The query answered more than max_rows=%d rows; the rest is left out", max_rows
            )
        return [formats.json_safe(dict(row)) for row in rows[:max_rows]]


class FileReadNode(ExecutableNode):
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

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        if context.store is None:
            raise NodeError("no_object_store", "This run has no object store to read from.")
        path = str(config["path"])
        data = context.store.get(path)
        context.logger.info("Read %s (%d bytes)", path, len(data))
        return formats.parse(
            data,
            str(config.get("format", "json")),
            source=path,
            encoding=str(config.get("encoding", "utf-8")),
        )


NODES: tuple[type[NodeType], ...] = (S3IngestNode, S3WriteNode, HttpFetchNode, SqlQueryNode, FileReadNode)


# --- S3 ----------------------------------------------------------------------------------------


def _s3_client(config: Mapping[str, Any], context: NodeContext) -> Any:
    """A boto3 S3 client: the node's credentials when it names them, else boto3's default chain
    (the worker's environment, profile or instance role). An `endpoint_url` is an address the
    author chose, so it passes the SSRF guard; S3-compatible stores get path-style addressing."""
    from botocore.config import Config  # noqa: PLC0415 - imported when the node runs

    from dagy.nodes.net import check_url  # noqa: PLC0415 - it imports httpx

    key_id = config.get("aws_access_key_id") or None
    secret = config.get("aws_secret_access_key") or None
    if (key_id is None) != (secret is None):
        raise NodeError(
            "invalid_config",
            "aws_access_key_id and aws_secret_access_key go together: set both, or neither to use "
            "the worker's own credentials.",
        )
    endpoint = config.get("endpoint_url") or None
    if endpoint is not None:
        check_url(str(endpoint), context)
    settings = Config(
        connect_timeout=10,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else {},
    )
    with _BOTO_LOCK:  # a boto3 session is not thread-safe; the clients it makes are
        return _boto_session().client(
            "s3",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=config.get("region") or None,
            endpoint_url=endpoint,
            config=settings,
        )


_BOTO_LOCK = threading.Lock()


@functools.cache
def _boto_session() -> Any:
    """One boto3 session per process: it loads S3's service model once (a new session takes
    ~0.3 s to do so again), and resolves the default credential chain once."""
    import boto3  # noqa: PLC0415 - imported when a node first uses S3

    return boto3.session.Session()


@contextlib.contextmanager
def _s3_errors(bucket: str, key: str) -> Iterator[None]:
    """S3's refusals as errors a flow author can act on."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # noqa: PLC0415

    where = f"s3://{bucket}/{key}"
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        kind = _S3_ERROR_TYPES.get(code, "s3_error")
        raise NodeError(kind, f"{where}: {code} {error.get('Message') or exc}".strip()) from exc
    except NoCredentialsError as exc:
        raise NodeError(
            "no_credentials", f"{where}: no AWS credentials: set aws_access_key_id and aws_secret_access_key."
        ) from exc
    except BotoCoreError as exc:
        raise NodeError("s3_error", f"{where}: {exc}") from exc


def _list_keys(client: Any, bucket: str, prefix: str, max_objects: int, context: NodeContext) -> list[str]:
    """The keys under `prefix` in S3's (lexicographic) order, at most `max_objects`; folder markers
    (keys ending in /) are not objects to read."""
    keys: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": min(max_objects + 1, 1000)}
    )
    for page in pages:
        keys.extend(item["Key"] for item in page.get("Contents", ()) if not item["Key"].endswith("/"))
        if len(keys) > max_objects:
            context.logger.warning(
                "More than max_objects=%d objects under the prefix; reading the first", max_objects
            )
            return keys[:max_objects]
    if not keys:
        context.logger.warning("No object under s3://%s/%s", bucket, prefix)
    return keys


def _refuse_existing(client: Any, bucket: str, key: str) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - imported when the node runs

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return
        raise
    raise NodeError("object_exists", f"s3://{bucket}/{key} exists and overwrite is off.")


def render_key(template: str, context: NodeContext) -> str:
    """An object key from its template: {run_id}, {date} (UTC, YYYY-MM-DD), {node_id}, {flow_name}."""
    problem = _key_problem(template)
    if problem is not None:
        raise NodeError("invalid_key", problem)
    values = {
        "run_id": context.run_id,
        "date": datetime.now(UTC).date().isoformat(),
        "node_id": context.node_id,
        "flow_name": context.flow_name,
    }
    return _KEY_PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _key_problem(template: str) -> str | None:
    unknown = [name for name in _KEY_PLACEHOLDER.findall(template) if name not in KEY_PLACEHOLDERS]
    if unknown:
        return f"The key uses {{{unknown[0]}}}; the placeholders are {', '.join(KEY_PLACEHOLDERS)}."
    if not _KEY_PLACEHOLDER.sub("x", template).strip("/"):
        return "The object key is empty."
    return None


# --- HTTP --------------------------------------------------------------------------------------


def _request_parts(config: Mapping[str, Any]) -> dict[str, Any]:
    headers = {str(name): str(value) for name, value in (config.get("headers") or {}).items()}
    if config.get("auth_token"):
        headers["Authorization"] = f"Bearer {config['auth_token']}"
    parts: dict[str, Any] = {"headers": headers, "params": config.get("query") or None}
    if config.get("body") is not None:
        parts["json"] = config["body"]
    return parts


def _read_capped(response: Any, where: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise NodeError("response_too_large", f"{where}: the answer exceeds {MAX_RESPONSE_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _response_value(content: bytes, response: Any, response_format: str, where: str) -> Any:
    if response_format == "text":
        return content.decode(response.encoding or "utf-8", errors="replace")
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = response.headers.get("content-type", "no content type")
        raise NodeError(
            "invalid_response",
            f"{where} answered {kind}, not JSON ({exc}); set response_format to text to read it as text.",
        ) from exc


# --- SQL ---------------------------------------------------------------------------------------

_LOCAL_CONNECTION_PARAMETERS = ("host", "hostaddr", "unix_socket", "unix_sock", "service")


def _check_database_host(url: URL, context: NodeContext) -> None:
    """The SSRF guard for databases: unless the installation allows private addresses, a database
    must be a network host that resolves to public addresses; a file (SQLite), a Unix socket or a
    host given in the URL's parameters is the worker's own machine or unchecked, and refused."""
    from dagy.nodes.net import blocked_reason, ssrf_refusal  # noqa: PLC0415 - it imports httpx

    if context.settings.allow_private_network:
        return
    local = url.get_backend_name() == "sqlite" or not url.host
    if local or any(name in url.query for name in _LOCAL_CONNECTION_PARAMETERS):
        raise ssrf_refusal(
            "Connection refused by the SSRF guard: a database file, a Unix socket or a host given in "
            "the URL's parameters is local to the worker."
        )
    reason = blocked_reason(f"http://{url.host}:{url.port or 1}/", allow_private=False)
    if reason is not None:
        raise ssrf_refusal(f"Connection refused by the SSRF guard: {reason}.")


def _fetch_rows(engine: Any, query: str, parameters: dict[str, Any], limit: int) -> list[Any]:
    """At most `limit` rows of the query; the transaction is rolled back, never committed."""
    from sqlalchemy import exc, text  # noqa: PLC0415 - imported when the node runs

    try:
        connection = engine.connect()
    except exc.DBAPIError as error:
        raise NodeError("connection_failed", str(error.orig).strip()) from error
    with connection:
        try:
            result = connection.execute(text(query), parameters)
            return list(result.mappings().fetchmany(limit)) if result.returns_rows else []
        except exc.DBAPIError as error:
            raise NodeError("query_failed", str(error.orig).strip()) from error
        except exc.StatementError as error:
            raise NodeError("query_failed", str(error).split("\n", 1)[0]) from error
