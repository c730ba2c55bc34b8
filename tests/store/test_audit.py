"""Tamper cases: an edited, deleted, inserted or reordered entry, and a consistently rewritten tail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update

from simkyc.store import Database
from simkyc.store import audit as audit_log
from simkyc.store.schema import audit_entry

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _fill(db: Database, n: int = 12, every: int = 5) -> None:
    db.checkpoint_every = every
    with db.uow() as uow:
        for i in range(n):
            uow.audit(
                actor="clerk:1",
                action="registration.open",
                obj=f"registration:{i}",
                details={"i": i, "masked": "110101********8515"},
                at=T0 + timedelta(seconds=i),
            )
        uow.commit()


def _verify(db: Database) -> audit_log.AuditReport:
    with db.uow() as uow:
        return audit_log.verify(uow.conn, trusted_public_keys={audit_log.public_key_hex(db.keys)})


def test_intact_chain_verifies(db: Database) -> None:
    _fill(db)
    rep = _verify(db)
    assert rep.ok, rep.problems
    assert (rep.entries, rep.checkpoints, rep.head_seq) == (12, 2, 12)


def test_edited_entry_is_found(db: Database) -> None:
    _fill(db)
    with db.engine.begin() as conn:
        conn.execute(update(audit_entry).where(audit_entry.c.seq == 7).values(actor="clerk:2"))
    rep = _verify(db)
    assert any("seq 7" in p and "edited" in p for p in rep.problems), rep.problems


def test_deleted_entry_is_found(db: Database) -> None:
    _fill(db)
    with db.engine.begin() as conn:
        conn.execute(delete(audit_entry).where(audit_entry.c.seq == 4))
    rep = _verify(db)
    assert any("seq 5" in p for p in rep.problems), rep.problems


def test_inserted_entry_is_found(db: Database) -> None:
    """Shift the tail up by one and insert a well-formed entry that hashes its predecessor."""
    _fill(db, every=0)
    with db.engine.begin() as conn:
        rows = conn.execute(
            select(audit_entry).where(audit_entry.c.seq >= 6).order_by(audit_entry.c.seq.desc())
        ).all()
        for r in rows:
            conn.execute(update(audit_entry).where(audit_entry.c.seq == r.seq).values(seq=r.seq + 1))
        prev = conn.execute(select(audit_entry.c.hash).where(audit_entry.c.seq == 5)).scalar_one()
        at = T0 + timedelta(seconds=5, milliseconds=500)
        h = audit_log.entry_hash(
            prev_hash=prev, seq=6, at=at, actor="intruder", action="x", obj="o", details="{}"
        )
        conn.execute(
            insert(audit_entry).values(
                seq=6, at=at, actor="intruder", action="x", object="o", details="{}", prev_hash=prev, hash=h
            )
        )
    rep = _verify(db)
    assert not rep.ok
    assert any("seq 7" in p for p in rep.problems), rep.problems


def test_reordered_entries_are_found(db: Database) -> None:
    _fill(db, every=0)
    with db.engine.begin() as conn:
        conn.execute(update(audit_entry).where(audit_entry.c.seq == 3).values(seq=-1))
        conn.execute(update(audit_entry).where(audit_entry.c.seq == 8).values(seq=3))
        conn.execute(update(audit_entry).where(audit_entry.c.seq == -1).values(seq=8))
    rep = _verify(db)
    assert any("seq 3" in p for p in rep.problems) and any("seq 8" in p for p in rep.problems), rep.problems


def test_consistently_rewritten_tail_is_caught_by_the_signed_checkpoint(db: Database) -> None:
    """An attacker re-hashes every entry after an edit: the chain links, the signature does not."""
    _fill(db, n=10, every=5)
    with db.engine.begin() as conn:
        rows = conn.execute(select(audit_entry).order_by(audit_entry.c.seq)).all()
        prev = audit_log.GENESIS
        for r in rows:
            actor = "clerk:9" if r.seq == 2 else r.actor
            h = audit_log.entry_hash(
                prev_hash=prev,
                seq=r.seq,
                at=r.at,
                actor=actor,
                action=r.action,
                obj=r.object,
                details=r.details,
            )
            conn.execute(
                update(audit_entry)
                .where(audit_entry.c.seq == r.seq)
                .values(actor=actor, prev_hash=prev, hash=h)
            )
            prev = h
    rep = _verify(db)
    assert any("rewritten" in p for p in rep.problems), rep.problems
    assert not any("edited" in p for p in rep.problems)


def test_truncated_tail_is_caught_by_checkpoint(db: Database) -> None:
    _fill(db, n=10, every=5)
    with db.engine.begin() as conn:
        conn.execute(delete(audit_entry).where(audit_entry.c.seq > 8))
    rep = _verify(db)
    assert any("truncated" in p for p in rep.problems), rep.problems
