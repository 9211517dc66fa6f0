"""Traces of unhandled errors, kept for operators (and the super-admin exceptions endpoints).

The client gets a 500 with a request id and no stack trace; the trace is written here as one JSON
file per error under `DAGY_HOME/exceptions/`, named by a key that sorts by time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from dagy.server.db.base import new_id, utcnow

log = logging.getLogger("dagy.server.traces")


@dataclass(frozen=True)
class TraceStore:
    folder: Path

    def record(self, request_id: str, method: str, path: str, trace: str) -> str:
        """Write one trace; answer its key. Never raises: a full disk must not hide the original error."""
        key = new_id("trace")
        body = {
            "key": key,
            "timestamp": utcnow().isoformat(),
            "request_id": request_id,
            "method": method,
            "path": path,
            "traceback": trace,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{key}.json").write_text(json.dumps(body))
        except OSError as exc:
            log.error("could not store the trace of request %s: %s", request_id, exc)
        return key
