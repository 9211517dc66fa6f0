"""Large node outputs in the run's object store (dagy/runtime/outputs.py), in-process with a real
DirectoryObjectStore: Parquet for exact tables, JSON otherwise, a reference in the node event, the
value read back on resume, and the key scoping of a run's folder."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dagy.nodes import NodeError
from dagy.runtime import EventWriter, run_flow_spec
from dagy.runtime.objects import DirectoryObjectStore
from dagy.runtime.outputs import INLINE_OUTPUT_BYTES, REFERENCE, load, persist
from dagy.runtime.scope import RunResult
from tests.payloads import run_payload

ORG, RUN = "org_outputs", "run_outputs"
ROWS = 20_000  # ~1 MB of JSON: well over the inline threshold
TABLE = (
    "return [{'id': i, 'name': f'n{i}', 'score': i / 4, 'ok': i % 2 == 0, "
    f"'note': None if i % 3 else 'x'}} for i in range({ROWS})]"
)


def py(node_id: str, body: str) -> dict[str, Any]:
    code = "def main(inputs, params):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return {"id": node_id, "type": "python_function", "data": {"code": code}}


def chain(producer: str, consumer: str = "return inputs['big']") -> dict[str, Any]:
    return {
        "nodes": [py("big", producer), py("after", consumer)],
        "edges": [{"source": "big", "target": "after"}],
    }


def execute(
    objects: Path, spec: dict[str, Any], **payload: Any
) -> tuple[RunResult, dict[str, dict[str, Any]]]:
    """Run as on the embedded worker (`objects_dir`); answer the result and each node's last event."""
    buffer = io.StringIO()
    fields = {"run_id": RUN, "org_id": ORG, "objects_dir": str(objects)} | payload
    result = run_flow_spec(run_payload(spec, **fields), EventWriter(buffer))
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return result, {e["node_id"]: e for e in events if e["event"] == "node"}


def expected_rows() -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"n{i}", "score": i / 4, "ok": i % 2 == 0, "note": None if i % 3 else "x"}
        for i in range(ROWS)
    ]


def test_a_large_table_is_parquet_and_the_event_carries_its_reference(tmp_path: Path) -> None:
    result, nodes = execute(tmp_path, chain(TABLE, "return len(inputs['big'])"))
    assert (result.status, result.output) == ("completed", ROWS)  # the successor got it in memory
    ref = nodes["big"]["output"][REFERENCE]
    assert ref["key"] == f"dagy/runs/{ORG}/{RUN}/outputs/1/big.parquet"
    assert (ref["format"], ref["rows"]) == ("parquet", ROWS)
    stored = tmp_path / ref["key"]
    assert ref["bytes"] == stored.stat().st_size
    table = pq.read_table(stored)
    assert table.column_names == ["id", "name", "score", "ok", "note"]
    assert table.to_pylist() == expected_rows()


def test_a_resumed_attempt_reads_the_table_back_exactly(tmp_path: Path) -> None:
    _, nodes = execute(tmp_path, chain(TABLE))
    reference = nodes["big"]["output"]
    effects = tmp_path / "effects"
    producer = f"open({str(effects)!r}, 'a').write('ran\\n')\n" + TABLE
    result, resumed = execute(tmp_path, chain(producer), attempt=2, completed_nodes={"big": reference})
    assert not effects.exists()  # the producer did not run again
    assert (resumed["big"]["status"], resumed["big"].get("resumed")) == ("completed", True)
    assert resumed["big"]["output"] == reference
    # The consumer's output is the same table; being large, it is persisted in the new attempt.
    after = resumed["after"]["output"][REFERENCE]
    assert after["key"] == f"dagy/runs/{ORG}/{RUN}/outputs/2/after.parquet"
    assert result.output == resumed["after"]["output"]  # the run's result shows the reference
    rows = load(DirectoryObjectStore(tmp_path, ORG), resumed["after"]["output"])
    assert rows == expected_rows()
    assert [list(row) for row in rows[:1]] == [["id", "name", "score", "ok", "note"]]


@pytest.mark.parametrize(
    "value",
    [
        {"blob": "x" * (INLINE_OUTPUT_BYTES + 10)},  # not a list of records
        [{"a": i, "b": i} if i else {"b": 0, "a": 0} for i in range(30_000)],  # column order differs
        [{"a": i} if i % 2 else {"a": i, "b": 1} for i in range(30_000)],  # keys differ per row
        [{"n": 1.0 if i == 0 else i} for i in range(40_000)],  # 1.0 would come back as an int or vice versa
        [{"nested": {"x": i}} for i in range(30_000)],  # not flat
        [[i, i] for i in range(60_000)],  # lists, not records
    ],
    ids=["object", "column-order", "ragged", "mixed-number", "nested", "lists"],
)
def test_what_parquet_would_not_give_back_exactly_is_json(tmp_path: Path, value: Any) -> None:
    store = DirectoryObjectStore(tmp_path, ORG, RUN)
    ref = persist(store, lambda fmt: f"dagy/runs/{ORG}/{RUN}/outputs/1/x.{fmt}", value)
    assert ref is not None and ref[REFERENCE]["format"] == "json" and ref[REFERENCE]["rows"] is None
    assert json.dumps(load(store, ref)) == json.dumps(value)


def test_a_small_output_stays_inline(tmp_path: Path) -> None:
    result, nodes = execute(tmp_path, chain("return [{'id': 1}]"))
    assert nodes["big"]["output"] == [{"id": 1}] and result.output == [{"id": 1}]
    assert not (tmp_path / "dagy").exists()


def test_without_a_store_a_large_output_stays_inline(tmp_path: Path) -> None:
    result, nodes = execute(tmp_path, chain("return 'y' * 300000"), objects_dir=None)
    assert nodes["big"]["output"] == "y" * 300_000 and result.output == "y" * 300_000


def test_an_unreadable_reference_runs_the_node_again(tmp_path: Path) -> None:
    missing = {REFERENCE: {"key": f"dagy/runs/{ORG}/{RUN}/outputs/1/big.json", "format": "json"}}
    result, nodes = execute(
        tmp_path, chain("return 41", "return inputs['big'] + 1"), completed_nodes={"big": missing}
    )
    assert result.output == 42 and nodes["big"].get("resumed") is None


def test_a_run_writes_only_its_own_folder(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path, ORG, RUN)
    assert store.put(f"dagy/runs/{ORG}/{RUN}/mine.json", b"1") == f"dagy/runs/{ORG}/{RUN}/mine.json"
    with pytest.raises(NodeError) as other_run:
        store.put(f"dagy/runs/{ORG}/run_other/x.json", b"1")
    assert other_run.value.error_type == "forbidden_key"
    with pytest.raises(NodeError) as other_org:
        store.get(f"dagy/runs/org_other/{RUN}/mine.json")
    assert other_org.value.error_type == "forbidden_key"
    with pytest.raises(NodeError):
        DirectoryObjectStore(tmp_path, ORG).put(f"dagy/runs/{ORG}/{RUN}/x.json", b"1")  # no run: no folder
    assert DirectoryObjectStore(tmp_path, ORG).get(f"dagy/runs/{ORG}/{RUN}/mine.json") == b"1"
