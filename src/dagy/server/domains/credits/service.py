"""Credits: charging and adjusting an org's balance, never below zero, each change in the ledger.

`charge_credits` is what metered features (the AI studio's turns) call; super admins adjust the
balance through `POST /admin/customers/{org_id}/credits` and `PATCH /admin/customers/{org_id}`.
Both write the ledger row in the caller's transaction.
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.domains.credits import repository as repo
from dagy.server.errors import InvalidInput, NotFound

MAX_REASON = 500


class InsufficientCredits(InvalidInput):
    code = "insufficient_credits"


def charge_credits(session: Session, org_id: str, amount: float, reason: str) -> float:
    """Take `amount` (> 0) credits from the org; answers the new balance. Refused as a whole, with
    `InsufficientCredits` (400), when the balance would go below zero; the check and the write are
    one conditional UPDATE, so concurrent charges cannot overdraw."""
    if not math.isfinite(amount) or amount <= 0:
        raise InvalidInput("A charge must be a positive number.", details={"amount": "must be > 0"})
    return adjust_credits(session, org_id=org_id, amount=-amount, reason=reason, actor_email=None)


def adjust_credits(
    session: Session, *, org_id: str, amount: float, reason: str | None, actor_email: str | None
) -> float:
    """Add `amount` (negative: deduct) to the org's balance and record who, how much and why."""
    if not math.isfinite(amount) or amount == 0:
        raise InvalidInput("The amount must be a non-zero number.", details={"amount": "must be non-zero"})
    balance = repo.add_to_balance(session, org_id, amount)
    if balance is None:
        _refusal(session, org_id)
    assert balance is not None
    repo.add_entry(
        session,
        {
            "id": new_id("credit"),
            "org_id": org_id,
            "amount": amount,
            "balance_after": balance,
            "reason": (reason or "")[:MAX_REASON] or None,
            "actor_email": actor_email,
            "created_at": utcnow(),
        },
    )
    return balance


def set_balance(
    session: Session, *, org_id: str, balance: float, current: float, actor_email: str | None
) -> float:
    """Set the balance to `balance` (>= 0) as one ledger entry of the difference."""
    if balance == current:
        return current
    return adjust_credits(
        session, org_id=org_id, amount=balance - current, reason="balance set", actor_email=actor_email
    )


def _refusal(session: Session, org_id: str) -> None:
    if not repo.org_exists(session, org_id):
        raise NotFound("Organization not found.")
    raise InsufficientCredits(
        "The credits balance may not go below zero.", details={"amount": "exceeds the credits balance"}
    )
