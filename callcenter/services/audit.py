"""The audit ledger: append entries to a SHA-256 hash chain and verify the chain.

Each entry's hash covers the previous entry's hash and the entry's own canonical JSON, so
editing, deleting or reordering any row breaks the chain from that row on. Appends first lock
the single ``audit_head`` row, which serializes concurrent writers on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callcenter.models import GENESIS_HASH, AuditEntry, AuditHead, utcnow

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or a named process such as the worker."""

    id: int | None
    name: str

    @classmethod
    def of(cls, user) -> Actor:
        if user is None:
            return cls(None, SYSTEM_ACTOR)
        return cls(user.id, user.username)


def canonical_json(entry: AuditEntry) -> str:
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "seq": entry.seq,
        "at": at,
        "actor_id": entry.actor_id,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(entry).encode("utf-8"))
    return digest.hexdigest()


def append(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    details: dict | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction.

    The entry becomes durable when the caller commits; if the caller rolls back, the entry
    and the head move disappear together, so the chain never points at a missing entry.
    """
    # Lock and read in one statement: the UPDATE takes the row lock (PostgreSQL) or the database
    # write lock (SQLite) before the head is read, so no other writer can chain onto the same
    # entry. RETURNING gives the new seq and the still-unchanged previous hash.
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_seq=AuditHead.last_seq + 1)
        .returning(AuditHead.last_seq, AuditHead.last_hash)
    ).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row is missing: run flask db upgrade")
    seq, last_hash = head

    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=_plain(details or {}),
        prev_hash=last_hash,
    )
    entry.hash = entry_hash(last_hash, entry)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    return entry


def _plain(details: dict) -> dict:
    """Round-trip through JSON so the hash covers exactly what the database will return."""
    return json.loads(json.dumps(details, default=str, ensure_ascii=False))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str = ""


def _entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        for row in rows:  # keep memory flat on long chains
            session.expunge(row)


def verify(session: Session) -> VerifyResult:
    """Walk the chain in insertion order and report the first entry that does not fit."""
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    for entry in _entries(session):
        count += 1
        if entry.seq != expected_seq:
            return VerifyResult(
                False,
                count,
                entry.seq,
                entry.id,
                f"entry {entry.id} has seq {entry.seq} where seq {expected_seq} belongs: "
                "an entry was deleted or the entries were reordered",
            )
        if entry.prev_hash != expected_prev:
            return VerifyResult(
                False,
                count,
                entry.seq,
                entry.id,
                f"entry seq {entry.seq} does not chain onto the entry before it: "
                "an entry before it was deleted, reordered or edited",
            )
        if entry_hash(entry.prev_hash, entry) != entry.hash:
            return VerifyResult(
                False,
                count,
                entry.seq,
                entry.id,
                f"entry seq {entry.seq} was edited: its content does not match its hash",
            )
        expected_prev, expected_seq = entry.hash, expected_seq + 1

    head = session.get(AuditHead, 1)
    last_seq = head.last_seq if head else 0
    last_hash = head.last_hash if head else GENESIS_HASH
    if last_seq != expected_seq - 1 or last_hash != expected_prev:
        return VerifyResult(
            False,
            count,
            expected_seq,
            None,
            f"the chain ends at seq {expected_seq - 1} but the head names seq {last_seq}: "
            "entries at the end were deleted",
        )
    return VerifyResult(True, count)


def recent(
    session: Session,
    limit: int = 50,
    object_type: str | None = None,
    object_id: object | None = None,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == str(object_id))
    return list(session.scalars(query))
