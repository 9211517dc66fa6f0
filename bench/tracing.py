"""The cost of tracing on the cheapest route: `GET /v1/health` under wrk (bench/run.py's way: one
`dagy server`, SQLite, 16 connections, one wrk thread), with `DAGY_TRACING` off and `otlp`, in
interleaved rounds (off, on, off, on, ...) on fresh servers.

With tracing on the server exports to a local OTLP/HTTP receiver in this process (otlp_sink.py's,
which decodes and counts every span), so export costs what it costs against a collector on the
same host. Each round reports requests/s, the server's CPU time per request (what the machine's
other load does not inflate) and, for `otlp`, the spans received against the requests made (a
span per request, plus the set-up's; fewer means the batch queue dropped some).

    python bench/tracing.py [--duration 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from run import cpu_seconds, start_server, stop, wrk

ANSWER = ExportTraceServiceResponse().SerializeToString()


class Sink:
    """Counts the spans every export carries."""

    def __init__(self) -> None:
        self.spans = 0
        lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = ExportTraceServiceRequest.FromString(body)
                with lock:
                    sink.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(ANSWER)))
                self.end_headers()
                self.wfile.write(ANSWER)

            def log_message(self, format: str, *more: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def one_round(mode: str, sink: Sink, args: argparse.Namespace) -> tuple[float, float, int, int]:
    """(req/s, server CPU ms per request, requests, spans received) of one fresh server; the
    requests and spans count the warm-up's too (and the spans a few of the set-up's own)."""
    variables = {"DAGY_TRACING": mode, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url}
    os.environ.update(variables)
    spans_before = sink.spans
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home), args.port)
        try:
            url = f"http://127.0.0.1:{args.port}/v1/health"
            warm_up = wrk("warm-up", url, token=None, connections=args.connections, duration=1)
            cpu = cpu_seconds(server.pid)
            result = wrk("health", url, token=None, connections=args.connections, duration=args.duration)
            cpu = cpu_seconds(server.pid) - cpu
        finally:
            stop(server)  # the server sends the spans it still holds as it stops
    for name in variables:
        os.environ.pop(name)
    cpu_ms = cpu * 1000 / result.requests
    requests = warm_up.requests + result.requests
    return result.requests_per_second, cpu_ms, requests, sink.spans - spans_before


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="rounds per mode; medians are shown")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    sink = Sink()
    rounds: dict[str, list[tuple[float, float, int, int]]] = {"off": [], "otlp": []}
    for _ in range(args.repeat):
        for mode, results in rounds.items():
            results.append(one_round(mode, sink, args))
            rps, cpu_ms, requests, spans = results[-1]
            print(f"{mode:>4}: {rps:8.0f} req/s  {cpu_ms:.3f} ms CPU/request  {requests} requests", end="")
            print(f"  {spans} spans")
    print("\n| DAGY_TRACING | req/s (median; rounds) | server CPU per request | spans received / requests |")
    print("|---|---:|---:|---:|")
    for mode, results in rounds.items():
        rps = " · ".join(f"{r[0]:,.0f}" for r in results)
        cpu_ms = statistics.median(r[1] for r in results)
        spans = sum(r[3] for r in results) / sum(r[2] for r in results) if mode == "otlp" else 0
        received = f"{spans:.3f}" if mode == "otlp" else "—"
        median = statistics.median(r[0] for r in results)
        print(f"| `{mode}` | {median:,.0f} ({rps}) | {cpu_ms * 1000:.0f} µs | {received} |")


if __name__ == "__main__":
    main()
