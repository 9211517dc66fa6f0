"""Peers for the node types' tests: S3 (moto's standalone server) and a small HTTP server, both on
loopback, and node contexts that may reach them."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dagy.nodes.base import NodeContext, ObjectStore
from dagy.protocol.host import HostSettings

MakeContext = Callable[..., NodeContext]


@pytest.fixture
def make_context() -> MakeContext:
    """A node context; loopback peers are reachable unless `allow_private_network=False`."""

    def make(
        *, allow_private_network: bool = True, store: ObjectStore | None = None, **fields: Any
    ) -> NodeContext:
        values: dict[str, Any] = {
            "run_id": f"run-{secrets.token_hex(4)}",
            "node_id": "node",
            "params": {},
            "logger": logging.getLogger("dagy.tests.nodes"),
            "flow_name": "nightly-export",
            "org_id": "org-1",
        }
        values.update(fields)
        settings = HostSettings(allow_private_network=allow_private_network)
        return NodeContext(settings=settings, store=store, **values)

    return make


@dataclass(frozen=True)
class S3Peer:
    endpoint_url: str
    credentials: dict[str, str] = field(
        default_factory=lambda: {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    )

    def config(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """A node's S3 settings pointing at this peer."""
        return {"bucket": bucket, "endpoint_url": self.endpoint_url, "region": "us-east-1"} | (
            self.credentials | extra
        )

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1", **self.credentials)

    def new_bucket(self) -> str:
        name = f"bucket-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Peer]:
    """moto's S3 as a real HTTP server on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Peer(f"http://{host}:{port}")
    server.stop()


Route = Callable[[BaseHTTPRequestHandler, bytes], tuple[int, dict[str, str], bytes]]


class HttpPeer:
    """An HTTP server on loopback answering by path; it records each request it receives."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[dict[str, Any]] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                peer.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                route = peer.routes.get(path)
                status, headers, content = route(self, body) if route else (404, {}, b"no such page")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def json(self, path: str, value: Any, status: int = 200) -> None:
        content = json.dumps(value).encode()
        self.routes[path] = lambda _h, _b: (status, {"Content-Type": "application/json"}, content)


@pytest.fixture
def http_peer() -> Iterator[HttpPeer]:
    peer = HttpPeer()
    peer.thread.start()
    yield peer
    peer.server.shutdown()
    peer.server.server_close()
