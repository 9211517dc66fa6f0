"""The shapes data takes between nodes and in files: how a node reads its upstream outputs, how a file
of each format becomes JSON values (`s3_ingest`, `file_read`) and how values become a file
(`s3_write`), and how any value a library hands back becomes JSON (`sql_query`, Parquet).

Records are a list of JSON objects. Files are read and written in five formats: `json`, `jsonl`,
`csv`, `parquet`, `text`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dagy.nodes.base import NodeError

if TYPE_CHECKING:
    import pyarrow as pa

FILE_FORMATS = ("json", "jsonl", "csv", "parquet", "text")
CONTENT_TYPES = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "text": "text/plain; charset=utf-8",
}


# --- a node's inputs ---------------------------------------------------------------------------


def combined_input(inputs: Mapping[str, Any]) -> Any:
    """What a node that takes one stream of data reads from its upstream outputs.

    One upstream: its output as it is. Several: their outputs concatenated in the order the runtime
    passes them (the flow spec's edge order): a list contributes its items, any other value is one
    item, and an upstream that output nothing (null) contributes nothing.
    """
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    combined: list[Any] = []
    for value in inputs.values():
        if isinstance(value, list):
            combined.extend(value)
        elif value is not None:
            combined.append(value)
    return combined


def records_input(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The records a transform works on: `combined_input`, where a single object counts as one
    record and nothing (null) as no records. Anything that is not an object is refused."""
    value = combined_input(inputs)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise NodeError("invalid_input", f"Expected records (a list of objects), got {_kind(value)}.")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise NodeError(
                "invalid_input", f"Expected records (a list of objects); item {index} is {_kind(item)}."
            )
    return value


def field_names(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every field of the records, in the order fields first appear."""
    return list(dict.fromkeys(name for record in records for name in record))


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


# --- JSON-safe values --------------------------------------------------------------------------


def json_safe(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value reads best
    """`value` as JSON: dates and times ISO 8601, Decimal a float (not finite: null), timedelta its
    seconds, bytes base64, UUID and anything unknown its string; containers converted throughout."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return str(value)  # UUID, IP addresses, ranges, enums


# --- files -> values ---------------------------------------------------------------------------


def parse(data: bytes, file_format: str, *, source: str, encoding: str = "utf-8") -> Any:
    """One file's content as JSON: `json` the document as it is, `jsonl` a list of the lines'
    values, `csv` a list of records (every cell a string), `parquet` a list of records, `text` a
    string. `source` names the file in error messages."""
    if file_format == "parquet":
        return _parse_parquet(data, source)
    text = _decode(data, encoding, source)
    if file_format == "json":
        return _parse_json(text, source)
    if file_format == "jsonl":
        return _parse_jsonl(text, source)
    if file_format == "csv":
        return _parse_csv(text, source)
    if file_format == "text":
        return text
    raise NodeError("invalid_config", f"Unknown format {file_format!r}; one of {', '.join(FILE_FORMATS)}.")


def combine_files(values: list[Any], file_format: str) -> Any:
    """Several parsed files as one output: `text` gives a string for one file and a list of strings
    otherwise; `json` files extend a list when they hold one and add one item otherwise; the
    record formats concatenate their records."""
    if file_format == "text":
        return values[0] if len(values) == 1 else values
    combined: list[Any] = []
    for value in values:
        if isinstance(value, list):
            combined.extend(value)
        else:
            combined.append(value)
    return combined


def _decode(data: bytes, encoding: str, source: str) -> str:
    # A UTF-8 byte-order mark (spreadsheet exports) is not part of the first field's name.
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError as exc:
        raise NodeError("invalid_config", f"Unknown encoding {encoding!r}.") from exc
    except UnicodeDecodeError as exc:
        raise NodeError(
            "parse_error", f"{source}: byte {exc.start} is not valid {encoding} ({exc.reason})."
        ) from exc


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NodeError(
            "parse_error", f"{source}: not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc


def _parse_jsonl(text: str, source: str) -> list[Any]:
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise NodeError("parse_error", f"{source}: line {number} is not JSON: {exc.msg}.") from exc
    return values


def _parse_csv(text: str, source: str) -> list[dict[str, Any]]:
    """Records keyed by the header row, every cell a string as written; a short row's missing
    cells are null, a row longer than the header is an error."""
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    records = []
    try:
        for record in reader:
            if "\0extra" in record:
                raise NodeError(
                    "parse_error",
                    f"{source}: line {reader.line_num} has more cells than the header's "
                    f"{len(reader.fieldnames or ())}.",
                )
            records.append(record)
    except csv.Error as exc:
        raise NodeError("parse_error", f"{source}: line {reader.line_num}: {exc}.") from exc
    return records


def _parse_parquet(data: bytes, source: str) -> list[dict[str, Any]]:
    import pyarrow as pa  # noqa: PLC0415 - imported when a node reads Parquet
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise NodeError("parse_error", f"{source}: not a Parquet file: {exc}.") from exc
    return [json_safe(record) for record in table.to_pylist()]


# --- values -> files ---------------------------------------------------------------------------


def serialise(value: Any, file_format: str) -> tuple[bytes, int]:
    """`value` as a file of `file_format`, and how many records (items of a list; 1 for any other
    value) it holds. `json` takes any value; `jsonl` a list (an object is one line); `csv` and
    `parquet` records; `text` a string, or a list of strings written one a line."""
    count = len(value) if isinstance(value, list) else 1
    if file_format == "json":
        return json.dumps(value, ensure_ascii=False).encode(), count
    if file_format == "text":
        return _text_bytes(value), count
    rows = value if isinstance(value, list) else [value]
    if file_format == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode(), len(rows)
    records = _records_to_write(rows, file_format)
    if file_format == "csv":
        return _csv_bytes(records), len(records)
    if file_format == "parquet":
        return _parquet_bytes(records), len(records)
    raise NodeError("invalid_config", f"Unknown format {file_format!r}; one of {', '.join(FILE_FORMATS)}.")


def _text_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(line + "\n" for line in value).encode()
    raise NodeError(
        "invalid_input", f"The text format writes a string or a list of strings, not {_kind(value)}."
    )


def _records_to_write(rows: list[Any], file_format: str) -> list[dict[str, Any]]:
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise NodeError(
                "invalid_input",
                f"The {file_format} format writes records (objects); item {index} is {_kind(row)}.",
            )
    return rows


def _csv_cell(value: Any) -> str:
    """A CSV cell: null empty, booleans true/false, objects and lists as JSON text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _csv_bytes(records: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    names = field_names(records)
    writer.writerow(names)
    writer.writerows([_csv_cell(record.get(name)) for name in names] for record in records)
    return buffer.getvalue().encode()


def _parquet_bytes(records: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa  # noqa: PLC0415 - imported when a node writes Parquet
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = records_table(records, strict=True)
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(table, sink)
    except pa.ArrowException as exc:
        raise NodeError("unsupported_data", f"The records cannot be written as Parquet: {exc}.") from exc
    return sink.getvalue().to_pybytes()


def records_table(records: Sequence[Mapping[str, Any]], *, strict: bool) -> pa.Table:
    """The records as an Arrow table, one column per field (missing fields null), types inferred
    from the values. A field whose values mix types (1 and "1") is an error when `strict`, else a
    column of strings (JSON text for objects and lists)."""
    import pyarrow as pa  # noqa: PLC0415 - imported when a node needs a table

    columns = {}
    for name in field_names(records):
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowException, OverflowError) as exc:
            if strict:
                raise NodeError(
                    "unsupported_data", f"Field {name!r} mixes values of different types ({exc})."
                ) from exc
            columns[name] = pa.array([_as_text(value) for value in values], pa.string())
    return pa.table(columns)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
