"""Model providers on loopback for the LLM planner's tests: an HTTP server speaking the OpenAI
chat-completions wire format (tool calls, streamed chunks) and the Anthropic messages format
(tool_use blocks, streamed events), answering from a script and recording every request."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What the peer answers a request: a tool call's arguments (dict), text (str, streamed when the
# request streams), or (status, error body) for a failure.
Reply = dict[str, Any] | str | tuple[int, dict[str, Any]]


@dataclass
class Peer:
    url: str = ""
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fallback: Callable[[dict[str, Any]], Reply] | None = None

    def next_reply(self, body: dict[str, Any]) -> Reply:
        if self.script:
            return self.script.pop(0)
        assert self.fallback is not None, "the peer ran out of scripted replies"
        return self.fallback(body)


def openai_completion(model: str, reply: dict[str, Any] | str, call: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(reply, dict):
        message["tool_calls"] = [
            {
                "id": f"call_{call}",
                "type": "function",
                "function": {"name": "submit_workflow", "arguments": json.dumps(reply)},
            }
        ]
    else:
        message["content"] = reply
    return {
        "id": f"chatcmpl-{call}",
        "object": "chat.completion",
        "created": 1764400000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if isinstance(reply, dict) else "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


def openai_chunks(model: str, text: str) -> list[dict[str, Any]]:
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1764400000, "model": model}
    chunks = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return chunks


def anthropic_message(model: str, reply: dict[str, Any] | str, call: int) -> dict[str, Any]:
    if isinstance(reply, dict):
        content = [{"type": "tool_use", "id": f"toolu_{call}", "name": "submit_workflow", "input": reply}]
    else:
        content = [{"type": "text", "text": reply}]
    return {
        "id": f"msg_{call}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if isinstance(reply, dict) else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50},
    }


def anthropic_events(model: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    start = anthropic_message(model, "", 0) | {"content": [], "stop_reason": None}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
        )
        for p in pieces
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _handler(peer: Peer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            peer.requests.append(body)
            peer.headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = peer.next_reply(body)
            anthropic = self.path.endswith("/messages")
            if isinstance(reply, tuple):
                self._json(reply[0], reply[1])
            elif body.get("stream") and isinstance(reply, str):
                self._stream(body["model"], reply, anthropic=anthropic)
            elif anthropic:
                self._json(200, anthropic_message(body["model"], reply, len(peer.requests)))
            else:
                self._json(200, openai_completion(body["model"], reply, len(peer.requests)))

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("retry-after-ms", "5")  # keeps the SDKs' backoff short
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, model: str, text: str, *, anthropic: bool) -> None:
            if anthropic:
                frames = [
                    f"event: {name}\ndata: {json.dumps(data)}\n\n"
                    for name, data in anthropic_events(model, text)
                ]
            else:
                frames = [f"data: {json.dumps(chunk)}\n\n" for chunk in openai_chunks(model, text)]
                frames.append("data: [DONE]\n\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for frame in frames:
                data = frame.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    return Handler


@contextmanager
def running_peer() -> Iterator[Peer]:
    peer = Peer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(peer))
    server.daemon_threads = True
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
