"""A local OTLP/HTTP trace receiver for benchmarks: accepts `POST /v1/traces`, decodes each
`ExportTraceServiceRequest` as a collector would, counts the spans and drops them. On SIGINT or
SIGTERM it prints how many requests and spans it received (to compare with the requests made).

    python bench/otlp_sink.py --port 4318 &
    DAGY_TRACING=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python bench/run.py --only reads
"""

from __future__ import annotations

import argparse
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

ANSWER = ExportTraceServiceResponse().SerializeToString()


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.spans = 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    counts = Counts()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = ExportTraceServiceRequest.FromString(body)
            spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            with counts.lock:
                counts.requests += 1
                counts.spans += spans
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, format: str, *more: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    print(f"{counts.requests} export requests, {counts.spans} spans", flush=True)


if __name__ == "__main__":
    main()
