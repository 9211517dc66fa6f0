"""The LLM nodes against a real local peer speaking the OpenAI, Azure OpenAI and Anthropic wire
formats (an HTTP server in a thread), and the packaged local embedding model."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from dagy.nodes import HostSettings
from dagy.nodes.base import NodeContext, NodeError
from dagy.nodes.llm import EmbedTextNode, LlmClassifyNode, LlmExtractNode, LlmPromptNode
from dagy.nodes.llm_providers import embed_locally
from tests.factories import new_org
from tests.flow_factories import (
    app_with_embedded_worker,
    python_node,
    register_flow,
    spec,
    trigger,
    wait_for_run,
)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Peer:
    """What the provider answers: scripted replies first (status, body), then `answer(request)`."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    scripted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    answer: Callable[[Any], str] = lambda body: "ok"


def _chat_completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9x1",
        "object": "chat.completion",
        "created": 1764400000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38},
    }


def _message(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 6},
    }


def _embeddings(model: str, texts: list[str]) -> dict[str, Any]:
    data = [
        {"object": "embedding", "index": i, "embedding": [float(len(text)), float(i), 0.5]}
        for i, text in enumerate(texts)
    ]
    data.reverse()  # the API may answer out of order: `index` says which text
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 9, "total_tokens": 9}}


def _handler(peer: Peer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            peer.seen.append(
                Seen(
                    "POST",
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            if peer.scripted:
                status, reply = peer.scripted.pop(0)
            elif parts.path.endswith("/embeddings"):
                status, reply = 200, _embeddings(body["model"], body["input"])
            elif parts.path.endswith("/messages"):
                status, reply = 200, _message(body["model"], peer.answer(body))
            else:
                status, reply = 200, _chat_completion(body.get("model", "deployment"), peer.answer(body))
            payload = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("retry-after-ms", "5")  # keeps the SDKs' backoff short
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def peer() -> Iterator[Peer]:
    state = Peer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _context(*, params: dict[str, Any] | None = None, allow_private: bool = True) -> NodeContext:
    return NodeContext(
        run_id="run-1",
        node_id="llm",
        params=params or {},
        logger=logging.getLogger("dagy.test.llm"),
        org_id="org-1",
        flow_name="daily",
        settings=HostSettings(allow_private_network=allow_private),
    )


def _openai(peer: Peer, **data: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": f"{peer.url}/v1",
        "api_key": "sk-test",
        **data,
    }


def _user_text(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def test_llm_prompt_sends_the_rendered_prompt_to_an_openai_compatible_server(peer: Peer) -> None:
    peer.answer = lambda body: "  Three orders, all shipped.\n"
    config = _openai(
        peer,
        prompt="Summarise for {params[customer]}: {input}",
        system_prompt="Be brief.",
        temperature=0.2,
        max_tokens=50,
    )
    orders = [{"order": 1, "status": "shipped"}]
    answer = LlmPromptNode().run({"orders": orders}, config, _context(params={"customer": "ACME"}))
    assert answer == "Three orders, all shipped."
    (sent,) = peer.seen
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": 'Summarise for ACME: [{"order":1,"status":"shipped"}]'},
    ]
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.2, 50)
    assert "response_format" not in sent.body


def test_the_prompt_follows_dagys_template_rule(peer: Peer) -> None:
    template = 'For {params[region]} ({params}): {input[note]}; answer like {{"ok": true}} in {flow_name}'
    LlmPromptNode().run(
        {"a": {"note": "late"}}, _openai(peer, prompt=template), _context(params={"region": "EU"})
    )
    assert (
        _user_text(peer.seen[0].body) == 'For EU ({"region":"EU"}): late; answer like {"ok": true} in daily'
    )


def test_a_prompt_naming_what_is_not_there_fails_before_any_request(peer: Peer) -> None:
    for prompt, error_type in [
        ("Tell {customer}", "invalid_template"),
        ("Tell {params[customer]}", "invalid_template"),
    ]:
        with pytest.raises(NodeError) as error:
            LlmPromptNode().run({}, _openai(peer, prompt=prompt), _context())
        assert error.value.error_type == error_type and "customer" in error.value.message
    assert peer.seen == []
    assert (
        "Unknown placeholder {customer}"
        in LlmPromptNode.validate({"model": "m", "prompt": "Tell {customer}"})["prompt"]
    )


def test_json_response_format_parses_the_answer_and_refuses_prose(peer: Peer) -> None:
    peer.answer = lambda body: '```json\n{"total": 3, "late": ["A-7"]}\n```'
    config = _openai(peer, prompt="Count {input}", response_format="json")
    assert LlmPromptNode().run({"x": "orders"}, config, _context()) == {"total": 3, "late": ["A-7"]}
    assert peer.seen[0].body["response_format"] == {"type": "json_object"}
    assert "JSON" in peer.seen[0].body["messages"][0]["content"]
    peer.answer = lambda body: "There are three orders."
    with pytest.raises(NodeError) as error:
        LlmPromptNode().run({"x": "orders"}, config, _context())
    assert error.value.error_type == "invalid_llm_output"
    assert "There are three orders." in error.value.message


def test_anthropic_messages_api(peer: Peer) -> None:
    peer.answer = lambda body: "Bonjour"
    config = {
        "provider": "anthropic",
        "model": "claude-sonnet-5",
        "base_url": peer.url,
        "api_key": "sk-ant-test",
        "prompt": "Translate: {input}",
        "system_prompt": "You translate to French.",
        "temperature": 0.5,
        "max_tokens": 200,
    }
    assert LlmPromptNode().run({"a": "Hello"}, config, _context()) == "Bonjour"
    (sent,) = peer.seen
    assert sent.path == "/v1/messages"
    # Earlier SDK versions send the key as x-api-key, this one as a bearer token: either carries it.
    assert "sk-ant-test" in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
    assert "anthropic-version" in sent.headers
    assert sent.body["system"] == "You translate to French."
    assert sent.body["messages"] == [{"role": "user", "content": "Translate: Hello"}]
    assert (sent.body["model"], sent.body["temperature"], sent.body["max_tokens"]) == (
        "claude-sonnet-5",
        0.5,
        200,
    )


def test_azure_openai_names_the_deployment_and_api_version(peer: Peer) -> None:
    peer.answer = lambda body: "fine"
    config = {
        "provider": "azure_openai",
        "model": "gpt4o-prod",
        "base_url": peer.url,
        "api_key": "azure-key",
        "api_version": "2024-10-21",
        "prompt": "How is {input}?",
    }
    assert LlmPromptNode().run({"a": "it"}, config, _context()) == "fine"
    (sent,) = peer.seen
    assert sent.path == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent.query == {"api-version": ["2024-10-21"]}
    assert sent.headers["api-key"] == "azure-key"


def test_ollama_needs_no_key_and_openai_without_one_is_refused(peer: Peer) -> None:
    config = {"provider": "ollama", "model": "llama3.2", "base_url": f"{peer.url}/v1", "prompt": "Hi"}
    assert LlmPromptNode().run({}, config, _context()) == "ok"
    assert peer.seen[0].path == "/v1/chat/completions"
    with pytest.raises(NodeError) as error:
        LlmPromptNode().run({}, {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Hi"}, _context())
    assert error.value.error_type == "missing_api_key"


def test_a_rate_limited_request_is_retried(peer: Peer) -> None:
    limited = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    peer.scripted = [(429, limited)]
    assert LlmPromptNode().run({}, _openai(peer, prompt="Hi"), _context()) == "ok"
    assert len(peer.seen) == 2


def test_server_errors_that_persist_fail_with_the_providers_message(peer: Peer) -> None:
    broken = {
        "error": {"message": "The server had an error while processing your request.", "type": "server"}
    }
    peer.scripted = [(500, broken)] * 4
    with pytest.raises(NodeError) as error:
        LlmPromptNode().run({}, _openai(peer, prompt="Hi"), _context())
    assert error.value.error_type == "llm_error"
    assert "500" in error.value.message and "while processing your request" in error.value.message
    assert len(peer.seen) == 4  # the first try and three retries


def test_anthropic_errors_carry_the_providers_message(peer: Peer) -> None:
    invalid = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: too large"},
    }
    peer.scripted = [(400, invalid)]
    config = {
        "provider": "anthropic",
        "model": "claude",
        "base_url": peer.url,
        "api_key": "k",
        "prompt": "Hi",
    }
    with pytest.raises(NodeError) as error:
        LlmPromptNode().run({}, config, _context())
    assert (error.value.error_type, len(peer.seen)) == ("llm_error", 1)
    assert "400" in error.value.message and "max_tokens: too large" in error.value.message


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_ssrf_guard_refuses_loopback_without_allow_private_network(peer: Peer, provider: str) -> None:
    config = {**_openai(peer, prompt="Hi"), "provider": provider}
    with pytest.raises(NodeError) as error:
        LlmPromptNode().run({}, config, _context(allow_private=False))
    assert error.value.error_type == "blocked_url"
    assert peer.seen == []


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["name", "amount"],
}


def test_llm_extract_asks_for_the_schema_and_merges_fields_into_each_record(peer: Peer) -> None:
    replies = {
        "Invoice from ACME for 120.50 EUR": '{"name": "ACME", "amount": 120.5}',
        "Globex billed us 99": '{"name": "Globex", "amount": 99}',
    }
    peer.answer = lambda body: replies[_user_text(body)]
    records = [
        {"id": 1, "body": "Invoice from ACME for 120.50 EUR"},
        {"id": 2, "body": "Globex billed us 99"},
    ]
    config = _openai(peer, schema=SCHEMA, text_field="body", instructions="Amounts in euros.")
    result = LlmExtractNode().run({"mail": records}, config, _context())
    assert result == [
        {"id": 1, "body": "Invoice from ACME for 120.50 EUR", "name": "ACME", "amount": 120.5},
        {"id": 2, "body": "Globex billed us 99", "name": "Globex", "amount": 99},
    ]
    sent = peer.seen[0].body
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert "Amounts in euros." in sent["messages"][0]["content"]
    assert sent["temperature"] == 0.0


def test_llm_extract_refuses_an_answer_outside_the_schema(peer: Peer) -> None:
    peer.answer = lambda body: '{"name": "ACME", "amount": "a lot"}'
    with pytest.raises(NodeError) as error:
        LlmExtractNode().run({"t": "ACME owes a lot"}, _openai(peer, schema=SCHEMA), _context())
    assert error.value.error_type == "invalid_llm_output"
    assert "amount" in error.value.message


def test_llm_extract_with_anthropic_instructs_the_schema(peer: Peer) -> None:
    peer.answer = lambda body: '{"name": "Initech", "amount": 12}'
    config = {
        "provider": "anthropic",
        "model": "claude",
        "base_url": peer.url,
        "api_key": "k",
        "schema": SCHEMA,
    }
    assert LlmExtractNode().run({"t": "Initech: 12"}, config, _context()) == {"name": "Initech", "amount": 12}
    assert json.dumps(SCHEMA) in peer.seen[0].body["system"]


def test_llm_extract_validation_flags_an_invalid_schema() -> None:
    problems = LlmExtractNode.validate({"model": "m", "schema": {"type": "no-such-type"}})
    assert "not a valid JSON Schema" in problems["schema"]


def test_llm_classify_matches_one_label_and_refuses_others(peer: Peer) -> None:
    labels = ["positive", "negative", "neutral"]
    replies = {"Love it": "Positive.", "Broken on arrival": "negative", "It is a box": '"neutral"'}
    peer.answer = lambda body: replies.get(_user_text(body), "mixed")
    config = _openai(peer, labels=labels)
    records = [{"text": text} for text in replies]
    assert LlmClassifyNode().run({"reviews": records}, config, _context()) == [
        {"text": "Love it", "label": "positive"},
        {"text": "Broken on arrival", "label": "negative"},
        {"text": "It is a box", "label": "neutral"},
    ]
    assert json.dumps(labels) in peer.seen[0].body["messages"][0]["content"]
    with pytest.raises(NodeError) as error:
        LlmClassifyNode().run({"review": "Meh, but also great"}, config, _context())
    assert error.value.error_type == "invalid_llm_output" and "mixed" in error.value.message


def test_llm_classify_several_labels(peer: Peer) -> None:
    peer.answer = lambda body: '["billing", "Urgent"]'
    config = _openai(peer, labels=["billing", "shipping", "urgent"], multi_label=True)
    assert LlmClassifyNode().run({"t": "Charged twice, fix now"}, config, _context()) == ["billing", "urgent"]
    peer.answer = lambda body: '["billing", "refund"]'
    with pytest.raises(NodeError):
        LlmClassifyNode().run({"t": "Refund me"}, config, _context())
    assert LlmClassifyNode.validate({"model": "m", "labels": ["only"]}) == {
        "labels": "must be distinct non-empty strings, at least two"
    }


def test_embed_text_through_the_embeddings_api_in_batches(peer: Peer) -> None:
    records = [{"doc": f"d{i}", "body": "x" * (i + 1), "lang": "en"} for i in range(5)]
    config = {
        "provider": "openai",
        "model": "text-embedding-3-small",
        "base_url": f"{peer.url}/v1",
        "api_key": "sk-test",
        "text_field": "body",
        "id_field": "doc",
        "batch_size": 2,
    }
    result = EmbedTextNode().run({"docs": records}, config, _context())
    assert [len(sent.body["input"]) for sent in peer.seen] == [2, 2, 1]
    assert peer.seen[0].body["model"] == "text-embedding-3-small"
    assert result[0] == {"id": "d0", "embedding": [1.0, 0.0, 0.5], "text": "x", "lang": "en"}
    assert [r["embedding"][0] for r in result] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert EmbedTextNode.validate({"provider": "openai"}) == {
        "model": "required: the provider's embedding model"
    }


@pytest.fixture(scope="module")
def local_model_ready() -> None:
    embed_locally(["warm up"])  # loads the packaged model once for the tests that use it


@pytest.mark.slow
@pytest.mark.usefixtures("local_model_ready")
def test_the_local_model_embeds_similar_sentences_closer() -> None:
    texts = ["The cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly revenue grew by 8%."]
    records = EmbedTextNode().run({"t": texts}, {}, _context())
    assert [r["id"] for r in records] == [0, 1, 2]
    assert [r["text"] for r in records] == texts
    vectors = [r["embedding"] for r in records]
    assert all(len(v) == 384 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-4) for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    json.dumps(records)  # the output is JSON


ORDERS = """
def main(inputs, params):
    return [{"order": "A-7", "late_days": 3}]
"""


@pytest.mark.slow
def test_a_flow_prompts_a_model_with_a_secret_key_on_the_embedded_worker(peer: Peer, settings: Any) -> None:
    peer.answer = lambda body: "A-7 is three days late."
    app = app_with_embedded_worker(settings.model_copy(update={"allow_private_network": True}))
    with TestClient(app, client=("198.51.100.7", 50000)) as client:
        owner = new_org(app, client)
        created = client.post(
            "/v1/secrets",
            json={"secret_name": "openai-key", "value": "sk-from-secret"},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        prompt = {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "base_url": f"{peer.url}/v1",
            "api_key": {"secret": "openai-key"},
            "prompt": "Which orders are late? {input}",
        }
        flow = register_flow(
            client,
            owner,
            spec(
                python_node("orders", ORDERS),
                {"id": "ask", "type": "llm_prompt", "data": prompt},
                edges=(("orders", "ask"),),
            ),
        )
        run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert run["status"] == "completed", run
    assert run["output"] == "A-7 is three days late."
    (sent,) = peer.seen
    assert sent.headers["authorization"] == "Bearer sk-from-secret"
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.0, 1024)
    assert _user_text(sent.body) == 'Which orders are late? [{"order":"A-7","late_days":3}]'
