"""The vector DB nodes on the embedded Qdrant store in a temporary DAGY_VECTOR_DIR: round trips,
namespaces, org isolation, and runs of one org sharing the store at the same time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dagy.nodes import HostSettings
from dagy.nodes.base import NodeContext, NodeError
from dagy.nodes.llm import EmbedTextNode
from dagy.nodes.vectordb import (
    VectorDeleteNode,
    VectorSearchNode,
    VectorUpsertNode,
    org_folder,
    org_lock,
    point_id,
)
from tests.factories import new_org
from tests.flow_factories import python_node, register_flow, spec, trigger, wait_for_run
from tests.ports import free_port

ENTRIES = [
    {"id": "doc-1", "embedding": [1.0, 0.0, 0.0], "text": "red", "lang": "en", "year": 2024},
    {"id": "doc-2", "embedding": [0.9, 0.1, 0.0], "text": "crimson", "lang": "en", "year": 2025},
    {"id": "doc-3", "embedding": [0.0, 1.0, 0.0], "text": "vert", "lang": "fr", "year": 2025},
    {"id": 4, "embedding": [0.0, 0.0, 1.0], "text": "blau", "lang": "de", "year": 2023},
]


def _context(vector_dir: Path, org_id: str = "org-a", *, allow_private: bool = True) -> NodeContext:
    return NodeContext(
        run_id="run-1",
        node_id="vectors",
        params={},
        logger=logging.getLogger("dagy.test.vectordb"),
        org_id=org_id,
        settings=HostSettings(allow_private_network=allow_private, vector_dir=str(vector_dir)),
    )


def _search(context: NodeContext, query: Any, **config: Any) -> list[dict[str, Any]]:
    return VectorSearchNode().run({"q": query}, {"collection": "docs", **config}, context)


def test_upsert_search_and_delete_round_trip(tmp_path: Path) -> None:
    context = _context(tmp_path)
    summary = VectorUpsertNode().run({"embed": ENTRIES}, {"collection": "docs", "batch_size": 3}, context)
    assert summary == {"collection": "docs", "upserted": 4}

    matches = _search(context, [1.0, 0.05, 0.0], top_k=2)
    assert [m["id"] for m in matches] == ["doc-1", "doc-2"]
    assert matches[0] == {
        "id": "doc-1",
        "score": pytest.approx(0.99875, abs=1e-4),
        "text": "red",
        "lang": "en",
        "year": 2024,
    }
    assert matches[0]["score"] > matches[1]["score"]
    json.dumps(matches)

    assert [m["id"] for m in _search(context, [1.0, 0.0, 0.0], filter={"lang": "fr"})] == ["doc-3"]
    assert {m["id"] for m in _search(context, [1.0, 0.0, 0.0], filter={"year": [2023, 2024]})} == {"doc-1", 4}
    assert [m["id"] for m in _search(context, [1.0, 0.0, 0.0], min_score=0.5)] == ["doc-1", "doc-2"]

    deleted = VectorDeleteNode().run(
        {"gone": [{"id": "doc-1"}, {"id": 4}, {"id": "never"}]}, {"collection": "docs"}, context
    )
    assert deleted == {"collection": "docs", "deleted": 2}
    by_filter = VectorDeleteNode().run({}, {"collection": "docs", "filter": {"year": 2025}}, context)
    assert by_filter == {"collection": "docs", "deleted": 2}
    assert _search(context, [1.0, 0.0, 0.0]) == []


def test_upserting_an_id_again_replaces_its_entry(tmp_path: Path) -> None:
    context = _context(tmp_path)
    VectorUpsertNode().run({"a": ENTRIES}, {"collection": "docs"}, context)
    again = {"id": "doc-3", "embedding": [1.0, 0.0, 0.0], "text": "rouge", "lang": "fr"}
    VectorUpsertNode().run({"a": [again]}, {"collection": "docs"}, context)
    matches = _search(context, [1.0, 0.0, 0.0], top_k=10)
    assert len(matches) == 4
    assert (
        matches[0]["id"] in ("doc-1", "doc-3")
        and {"id": "doc-3", "text": "rouge"}.items() <= next(m for m in matches if m["id"] == "doc-3").items()
    )
    assert point_id("doc-3", "") != point_id("doc-3", "tenant-1")


def test_namespaces_partition_a_collection(tmp_path: Path) -> None:
    context = _context(tmp_path)
    VectorUpsertNode().run({"a": ENTRIES[:2]}, {"collection": "docs", "namespace": "tenant-1"}, context)
    VectorUpsertNode().run({"a": ENTRIES[:1]}, {"collection": "docs", "namespace": "tenant-2"}, context)
    one = _search(context, [1.0, 0.0, 0.0], namespace="tenant-1")
    assert [m["id"] for m in one] == ["doc-1", "doc-2"]
    assert [m["id"] for m in _search(context, [1.0, 0.0, 0.0], namespace="tenant-2")] == ["doc-1"]
    assert _search(context, [1.0, 0.0, 0.0]) == []
    wiped = VectorDeleteNode().run({}, {"collection": "docs", "namespace": "tenant-1", "filter": {}}, context)
    assert wiped["deleted"] == 2
    assert [m["id"] for m in _search(context, [1.0, 0.0, 0.0], namespace="tenant-2")] == ["doc-1"]


def test_orgs_never_see_each_others_collections(tmp_path: Path) -> None:
    VectorUpsertNode().run({"a": ENTRIES}, {"collection": "docs"}, _context(tmp_path, "org-a"))
    other = _context(tmp_path, "org-b")
    with pytest.raises(NodeError) as error:
        _search(other, [1.0, 0.0, 0.0])
    assert error.value.error_type == "collection_not_found"
    assert org_folder(other) != org_folder(_context(tmp_path, "org-a"))
    assert org_folder(_context(tmp_path, "../org-a")).parent == tmp_path  # an odd id cannot climb out


def test_mistakes_are_reported_plainly(tmp_path: Path) -> None:
    context = _context(tmp_path)
    VectorUpsertNode().run({"a": ENTRIES}, {"collection": "docs"}, context)
    cases = [
        (VectorUpsertNode, {"a": [{"id": "x", "embedding": [1.0, 2.0]}]}, {}, "dimension_mismatch"),
        (VectorUpsertNode, {"a": [{"id": "x", "embedding": "1,2,3"}]}, {}, "invalid_input"),
        (VectorUpsertNode, {"a": [{"embedding": [1.0, 2.0, 3.0]}]}, {}, "invalid_input"),
        (VectorSearchNode, {"q": [1.0, 0.0]}, {}, "dimension_mismatch"),
        (VectorSearchNode, {"q": [1.0, 0.0, 0.0]}, {"filter": {"score": 0.5}}, "invalid_config"),
        (VectorDeleteNode, {}, {}, "invalid_config"),
        (VectorSearchNode, {"q": [1.0, 0.0, 0.0]}, {"collection": "../etc"}, "invalid_config"),
    ]
    for node, inputs, config, error_type in cases:
        with pytest.raises(NodeError) as error:
            node().run(inputs, {"collection": "docs", **config}, context)
        assert error.value.error_type == error_type, (node, config)
    assert VectorSearchNode.validate({"collection": "a b", "top_k": 0}) == {
        "collection": "1-128 characters of letters, digits, _ and -",
        "top_k": "must be between 1 and 1000",
    }


def test_a_qdrant_server_url_passes_the_ssrf_guard(tmp_path: Path) -> None:
    config = {"collection": "docs", "connection_url": "http://127.0.0.1:6333"}
    with pytest.raises(NodeError) as error:
        VectorUpsertNode().run({"a": ENTRIES}, config, _context(tmp_path, allow_private=False))
    assert error.value.error_type == "blocked_url"


def test_a_qdrant_server_that_does_not_answer_fails_plainly(tmp_path: Path) -> None:
    port = free_port()  # a port nothing listens on
    config = {"collection": "docs", "connection_url": f"http://127.0.0.1:{port}"}
    with pytest.raises(NodeError) as error:
        VectorSearchNode().run({"q": [1.0, 0.0, 0.0]}, config, _context(tmp_path))
    assert error.value.error_type == "vector_store_error"


def test_a_run_waits_while_another_holds_the_orgs_store(tmp_path: Path) -> None:
    context = _context(tmp_path)
    finished: list[dict[str, Any]] = []
    with org_lock(org_folder(context)):
        worker = threading.Thread(
            target=lambda: finished.append(
                VectorUpsertNode().run({"a": ENTRIES}, {"collection": "docs"}, context)
            )
        )
        worker.start()
        time.sleep(0.5)
        assert finished == []  # still waiting for the lock
    worker.join(timeout=30)
    assert finished == [{"collection": "docs", "upserted": 4}]
    with (
        org_lock(org_folder(context)),
        pytest.raises(NodeError) as busy,
        org_lock(org_folder(context), wait_seconds=0.2),
    ):
        pass
    assert busy.value.error_type == "vector_store_busy"


ROUNDS = 6
UPSERTER = """
import logging, sys
from dagy.nodes import HostSettings
from dagy.nodes.base import NodeContext
from dagy.nodes.vectordb import VectorUpsertNode

vector_dir, name, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = NodeContext(run_id=name, node_id="up", params={}, logger=logging.getLogger("up"), org_id="org-a",
                      settings=HostSettings(vector_dir=vector_dir))
for round_ in range(ROUNDS):
    entries = [{"id": f"{name}-{round_}-{i}", "embedding": [1.0, float(i), float(round_)]} for i in range(10)]
    VectorUpsertNode().run({"a": entries}, {"collection": "shared"}, context)
"""


@pytest.mark.slow
def test_two_processes_of_one_org_upsert_at_the_same_time(tmp_path: Path) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPSERTER, str(tmp_path), name, str(ROUNDS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    for process in processes:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    matches = _search(_context(tmp_path), [1.0, 0.0, 0.0], collection="shared", top_k=1000)
    assert len(matches) == 2 * ROUNDS * 10


@pytest.mark.slow
def test_a_text_query_is_embedded_with_the_local_model(tmp_path: Path) -> None:
    context = _context(tmp_path)
    sentences = [
        {"id": "cats", "text": "Cats sleep most of the day."},
        {"id": "tax", "text": "The tax return is due in April."},
        {"id": "rain", "text": "Heavy rain is expected tomorrow."},
    ]
    vectors = EmbedTextNode().run({"docs": sentences}, {"provider": "local"}, context)
    VectorUpsertNode().run({"embed": vectors}, {"collection": "notes"}, context)
    matches = VectorSearchNode().run(
        {"q": "When must I file my taxes?"}, {"collection": "notes", "top_k": 3}, context
    )
    assert (matches[0]["id"], matches[0]["text"]) == ("tax", "The tax return is due in April.")


VECTORS = """
def main(inputs, params):
    return [
        {"id": "q3-report", "embedding": [0.9, 0.1, 0.0], "team": "finance"},
        {"id": "onboarding", "embedding": [0.0, 1.0, 0.0], "team": "hr"},
    ]
"""
QUERY = """
def main(inputs, params):
    assert inputs["index"]["upserted"] == 2
    return [1.0, 0.0, 0.0]
"""


@pytest.mark.slow
def test_a_flow_indexes_and_searches_in_its_orgs_store_on_the_embedded_worker(
    running: tuple[Any, Any], settings: Any
) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = register_flow(
        client,
        owner,
        spec(
            python_node("vectors", VECTORS),
            {"id": "index", "type": "vector_upsert", "data": {"collection": "reports"}},
            python_node("query", QUERY),
            {"id": "find", "type": "vector_search", "data": {"collection": "reports", "top_k": 1}},
            edges=(("vectors", "index"), ("index", "query"), ("query", "find")),
        ),
    )
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert run["status"] == "completed", run
    assert run["output"] == [{"id": "q3-report", "score": pytest.approx(0.9939, abs=1e-3), "team": "finance"}]
    assert (settings.home / "vectors" / owner.org_id / "collection" / "reports").is_dir()
