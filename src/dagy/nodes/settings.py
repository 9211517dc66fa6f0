"""What the host a run executes on lets nodes do, as `DAGY_*` variables of the worker's host.

The worker (embedded in `dagy server` or `dagy worker`) hands them to each run in its payload
(`host_settings`), not in the run's environment, which holds no `DAGY_*` variable; the server's
settings of the same names fill them for the embedded worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class RuntimeSettings:
    allow_private_network: bool = False  # DAGY_ALLOW_PRIVATE_NETWORK: SSRF guard off (tests, on-prem)
    smtp_host: str | None = None  # DAGY_SMTP_HOST: the default SMTP server of email_send
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "dagy@localhost"
    smtp_starttls: bool = True
    vector_dir: str = "~/.dagy/vectors"  # DAGY_VECTOR_DIR: the embedded vector store, one folder per org

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        return cls(
            allow_private_network=env.get("DAGY_ALLOW_PRIVATE_NETWORK", "").lower() in _TRUE,
            smtp_host=env.get("DAGY_SMTP_HOST") or None,
            smtp_port=int(env.get("DAGY_SMTP_PORT") or 587),
            smtp_username=env.get("DAGY_SMTP_USERNAME") or None,
            smtp_password=env.get("DAGY_SMTP_PASSWORD") or None,
            smtp_from=env.get("DAGY_SMTP_FROM") or "dagy@localhost",
            smtp_starttls=(env.get("DAGY_SMTP_STARTTLS") or "true").lower() in _TRUE,
            vector_dir=env.get("DAGY_VECTOR_DIR") or "~/.dagy/vectors",
        )
