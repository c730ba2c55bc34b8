"""The template change feed: every stored, replaced or deleted template reaches every worker's index.

On SQLite and PostgreSQL: the triggers record each change in commit order (a key rotation records
none), a `FollowedIndex` of another "worker" applies them (a cancelled number's template leaves it),
and a restarted worker resumes from the position saved beside its index file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, insert, select, update

from simkyc.search import FollowedIndex, NumpyIndex, ProtectedTransform, find_duplicates, read_seq_file
from simkyc.store import Database, feed
from simkyc.store.crypto import new_key_id
from simkyc.store.fields import aad_identity, aad_template, template_to_bytes
from simkyc.store.rotation import reencrypt_pass
from simkyc.store.schema import face_template, identity, operator, outlet, registration, staff_user

T = "2026-12-01T09:00:00+00:00"


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def _people(db: Database, n: int) -> list[tuple[int, str]]:
    """n identities, each with one (decided) registration: what a stored template must refer to."""
    from datetime import datetime

    now = datetime.fromisoformat(T)
    out = []
    with db.uow() as uow:
        c = uow.conn
        c.execute(insert(operator).values(id="OP", name="Op"))
        oid = c.execute(
            insert(outlet).values(code="O1", name="o", operator_id="OP", active=True)
        ).inserted_primary_key[0]  # type: ignore[index]
        sid = c.execute(
            insert(staff_user).values(
                username="c", password_hash="x", role="clerk", outlet_id=oid, active=True, created_at=now
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        for i in range(n):
            key_id, blob = db.keys.encrypt_json({"n": i}, aad=aad_identity(f"h{i}"))
            iid = c.execute(
                insert(identity).values(
                    id_hash=f"h{i}",
                    id_masked="1101***",
                    fields_enc=blob,
                    name_hash="n",
                    key_id=key_id,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            rid = f"r{i:031d}"
            c.execute(
                insert(registration).values(
                    id=rid,
                    identity_id=iid,
                    phone_number=f"1380000{i:04d}",
                    operator_id="OP",
                    outlet_id=oid,
                    clerk_id=sid,
                    kind="new",
                    status="APPROVED",
                    reasons=[],
                    scores={},
                    thresholds={},
                    policy_version="t",
                    document_source="chip",
                    consent_text_version="v",
                    consent_at=now,
                    challenge={},
                    challenge_nonce=f"n{i}",
                    attempts=1,
                    created_at=now,
                )
            )
            out.append((int(iid), rid))
        uow.commit()
    return out


def _store(db: Database, identity_id: int, reg_id: str, template: np.ndarray, *, at: str = T) -> int:
    from datetime import datetime

    with db.uow() as uow:
        key_id, blob = db.keys.encrypt(template_to_bytes(template), aad=aad_template(identity_id, "m"))
        values = {
            "registration_id": reg_id,
            "template_enc": blob,
            "key_id": key_id,
            "model_version": "1",
            "created_at": datetime.fromisoformat(at),
        }
        tid = uow.conn.execute(
            select(face_template.c.id).where(face_template.c.identity_id == identity_id)
        ).scalar()
        if tid is None:
            tid = uow.conn.execute(
                insert(face_template).values(identity_id=identity_id, model_name="m", **values)
            ).inserted_primary_key[0]  # type: ignore[index]
        else:
            uow.conn.execute(update(face_template).where(face_template.c.id == tid).values(**values))
        uow.commit()
    return int(tid)


def _follower(db: Database, tmp: Path, *, applied: int = 0) -> FollowedIndex:
    index = NumpyIndex(ProtectedTransform.from_key(b"k" * 32, dim=128), path=tmp / "w.npz")
    return FollowedIndex(
        index,
        changes=lambda after: feed.changes_after(db.engine, after),
        fetch=lambda ids: feed.fetch_templates(db, ids),
        applied_seq=applied,
        seq_file=tmp / "feed.seq",
    )


def test_every_change_reaches_another_workers_index(db: Database, tmp_path: Path) -> None:
    (a, ra), (b, rb), (c, rc) = _people(db, 3)
    worker_b = _follower(db, tmp_path)  # loaded before anything was committed
    ta = _store(db, a, ra, _unit(1))
    tb = _store(db, b, rb, _unit(2))
    changes = feed.changes_after(db.engine, 0)
    assert [(ch.template_id, ch.identity_key, ch.op) for ch in changes] == [
        (f"t{ta}", f"i{a}", "put"),
        (f"t{tb}", f"i{b}", "put"),
    ]
    assert changes[0].seq < changes[1].seq == feed.feed_head(db.engine)

    assert worker_b.catch_up() == 2
    hits = find_duplicates(worker_b, _unit(1), threshold=0.9, identity_key=f"i{c}")
    assert [h.identity_key for h in hits] == [f"i{a}"]

    # a re-registration replaces a's template in place: the index follows the new one
    _store(db, a, rc, _unit(3), at="2026-12-02T09:00:00+00:00")  # (any existing registration row)
    assert worker_b.catch_up() == 1
    assert not find_duplicates(worker_b, _unit(1), threshold=0.9, identity_key=f"i{c}")
    assert find_duplicates(worker_b, _unit(3), threshold=0.9, identity_key=f"i{c}")[0].identity_key == f"i{a}"

    # a cancelled number's template leaves every index
    with db.uow() as uow:
        uow.conn.execute(delete(face_template).where(face_template.c.identity_id == b))
        uow.commit()
    assert worker_b.catch_up() == 1
    assert worker_b.ids() == {f"t{ta}"}
    assert feed.changes_after(db.engine, 0)[-1].op == "del"


def test_key_rotation_feeds_no_change(db: Database, tmp_path: Path) -> None:
    ((a, ra),) = _people(db, 1)
    _store(db, a, ra, _unit(1))
    head = feed.feed_head(db.engine)
    kid = new_key_id()
    db.keys.encryption[kid], db.keys.active = b"r" * 32, kid
    assert reencrypt_pass(db, target=kid)["face_template"] == 1
    assert feed.feed_head(db.engine) == head


def test_a_restarted_worker_resumes_from_its_saved_position(db: Database, tmp_path: Path) -> None:
    (a, ra), (b, rb) = _people(db, 2)
    first = _follower(db, tmp_path)
    _store(db, a, ra, _unit(1))
    first.catch_up()
    saved = read_seq_file(tmp_path / "feed.seq")
    assert saved == feed.feed_head(db.engine)
    _store(db, b, rb, _unit(2))  # committed while the worker is down
    index = NumpyIndex.open(tmp_path / "w.npz", ProtectedTransform.from_key(b"k" * 32, dim=128))
    assert index.count() == 1
    again = FollowedIndex(
        index,
        changes=lambda after: feed.changes_after(db.engine, after),
        fetch=lambda ids: feed.fetch_templates(db, ids),
        applied_seq=saved or 0,
    )
    assert again.catch_up() == 1 and again.count() == 2


@pytest.mark.parametrize("rows", [3])
def test_prune_keeps_recent_rows(db: Database, rows: int) -> None:
    from datetime import datetime

    people = _people(db, rows)
    for iid, rid in people:
        _store(db, iid, rid, _unit(iid))
    assert feed.prune(db.engine, before=datetime.fromisoformat("2000-01-01T00:00:00+00:00")) == 0
    assert len(feed.changes_after(db.engine, 0)) == rows
