"""What the host a run executes on lets its nodes do: one typed object, `HostSettings`.

A worker's host sets them as `DAGY_*` variables (`dagy worker` reads its environment; `dagy server`
fills them from its own settings of the same names for the embedded worker). The worker hands them
to each run in its payload (`RunPayload.host_settings`), never in the run's environment, which holds
no `DAGY_*` variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

_TRUE = frozenset({"1", "true", "yes", "on"})
DEFAULT_VECTOR_DIR = "~/.dagy/vectors"


class HostSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The `DAGY_*` variable of each field.
    VARIABLES: ClassVar[dict[str, str]] = {
        "allow_private_network": "DAGY_ALLOW_PRIVATE_NETWORK",
        "smtp_host": "DAGY_SMTP_HOST",
        "smtp_port": "DAGY_SMTP_PORT",
        "smtp_username": "DAGY_SMTP_USERNAME",
        "smtp_password": "DAGY_SMTP_PASSWORD",
        "smtp_from": "DAGY_SMTP_FROM",
        "smtp_starttls": "DAGY_SMTP_STARTTLS",
        "vector_dir": "DAGY_VECTOR_DIR",
    }

    allow_private_network: bool = False  # the SSRF guard off (tests, on-prem services)
    smtp_host: str | None = None  # the default SMTP server of email_send
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = Field(None, repr=False)
    smtp_from: str = "dagy@localhost"
    smtp_starttls: bool = True
    vector_dir: str = DEFAULT_VECTOR_DIR  # the embedded vector store, one folder per org
    # The Dask scheduler a run's nodes execute on (`dagy worker --dask-address`, runtime/dask_runner.py);
    # None: in the run's process. Not in VARIABLES: only `dagy worker` reads DAGY_DASK_ADDRESS, so the
    # embedded worker of `dagy server` never hands nodes to a cluster.
    dask_address: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HostSettings:
        """From `DAGY_*` variables (this process's environment by default); an unset or empty one
        keeps the default."""
        env = os.environ if environ is None else environ
        given = {field: env.get(name) for field, name in cls.VARIABLES.items()}
        values: dict[str, object] = {}
        for field, raw in given.items():
            if not raw:
                continue
            annotation = cls.model_fields[field].annotation
            values[field] = raw.lower() in _TRUE if annotation is bool else raw
        return cls.model_validate(values)

    def credentials(self) -> list[str]:
        """What never reaches a run's log."""
        return [self.smtp_password] if self.smtp_password else []
