"""AI Studio's embedded planner over the request corpus, in-process.

For each request of tests/server/ai_studio_planner/corpus.yaml: the time from calling the planner
to its first emitted event (the first SSE event a streamed turn sends after the service's own
`status`) and to its result (what becomes `done`), and whether the workflow validates and matches
the node types the corpus states. Median and p95 over every request and round, after one warm-up
round (imports, the node registry, regex compilation), and the share of the corpus that validates.
Targets: first event <= 50 ms, done <= 300 ms, 100 % valid.

`--http` times the same turns through the API as a client sees them: `dagy server` (SQLite in a
fresh home; `--database-url` for PostgreSQL) on loopback, one session per request, each request
sent to `POST /v1/ai-studio/sessions/{id}/messages/stream` and read with an SSE client: the time
from sending the request to its first SSE event, and to `done`.

    .venv/bin/python bench/ai_studio.py --rounds 5
    .venv/bin/python bench/ai_studio.py --http --rounds 3 [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from httpx_sse import connect_sse

from dagy.server.domains.ai_studio.planner.base import Attachment, PlanRequest
from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "server" / "ai_studio_planner" / "corpus.yaml"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: starting the server)


def _request(entry: dict[str, Any]) -> PlanRequest:
    attachments = [
        Attachment(
            f"att_{i}", a["filename"], a["kind"], a.get("text", ""), a.get("schema"), a.get("samples", [])
        )
        for i, a in enumerate(entry.get("attachments", []))
    ]
    return PlanRequest(entry["request"], "auto", "standard", None, attachments, [], [])


def _time_one(planner: EmbeddedPlanner, entry: dict[str, Any]) -> dict[str, Any]:
    first: list[float] = []

    def emit(event: str, data: dict[str, Any]) -> None:
        if not first:
            first.append(time.perf_counter())

    started = time.perf_counter()
    result = planner.plan(_request(entry), emit)
    ended = time.perf_counter()
    types = [node["type"] for node in (result.canvas_state or {}).get("nodes", [])]
    return {
        "first_event_ms": (first[0] - started) * 1000,
        "done_ms": (ended - started) * 1000,
        "valid": bool(result.validation and result.validation.valid),
        "as_stated": types == entry["nodes"],
    }


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "max": round(ordered[-1], 3),
    }


def _http(corpus: list[dict[str, Any]], rounds: int, database_url: str | None) -> dict[str, Any]:
    """Every request of the corpus without attachments as a streamed turn, `rounds` times after
    one warm-up turn; each turn in a session of its own (a build, as a user's first turn is)."""
    port = 21_000 + int(time.time()) % 5_000
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        server = run.start_server(Path(home), port, database_url=database_url, worker=False)
        try:
            token, org_id = run.setup(base)
            admin = {"Authorization": f"Bearer {token}"}
            funded = httpx.patch(
                f"{base}/v1/admin/customers/{org_id}", json={"credits_balance": 1e6}, headers=admin
            )
            funded.raise_for_status()
            headers = admin | {"X-Org-Id": org_id}
            plain = [entry for entry in corpus if not entry.get("attachments")]
            samples: list[dict[str, Any]] = []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for index, entry in enumerate([plain[0], *plain * rounds]):
                    session = client.post("/v1/ai-studio/sessions", json={"title": f"bench {index}"}).json()
                    path = f"/v1/ai-studio/sessions/{session['session_id']}/messages/stream"
                    started = time.perf_counter()
                    first = done = None
                    with connect_sse(client, "POST", path, json={"message": entry["request"]}) as events:
                        for event in events.iter_sse():
                            first = first or time.perf_counter()
                            if event.event in ("done", "error"):
                                done = time.perf_counter()
                                valid = (
                                    event.event == "done" and json.loads(event.data)["validation"]["valid"]
                                )
                                break
                    if index and first and done:  # the first turn warms the server up
                        samples.append(
                            {
                                "first_event_ms": (first - started) * 1000,
                                "done_ms": (done - started) * 1000,
                                "valid": valid,
                            }
                        )
        finally:
            run.stop(server)
    return {
        "benchmark": "ai_studio_http_sse",
        "database": "postgresql" if database_url else "sqlite",
        "requests": len(plain),
        "rounds": rounds,
        "first_event_ms": _summary([s["first_event_ms"] for s in samples]),
        "done_ms": _summary([s["done_ms"] for s in samples]),
        "valid_share": sum(s["valid"] for s in samples) / len(samples),
        "targets": {"first_event_ms": 50, "done_ms": 300, "valid_share": 1.0},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds over the whole corpus")
    parser.add_argument("--http", action="store_true", help="through the API and SSE, not in-process")
    parser.add_argument("--database-url", help="the server's database with --http (default SQLite)")
    args = parser.parse_args()
    corpus = yaml.safe_load(CORPUS.read_text())
    if args.http:
        print(json.dumps(_http(corpus, args.rounds, args.database_url), indent=2))
        return
    planner = EmbeddedPlanner()
    for entry in corpus:  # warm-up
        _time_one(planner, entry)
    samples = [_time_one(planner, entry) for _ in range(args.rounds) for entry in corpus]
    last_round = samples[-len(corpus) :]
    report = {
        "benchmark": "ai_studio_embedded_planner",
        "python": platform.python_version(),
        "requests": len(corpus),
        "rounds": args.rounds,
        "first_event_ms": _summary([s["first_event_ms"] for s in samples]),
        "done_ms": _summary([s["done_ms"] for s in samples]),
        "valid_share": sum(s["valid"] for s in last_round) / len(corpus),
        "as_stated_share": sum(s["as_stated"] for s in last_round) / len(corpus),
        "targets": {"first_event_ms": 50, "done_ms": 300, "valid_share": 1.0},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
