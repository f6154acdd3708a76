"""The tamper-evident audit ledger: an append-only hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, json_type

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One entry; ``hash`` = SHA-256(prev_hash || canonical JSON of this entry)."""

    __tablename__ = "audit_entries"
    # "Who accessed this recording / patient": entries by the object they are about.
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None]  # no foreign key: deleting a user must not touch the ledger
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(json_type(), default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row naming the chain's last entry.

    Appends lock this row first (an UPDATE), which serializes writers on PostgreSQL (row lock)
    and on SQLite (the write lock), so two writers can never chain onto the same entry.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
