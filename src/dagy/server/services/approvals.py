"""The approval timeout pass: runs waiting for an approval past their node's `timeout_seconds` get
the node's `on_timeout` decision (approved: re-queued; rejected: failed). Driven by the reaper's
loop (reaper.py), every `reaper_seconds`.

Several services processes may run it side by side: the runs are taken with `FOR UPDATE SKIP
LOCKED` on PostgreSQL (one `BEGIN IMMEDIATE` writer on SQLite) and each wait is decided by an
update conditional on it being undecided, so each timeout is applied once, and never over a
member's decision made meanwhile. One commit per batch.
"""

from __future__ import annotations

from dagy.server.db.engine import Database
from dagy.server.domains.runs import approvals

BATCH_SIZE = 100


def expire_once(db: Database) -> int:
    """Apply every timeout that is due, a batch per transaction; answer how many runs were decided."""
    total = 0
    while True:
        with db.transaction(write=True) as session:
            taken, decided = approvals.expire_timed_out(session, limit=BATCH_SIZE)
        total += decided
        if taken < BATCH_SIZE:
            return total
