"""Large node outputs go to the run's object store; the node run records a reference to them.

A completed node's output travels to its successors in memory, and to the server in the node's
report so that a re-queued attempt can resume after it. An output whose JSON exceeds
`INLINE_OUTPUT_BYTES` is written to the object store instead, under the run's own folder, and the
report carries

    {"$dagy_output": {"key": "dagy/runs/<org>/<run>/outputs/<attempt>/<node>.parquet",
                      "format": "parquet" | "json", "rows": N | null, "bytes": N}}

A list of records that Parquet holds exactly (flat scalar columns; reading it back gives the same
values, types, nulls and column order) is written as Parquet; anything else as JSON. A resumed
attempt reads the object back (`load`), so downstream nodes get the value the first attempt
computed. Without a store (a node outside a worker) outputs stay inline as before.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote

from dagy.nodes import NodeError, ObjectStore

INLINE_OUTPUT_BYTES = 256 * 1024
REFERENCE = "$dagy_output"
PARQUET, JSON = "parquet", "json"
# Column types Parquet gives back exactly as Python values (pyarrow type ids, see `_flat_scalars`).
_SCALAR_TYPES = ("int64", "double", "string", "large_string", "bool", "null")


def output_key(run_prefix: str, attempt: int, node_id: str, fmt: str) -> str:
    """`<run folder>outputs/<attempt>/<node id, %-quoted>.<format>`: one object per node and attempt
    (a subflow's `sub/child` becomes `sub%2Fchild`, so every node is one segment)."""
    return f"{run_prefix}outputs/{attempt}/{quote(node_id, safe='')}.{fmt}"


def is_reference(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(REFERENCE), dict)
        and isinstance(value[REFERENCE].get("key"), str)
    )


def persist(store: ObjectStore | None, key_of: Any, value: Any) -> dict[str, Any] | None:
    """Write `value` to the store when its JSON is larger than `INLINE_OUTPUT_BYTES` and answer the
    reference; None when it stays inline (small, not JSON, or no store). `key_of(format)` names
    the object."""
    if store is None:
        return None
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError):
        return None  # not JSON: the report shows it as the events do (str of what is not JSON)
    if len(text) <= INLINE_OUTPUT_BYTES:
        return None
    table = _exact_table(value, text)
    if table is not None:
        data, fmt, rows = _parquet_bytes(table), PARQUET, table.num_rows
    else:
        data, fmt, rows = text.encode(), JSON, None
    key = store.put(key_of(fmt), data)
    return {REFERENCE: {"key": key, "format": fmt, "rows": rows, "bytes": len(data)}}


def load(store: ObjectStore | None, reference: dict[str, Any]) -> Any:
    """The value a reference stands for; NodeError when it cannot be read back."""
    if store is None:
        raise NodeError("no_object_store", "This run has no object store to read a persisted output from.")
    ref = reference[REFERENCE]
    data = store.get(str(ref["key"]))
    if ref.get("format") == PARQUET:
        import pyarrow.parquet as pq  # noqa: PLC0415 - only runs with large tabular outputs pay for it

        return pq.read_table(io.BytesIO(data)).to_pylist()
    return json.loads(data)


def _exact_table(value: Any, text: str) -> Any:
    """A pyarrow Table of a list of records when reading it back gives exactly `value` (same JSON:
    ints stay ints, None stays None, keys in order), else None."""
    if not isinstance(value, list) or not value or not all(isinstance(row, dict) for row in value):
        return None
    import pyarrow as pa  # noqa: PLC0415 - only large outputs pay for the import

    try:
        table = pa.Table.from_pylist(value)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    if not _flat_scalars(table.schema):
        return None
    round_trip = json.dumps(table.to_pylist(), separators=(",", ":"), allow_nan=True)
    return table if round_trip == text else None


def _flat_scalars(schema: Any) -> bool:
    return all(str(field.type) in _SCALAR_TYPES for field in schema)


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow.parquet as pq  # noqa: PLC0415 - see `_exact_table`

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
