"""A run's object token: the credential a run's process uses for the object routes, and nothing else.

The server signs (run, attempt, worker) with a key derived from `DAGY_SECRET_KEY` and hands the
token out with the claim; it is valid while that worker holds that attempt's lease. The run's
process thus reaches its objects without holding the worker's credential, which may serve every
org's runs (docs/adr/0010-node-outputs-in-the-object-store.md).
"""

from __future__ import annotations

import hashlib
import hmac

from dagy.server.settings import Settings

RUN_TOKEN_PREFIX = "dagy_run."  # noqa: S105 - a prefix that tells this token apart, not a secret
_TOKEN_CONTEXT = b"dagy run objects v1"


def run_object_token(settings: Settings, *, run_id: str, attempt: int, worker_id: str) -> str:
    assert settings.secret_key is not None  # filled from DAGY_HOME on start
    key = hmac.new(settings.secret_key.get_secret_value().encode(), _TOKEN_CONTEXT, hashlib.sha256).digest()
    message = f"{run_id}\n{attempt}\n{worker_id}".encode()
    return RUN_TOKEN_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def is_run_object_token(token: str, settings: Settings, *, run_id: str, attempt: int, worker_id: str) -> bool:
    expected = run_object_token(settings, run_id=run_id, attempt=attempt, worker_id=worker_id)
    return hmac.compare_digest(token.encode(), expected.encode())
