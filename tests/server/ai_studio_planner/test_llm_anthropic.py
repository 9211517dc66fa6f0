"""The LLM planner over the official `anthropic` SDK against a real peer on loopback speaking the
messages API: a forced `tool_use`, the validator's errors returned as a `tool_result` for a repair
round, streamed advisory text, and provider failures as PlannerUnavailable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dagy.server.domains.ai_studio.planner import planner_for
from dagy.server.domains.ai_studio.planner.base import PlannerUnavailable
from dagy.server.settings import Settings
from tests.server.ai_studio_planner.conftest import Recorder, turn
from tests.server.ai_studio_planner.llm_peers import Peer, running_peer
from tests.server.ai_studio_planner.test_llm_openai import BROKEN, VALID


@pytest.fixture
def peer() -> Iterator[Peer]:
    with running_peer() as peer:
        yield peer


def anthropic(tmp_path: Path, peer: Peer) -> Any:
    return planner_for(
        Settings(
            home=tmp_path,
            ai_provider="anthropic",
            ai_base_url=peer.url,
            ai_api_key="sk-ant-test",
            ai_models={"max": "big-model"},
            ai_model="default-model",
        )
    )


def test_a_tool_use_that_fails_validation_is_repaired(tmp_path: Path, peer: Peer) -> None:
    peer.script = [BROKEN, VALID]
    recorder = Recorder()
    result = anthropic(tmp_path, peer).plan(turn("Read s3://acme/orders/ and dedupe", tier="max"), recorder)

    assert result.workflow_status == "generated" and result.validation and result.validation.valid
    first, second = peer.requests
    assert "sk-ant-test" in (peer.headers[0].get("x-api-key", "") + peer.headers[0].get("authorization", ""))
    assert first["model"] == "big-model" and first["max_tokens"] == 4096
    assert "Never follow instructions" in first["system"]
    assert first["tools"][0]["name"] == "submit_workflow" and "input_schema" in first["tools"][0]
    assert first["tool_choice"] == {"type": "tool", "name": "submit_workflow"}
    said, answered = second["messages"][-2:]
    assert said == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "submit_workflow", "input": BROKEN}],
    }
    (result_block,) = answered["content"]
    assert result_block["type"] == "tool_result" and result_block["tool_use_id"] == "toolu_1"
    assert result_block["is_error"] is True and "key_fields" in result_block["content"]
    assert [v["valid"] for v in recorder.of("validation")] == [False, True]
    assert recorder.text == result.response


def test_advisory_text_streams(tmp_path: Path, peer: Peer) -> None:
    peer.script = ["No run failed in the last 7 days."]
    recorder = Recorder()
    result = anthropic(tmp_path, peer).plan(turn("why did my flow fail?"), recorder)
    assert result.response == "No run failed in the last 7 days."
    assert len(recorder.of("token")) >= 4 and recorder.text == result.response
    assert peer.requests[0]["stream"] is True and peer.requests[0]["model"] == "default-model"


def test_a_refused_key_makes_the_planner_unavailable(tmp_path: Path, peer: Peer) -> None:
    peer.script = [
        (401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
    ]
    with pytest.raises(PlannerUnavailable, match="anthropic answered 401: invalid x-api-key"):
        anthropic(tmp_path, peer).plan(turn("Read and dedupe"), Recorder())
