"""Encrypted secrets (envelope encryption, DESIGN.md §5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column, utcnow


class DataKey(Base):
    """An org's AES-256 data key, stored only wrapped (AES-GCM) by the key-encryption key."""

    __tablename__ = "data_key"

    id: Mapped[str] = id_column("dk")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), unique=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None]


class Secret(Base, TimestampMixin):
    __tablename__ = "secret"
    __table_args__ = (UniqueConstraint("org_id", "environment", "name"),)

    id: Mapped[str] = id_column("secret")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    environment: Mapped[str] = mapped_column(String(64), default="")  # "" = no environment
    data_key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
