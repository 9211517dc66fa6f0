"""A new run's slug, `<flow>-YYYY-MM-DD-HHMMSS`, suffixed with 4 random hex digits when another run
of the flow took that second: the unique index on `(org_id, run_slug)` decides, and this process's
memory of the seconds taken saves a failed first try."""

from __future__ import annotations

import secrets
from datetime import datetime

from dagy.server.db.models import Run


def plain_slug(flow_name: str, now: datetime) -> str:
    return f"{flow_name}-{now:%Y-%m-%d-%H%M%S}"


def suffixed(plain: str) -> str:
    return f"{plain}-{secrets.token_hex(2)}"


class RecentSlugs:
    """The plain slug (`<flow>-<second>`) each flow of this process last took or found taken: within
    that second the next run goes straight to a suffixed slug instead of trying the plain one
    first. A hint only; the insert's unique index decides."""

    _MAX = 4096

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], str] = {}

    def taken(self, run: Run) -> None:
        if len(self._last) >= self._MAX:
            self._last.clear()
        self._last[(run.org_id, run.flow_name)] = plain_slug(run.flow_name, run.created_at)

    def first_try(self, org_id: str, flow_name: str, now: datetime) -> str:
        """`<flow>-YYYY-MM-DD-HHMMSS`, suffixed with 4 random hex digits when that second is known
        taken."""
        plain = plain_slug(flow_name, now)
        return suffixed(plain) if self._last.get((org_id, flow_name)) == plain else plain


recent_slugs = RecentSlugs()
