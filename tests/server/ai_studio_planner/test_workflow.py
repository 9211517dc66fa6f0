"""What both planners answer for a canvas (workflow.py, pipeline.py, canvas.py): the flow spec and
its validation by the validator of POST /flows, the YAML that registers it, the Python that runs it,
and a left-to-right layout without overlaps."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dagy.server.domains.ai_studio.planner.canvas import lay_out, make_edge, node_position, overlap
from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner
from dagy.server.domains.ai_studio.planner.workflow import check_flow_spec, flow_spec_of, render_workflow
from dagy.server.domains.flows.spec import flow_spec_problems
from tests.server.ai_studio_planner.conftest import CORPUS, Recorder, attachments_of, turn

DOUBLE = "def main(inputs, params):\n    '''Doubles n.'''\n    return {'n': params.get('n', 1) * 2}\n"
ADD_ONE = (
    "def main(inputs, params):\n    value = next(iter(inputs.values()))\n    return {'n': value['n'] + 1}\n"
)


def python_canvas(*codes: str, ids: list[str] | None = None) -> dict[str, Any]:
    ids = ids or [f"step_{i}" for i in range(len(codes))]
    nodes = [
        {"id": i, "type": "python_function", "data": {"label": f"Step {i}", "code": c}}
        for i, c in zip(ids, codes, strict=True)
    ]
    edges = [make_edge(a, b) for a, b in itertools.pairwise(ids)]
    return lay_out({"nodes": nodes, "edges": edges})


def load(code: str, tmp_path: Path, name: str) -> Any:
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
def test_every_corpus_workflow_renders_parseable_python_and_yaml(entry: dict[str, Any]) -> None:
    result = EmbeddedPlanner().plan(turn(entry["request"], attachments=attachments_of(entry)), Recorder())
    assert result.pipeline_python and result.pipeline_yaml and result.canvas_state
    tree = ast.parse(result.pipeline_python)
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {n["id"] for n in result.canvas_state["nodes"]} <= functions
    spec = yaml.safe_load(result.pipeline_yaml)
    assert spec == flow_spec_of(result.canvas_state, spec["name"])
    assert flow_spec_problems(spec) == {}


def test_the_generated_code_flow_runs_in_process(tmp_path: Path) -> None:
    """Imported and called like any @flow: each step is a task run named after its node."""
    workflow = render_workflow(python_canvas(DOUBLE, ADD_ONE, ids=["double", "add-one"]))
    assert workflow.validation.valid
    module = load(workflow.pipeline_python, tmp_path, "generated_in_process")
    assert module.generated_pipeline(n=5) == {"n": 11}
    run = module.generated_pipeline.last_run
    assert [task_run.task_name for task_run in run.task_runs] == ["double", "add-one"]
    assert run.status == "completed"


def test_node_ids_that_are_not_python_names_still_make_valid_code(tmp_path: Path) -> None:
    ids = ["1st", "class", "params", "run_node", "a-b"]
    codes = [DOUBLE, *[ADD_ONE] * 4]
    workflow = render_workflow(python_canvas(*codes, ids=ids))
    module = load(workflow.pipeline_python, tmp_path, "generated_odd_ids")
    assert module.generated_pipeline(n=1) == {"n": 6}


def test_code_with_triple_quotes_and_backslashes_survives(tmp_path: Path) -> None:
    code = (
        "def main(inputs, params):\n    '''It's \\\\ fine.'''\n    return {'text': \"a\\tb\", 'q': '''x'''}\n"
    )
    workflow = render_workflow(python_canvas(code))
    module = load(workflow.pipeline_python, tmp_path, "generated_quotes")
    assert module.generated_pipeline() == {"text": "a\tb", "q": "x"}


def test_validation_is_the_flow_validator_plus_the_allowlist() -> None:
    canvas = {
        "nodes": [
            {"id": "a", "type": "s3_write", "data": {"bucket": "b"}},
            {"id": "b", "type": "email_send", "data": {"to": ["x@example.com"], "subject": "s", "body": "b"}},
            {"id": "c", "type": "no_such_type", "data": {}},
        ],
        "edges": [{"source": "a", "target": "zz"}],
    }
    spec = flow_spec_of(canvas, "bad name!")
    validation = check_flow_spec(spec)
    problems = flow_spec_problems(spec)
    assert not validation.valid
    assert {f"{field}: {problem}" for field, problem in problems.items()} <= set(validation.errors)
    assert any(
        error.startswith("flow_spec.nodes[1].type: 'email_send' is not a type") for error in validation.errors
    )
    assert any(error.startswith("flow_spec.name:") for error in validation.errors)
    assert validation.warnings == []


def test_new_nodes_are_placed_around_kept_ones_without_overlap() -> None:
    canvas = {
        "nodes": [
            {"id": "a", "type": "s3_ingest", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "new", "type": "deduplicator", "data": {}},
            {"id": "b", "type": "s3_write", "position": [280, 0], "data": {}},
            {"id": "source", "type": "http_fetch", "data": {}},
            {"id": "tail", "type": "webhook_post", "data": {}},
            {"id": "alone", "type": "python_function", "data": {}},
        ],
        "edges": [
            make_edge("a", "new"),
            make_edge("new", "b"),
            make_edge("source", "b"),
            make_edge("b", "tail"),
        ],
    }
    lay_out(canvas)
    positions = {n["id"]: node_position(n) for n in canvas["nodes"]}
    assert positions["a"] == (0, 0) and positions["b"] == (280, 0)
    assert canvas["nodes"][2]["position"] == [280, 0]  # kept as it was written
    assert positions["a"][0] < positions["new"][0] < positions["b"][0]  # type: ignore[index]
    assert positions["source"][0] < positions["b"][0] < positions["tail"][0]  # type: ignore[index]
    placed = list(positions.values())
    for i, p in enumerate(placed):
        for q in placed[i + 1 :]:
            assert not overlap(p, q), (p, q)  # type: ignore[arg-type]
