"""Audit use cases: verify the hash chain and its signed checkpoints, sign the head now."""

from __future__ import annotations

from simkyc.store import audit as audit_log
from simkyc.store.uow import Database

__all__ = ["checkpoint_now", "verify_audit"]


def verify_audit(db: Database, *, extra_public_keys: set[str] | None = None) -> audit_log.AuditReport:
    """Walk the whole log. Checkpoints are trusted only under this deployment's signing key
    (plus `extra_public_keys`, e.g. the keys of earlier deployments published elsewhere)."""
    trusted = {audit_log.public_key_hex(db.keys)} | (extra_public_keys or set())
    with db.engine.connect() as conn:
        return audit_log.verify(conn, trusted_public_keys=trusted)


def checkpoint_now(db: Database) -> tuple[int, str] | None:
    """Sign the current head (to publish it); returns (seq, hash), None for an empty log."""
    with db.uow() as uow:
        head = audit_log.checkpoint(uow.conn, keys=uow.keys)
        uow.commit()
    return head
