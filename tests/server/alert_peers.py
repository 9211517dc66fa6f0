"""Real peers on loopback for the alert tests: an HTTP receiver standing in for Slack, a webhook
endpoint and PagerDuty (it records each request and can fail a number of times first), and an
aiosmtpd SMTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.ports import free_port


class Receiver:
    """Answers every POST `status` (after `failures` answers of 500), recording each request."""

    def __init__(
        self, *, failures: int = 0, status: int = 200, answer: bytes = b"ok", stalls: int = 0
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures = failures
        self.stalls = stalls  # the first `stalls` requests are answered only after 2 s
        self.status = status
        self.answer = answer
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    failing = receiver.failures > 0
                    receiver.failures -= 1 if failing else 0
                    stalling = receiver.stalls > 0
                    receiver.stalls -= 1 if stalling else 0
                if stalling:
                    time.sleep(2)
                status, content = (500, b"boom") if failing else (receiver.status, receiver.answer)
                self.send_response(status)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        Server = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 256})  # a deep accept backlog
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def json_bodies(self) -> list[Any]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    thread = threading.Thread(target=receiver.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@dataclass
class Mailbox:
    port: int
    envelopes: list[Envelope] = field(default_factory=list)

    def message(self, index: int = 0) -> Any:
        return message_from_bytes(self.envelopes[index].content, policy=policy.default)


@contextmanager
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
            box.envelopes.append(envelope)
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
