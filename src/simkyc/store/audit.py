"""The tamper-evident audit log: a SHA-256 hash chain with Ed25519-signed checkpoints.

Each entry stores `prev_hash` (the previous entry's hash; 64 zeros for the first) and
`hash = SHA-256(prev_hash || canonical(seq, at, actor, action, object, details))`. Sequence
numbers are gapless, so a deleted entry leaves a gap, an edited one no longer hashes to its
`hash`, an inserted or reordered one breaks the `prev_hash` links. An attacker who rewrites the
whole tail consistently is caught by the checkpoints: every `checkpoint_every` entries the head
(seq, hash) is signed with the Ed25519 key of the key ring, and the signed head can be
published outside the database. Entries after the last checkpoint can only be protected by
publishing checkpoints often (`simkyc audit checkpoint`).

Appends run inside the caller's transaction, so an entry commits or rolls back with the change
it records. The chain head is serialised by the transaction (SQLite `BEGIN IMMEDIATE`;
PostgreSQL a transaction-scoped advisory lock).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, func, insert, select, text

from simkyc.store.crypto import KeyRing
from simkyc.store.schema import audit_checkpoint, audit_entry

__all__ = ["GENESIS", "AuditReport", "append", "checkpoint", "entry_hash", "public_key_hex", "verify"]

GENESIS = "0" * 64
_AUDIT_LOCK = 0x51_4B_59_43_00_02
DEFAULT_CHECKPOINT_EVERY = 100


def _norm_time(at: datetime) -> str:
    """One text form for a timestamp whatever the database returns (SQLite drops the zone)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *, prev_hash: str, seq: int, at: datetime, actor: str, action: str, obj: str, details: str
) -> str:
    body = json.dumps([seq, _norm_time(at), actor, action, obj, details], ensure_ascii=False)
    return hashlib.sha256(prev_hash.encode() + b"\n" + body.encode()).hexdigest()


def _checkpoint_message(seq: int, head_hash: str) -> bytes:
    return f"simkyc-audit-checkpoint:{seq}:{head_hash}".encode()


def public_key_hex(keys: KeyRing) -> str:
    return keys.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _lock_head(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    obj: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    keys: KeyRing | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
) -> int:
    """Append one entry in the caller's transaction; returns its seq. Never put secrets in details."""
    _lock_head(conn)
    at = at or datetime.now(UTC)
    head = conn.execute(
        select(audit_entry.c.seq, audit_entry.c.hash).order_by(audit_entry.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (head.seq + 1, head.hash) if head is not None else (1, GENESIS)
    body = canonical_details(details or {})
    h = entry_hash(prev_hash=prev, seq=seq, at=at, actor=actor, action=action, obj=obj, details=body)
    conn.execute(
        insert(audit_entry).values(
            seq=seq, at=at, actor=actor, action=action, object=obj, details=body, prev_hash=prev, hash=h
        )
    )
    if keys is not None and checkpoint_every > 0 and seq % checkpoint_every == 0:
        _sign(conn, seq=seq, head_hash=h, keys=keys, at=at)
    return seq


def _sign(conn: Connection, *, seq: int, head_hash: str, keys: KeyRing, at: datetime) -> None:
    sig = keys.signing_key().sign(_checkpoint_message(seq, head_hash))
    conn.execute(
        insert(audit_checkpoint).values(
            seq=seq, head_hash=head_hash, at=at, public_key=public_key_hex(keys), signature=sig.hex()
        )
    )


def checkpoint(conn: Connection, *, keys: KeyRing, at: datetime | None = None) -> tuple[int, str] | None:
    """Sign the current head now (in the caller's transaction); returns (seq, hash) or None if empty."""
    _lock_head(conn)
    head = conn.execute(
        select(audit_entry.c.seq, audit_entry.c.hash).order_by(audit_entry.c.seq.desc()).limit(1)
    ).first()
    if head is None:
        return None
    last = conn.execute(select(func.max(audit_checkpoint.c.seq))).scalar()
    if last != head.seq:
        _sign(conn, seq=head.seq, head_hash=head.hash, keys=keys, at=at or datetime.now(UTC))
    return int(head.seq), str(head.hash)


@dataclass
class AuditReport:
    """What `verify` found: `ok` only when there are no problems."""

    entries: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection, *, trusted_public_keys: set[str], max_problems: int = 50) -> AuditReport:
    """Walk the chain and the checkpoints; report every inconsistency (edit, gap, insert, reorder)."""
    rep = AuditReport()
    hashes: dict[int, str] = {}
    prev = GENESIS
    expected_seq = 1
    rows = conn.execute(select(audit_entry).order_by(audit_entry.c.seq))
    for r in rows:
        rep.entries += 1
        if r.seq != expected_seq:
            rep.problems.append(f"seq {r.seq}: expected seq {expected_seq} (entries deleted or inserted)")
        if r.prev_hash != prev:
            rep.problems.append(
                f"seq {r.seq}: prev_hash does not match the previous entry (reordered/inserted)"
            )
        h = entry_hash(
            prev_hash=r.prev_hash,
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            obj=r.object,
            details=r.details,
        )
        if h != r.hash:
            rep.problems.append(f"seq {r.seq}: content does not match its hash (edited)")
        hashes[r.seq] = r.hash
        prev = r.hash
        expected_seq = r.seq + 1
        if len(rep.problems) >= max_problems:
            break
    rep.head_seq = expected_seq - 1
    rep.head_hash = prev
    for cp in conn.execute(select(audit_checkpoint).order_by(audit_checkpoint.c.id)):
        rep.checkpoints += 1
        if cp.public_key not in trusted_public_keys:
            rep.problems.append(f"checkpoint {cp.id}: signed by an untrusted key")
            continue
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key)).verify(
                bytes.fromhex(cp.signature), _checkpoint_message(cp.seq, cp.head_hash)
            )
        except (InvalidSignature, ValueError):
            rep.problems.append(f"checkpoint {cp.id}: bad signature")
            continue
        if cp.seq not in hashes:
            rep.problems.append(f"checkpoint {cp.id}: signed entry {cp.seq} is missing (log truncated)")
        elif hashes[cp.seq] != cp.head_hash:
            rep.problems.append(
                f"checkpoint {cp.id}: entry {cp.seq} differs from the signed head (rewritten)"
            )
    return rep
