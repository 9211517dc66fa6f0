"""A run's tokens: credentials of one attempt of one run, each good for that attempt only.

The object token is what a run's process uses for the object routes, and nothing else. The server
signs (run, attempt, worker) with a key derived from `DAGY_SECRET_KEY` and hands the token out with
the claim; it is valid while that worker holds that attempt's lease. The run's process thus reaches
its objects without holding the worker's credential, which may serve every org's runs
(docs/adr/0010-node-outputs-in-the-object-store.md).

The attempt token is what a run container of a container executor (`kubernetes`, `docker`) reports
with: the worker protocol's routes for that run and attempt (heartbeat, logs, node runs, result,
artifact), as a worker would, and no other run's; it cannot claim. It is signed the same way in
another context, so neither token passes for the other.
"""

from __future__ import annotations

import hashlib
import hmac

from dagy.server.settings import Settings

RUN_TOKEN_PREFIX = "dagy_run."  # noqa: S105 - a prefix that tells this token apart, not a secret
ATTEMPT_TOKEN_PREFIX = "dagy_attempt."  # noqa: S105 - likewise
_TOKEN_CONTEXT = b"dagy run objects v1"
_ATTEMPT_CONTEXT = b"dagy run attempt v1"


def run_object_token(settings: Settings, *, run_id: str, attempt: int, worker_id: str) -> str:
    return RUN_TOKEN_PREFIX + _sign(settings, _TOKEN_CONTEXT, run_id, attempt, worker_id)


def is_run_object_token(token: str, settings: Settings, *, run_id: str, attempt: int, worker_id: str) -> bool:
    expected = run_object_token(settings, run_id=run_id, attempt=attempt, worker_id=worker_id)
    return hmac.compare_digest(token.encode(), expected.encode())


def run_attempt_token(settings: Settings, *, run_id: str, attempt: int, worker_id: str) -> str:
    return ATTEMPT_TOKEN_PREFIX + _sign(settings, _ATTEMPT_CONTEXT, run_id, attempt, worker_id)


def is_run_attempt_token(
    token: str, settings: Settings, *, run_id: str, attempt: int, worker_id: str
) -> bool:
    expected = run_attempt_token(settings, run_id=run_id, attempt=attempt, worker_id=worker_id)
    return hmac.compare_digest(token.encode(), expected.encode())


def _sign(settings: Settings, context: bytes, run_id: str, attempt: int, worker_id: str) -> str:
    assert settings.secret_key is not None  # filled from DAGY_HOME on start
    key = hmac.new(settings.secret_key.get_secret_value().encode(), context, hashlib.sha256).digest()
    message = f"{run_id}\n{attempt}\n{worker_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
