"""Key rotation without downtime: new writes go under a new key at once, old rows are re-encrypted
in small transactions while the service keeps running, and the old key stays readable until no
row uses it.

1. A new key is added to the ring and made active; the ring file is replaced atomically. Running
   processes re-read the file when it changes (each unit of work checks its mtime), so they start
   writing under the new key and can still read both.
2. Each table with an encrypted column is walked in batches; every row still under an old key is
   decrypted and re-encrypted under the new key in its own short transaction, guarded by
   `WHERE key_id = <old>` so a row rewritten concurrently is simply picked up by the next pass.
3. After a grace period (writers that loaded the old ring before step 1 have finished) a last pass
   runs; old keys that no row uses any more are removed from the ring, unless asked to keep them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from simkyc.store.crypto import KeyRing, new_key_id
from simkyc.store.fields import aad_row
from simkyc.store.schema import ENCRYPTED_COLUMNS, metadata
from simkyc.store.uow import Database

__all__ = ["RotationReport", "count_by_key", "reencrypt_pass", "rotate_keys"]


@dataclass
class RotationReport:
    new_key_id: str
    reencrypted: dict[str, int] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    still_used: dict[str, int] = field(default_factory=dict)


def count_by_key(db: Database) -> dict[str, int]:
    """How many encrypted rows each key id protects, over every table."""
    out: dict[str, int] = {}
    with db.engine.connect() as conn:
        for table_name, columns in ENCRYPTED_COLUMNS.items():
            t = metadata.tables[table_name]
            col = t.c[columns[0]]
            q = select(t.c.key_id, func.count()).where(col.is_not(None)).group_by(t.c.key_id)
            for kid, n in conn.execute(q):
                if kid is not None:
                    out[kid] = out.get(kid, 0) + int(n)
    return out


def reencrypt_pass(db: Database, *, target: str, batch: int = 200) -> dict[str, int]:
    """Re-encrypt every row not under `target`; returns rows done per table."""
    keys = db.keys
    done: dict[str, int] = {}
    for table_name, columns in ENCRYPTED_COLUMNS.items():
        t = metadata.tables[table_name]
        col = t.c[columns[0]]
        pk = next(iter(t.primary_key.columns))
        n = 0
        last = None
        while True:
            with db.engine.connect() as conn:
                q = select(t).where(col.is_not(None), t.c.key_id != target).order_by(pk).limit(batch)
                if last is not None:
                    q = q.where(pk > last)
                rows = conn.execute(q).mappings().all()
            if not rows:
                break
            for row in rows:
                with db.uow() as uow:
                    aad = aad_row(table_name, row)
                    plain = keys.decrypt(row["key_id"], row[col.name], aad=aad)
                    kid, blob = keys.encrypt(plain, aad=aad)
                    res = uow.conn.execute(
                        update(t)
                        .where(pk == row[pk.name], t.c.key_id == row["key_id"])
                        .values({col.name: blob, "key_id": kid})
                    )
                    uow.commit()
                    n += int(res.rowcount or 0)
            last = rows[-1][pk.name]
        done[table_name] = n
    return done


def rotate_keys(
    db: Database, *, grace_seconds: float = 2.0, keep_old: bool = False, actor: str = "admin:cli"
) -> RotationReport:
    """Add and activate a new key, re-encrypt everything under it, retire unused old keys."""
    ring: KeyRing = db.keys
    ring.refresh(force=True)
    kid = new_key_id()
    ring.encryption[kid] = os.urandom(32)
    ring.active = kid
    ring.save()
    report = RotationReport(new_key_id=kid)
    report.reencrypted = reencrypt_pass(db, target=kid)
    if grace_seconds > 0:
        time.sleep(grace_seconds)
    for table, n in reencrypt_pass(db, target=kid).items():
        report.reencrypted[table] = report.reencrypted.get(table, 0) + n
    used = count_by_key(db)
    if not keep_old:
        ring.refresh(force=True)
        for old in [k for k in ring.encryption if k != ring.active]:
            if used.get(old, 0) == 0:
                del ring.encryption[old]
                report.retired.append(old)
        if report.retired:
            ring.save()
    report.still_used = {k: v for k, v in used.items() if k != kid}
    with db.uow() as uow:
        uow.audit(
            actor=actor,
            action="keys.rotate",
            obj=f"key:{kid}",
            details={
                "reencrypted": report.reencrypted,
                "retired": report.retired,
                "still_used": report.still_used,
            },
        )
        uow.commit()
    return report
