"""The conditional balance update and the ledger's rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from dagy.server.db.models import CreditEntry, Org


def add_to_balance(session: Session, org_id: str, amount: float) -> float | None:
    """`UPDATE org SET credits_balance = credits_balance + :amount WHERE id = :org_id AND
    credits_balance + :amount >= 0 RETURNING credits_balance`: one statement, so two concurrent
    charges can never both pass a check made before either wrote. None when no row qualified (the
    org is missing, or the balance would go below zero)."""
    stmt = (
        update(Org)
        .where(Org.id == org_id, Org.credits_balance + amount >= 0)
        .values(credits_balance=Org.credits_balance + amount)
        .returning(Org.credits_balance)
        .execution_options(synchronize_session=False)
    )
    balance = session.execute(stmt).scalar_one_or_none()
    return None if balance is None else float(balance)


def add_entry(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(CreditEntry).values(**values))


def org_exists(session: Session, org_id: str) -> bool:
    return session.get(Org, org_id) is not None
