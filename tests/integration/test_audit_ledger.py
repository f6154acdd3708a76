"""The audit ledger: appends chain, and any edit, deletion or reordering is caught."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from callcenter.extensions import db
from callcenter.models import AuditEntry
from callcenter.services import audit

both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
ACTOR = audit.Actor(7, "nurse.li")


def _append(n: int) -> None:
    for i in range(n):
        audit.append(db.session, ACTOR, "patient.read", "patient", i, {"purpose": "call", "i": i})
    db.session.commit()


def _verify_cli(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


@both_databases
def test_intact_chain_verifies(app):
    _append(10)
    result = audit.verify(db.session)
    assert result.ok and result.entries == 10
    out = _verify_cli(app)
    assert out.exit_code == 0 and "10 entries" in out.output


@both_databases
def test_each_entry_hashes_the_previous_one(app):
    _append(3)
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert entries[0].prev_hash == "0" * 64
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert len({e.hash for e in entries}) == 3


@both_databases
def test_edited_entry_is_named(app):
    _append(10)
    db.session.execute(text("UPDATE audit_entries SET actor = 'someone.else' WHERE seq = 4"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "edited" in result.problem
    out = _verify_cli(app)
    assert out.exit_code == 1
    assert "seq 4" in out.output


@both_databases
def test_edited_details_json_is_caught(app):
    _append(5)
    row = db.session.scalar(select(AuditEntry).where(AuditEntry.seq == 2))
    row.details = {"purpose": "curiosity", "i": 1}
    db.session.commit()
    assert audit.verify(db.session).first_bad_seq == 2


@both_databases
def test_deleted_entry_is_named(app):
    _append(10)
    db.session.execute(text("DELETE FROM audit_entries WHERE seq = 6"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok
    assert result.first_bad_seq == 7  # the entry after the gap no longer fits
    assert _verify_cli(app).exit_code == 1


@both_databases
def test_deleted_last_entry_is_caught_by_the_head(app):
    _append(5)
    db.session.execute(text("DELETE FROM audit_entries WHERE seq = 5"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok
    assert "deleted" in result.problem
    assert _verify_cli(app).exit_code == 1


@both_databases
def test_reordered_entries_are_caught(app):
    _append(6)
    # Swap the positions (seq) of entries 2 and 3, keeping each one's own content and hash.
    db.session.execute(text("UPDATE audit_entries SET seq = -1 WHERE seq = 2"))
    db.session.execute(text("UPDATE audit_entries SET seq = 2 WHERE seq = 3"))
    db.session.execute(text("UPDATE audit_entries SET seq = 3 WHERE seq = -1"))
    db.session.commit()
    result = audit.verify(db.session)
    assert not result.ok
    assert result.first_bad_seq in (2, 3)
    assert _verify_cli(app).exit_code == 1


@both_databases
def test_reordered_rows_with_rehashed_content_still_break_the_links(app):
    """Even an attacker who swaps whole rows (ids) cannot make the links fit."""
    _append(4)
    rows = {e.seq: e for e in db.session.scalars(select(AuditEntry))}
    a, b = rows[2], rows[3]
    a_id, b_id = a.id, b.id
    db.session.execute(text("UPDATE audit_entries SET id = -1 WHERE id = :i"), {"i": a_id})
    db.session.execute(
        text("UPDATE audit_entries SET id = :a WHERE id = :b"), {"a": a_id, "b": b_id}
    )
    db.session.execute(text("UPDATE audit_entries SET id = :b WHERE id = -1"), {"b": b_id})
    db.session.commit()
    assert not audit.verify(db.session).ok


@both_databases
def test_rolled_back_append_leaves_no_trace(app):
    _append(2)
    audit.append(db.session, ACTOR, "patient.read", "patient", 99)
    db.session.rollback()
    _append(1)
    result = audit.verify(db.session)
    assert result.ok and result.entries == 3


@both_databases
def test_concurrent_writers_do_not_fork_the_chain(app):
    """Eight threads, each with its own connection, append at once; the chain stays linear."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(15):
                    audit.append(
                        db.session, audit.Actor(n, f"user{n}"), "patient.read", "patient", i
                    )
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    result = audit.verify(db.session)
    assert result.ok, result.problem
    assert result.entries == 120
    seqs = db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(1, 121))
