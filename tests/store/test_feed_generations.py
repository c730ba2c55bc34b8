"""The template change feed carries each template's embedder (its generation, migration 0005).

Each generation has its own 1:N index: a followed index of one embedder applies that embedder's
puts and deletions only, and the store lists and fetches templates per embedder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert
from test_feed import T, _people

from simkyc.search import FollowedIndex, NumpyIndex, ProtectedTransform
from simkyc.store import Database, feed
from simkyc.store.fields import aad_template, template_to_bytes
from simkyc.store.schema import face_template


def _unit(seed: int, dim: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _put(db: Database, identity_id: int, reg_id: str, model: str, template: np.ndarray) -> int:
    with db.uow() as uow:
        key_id, blob = db.keys.encrypt(template_to_bytes(template), aad=aad_template(identity_id, model))
        tid = uow.conn.execute(
            insert(face_template).values(
                identity_id=identity_id,
                model_name=model,
                registration_id=reg_id,
                template_enc=blob,
                key_id=key_id,
                model_version="1",
                created_at=datetime.fromisoformat(T),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        uow.commit()
    return int(tid)


def test_changes_name_their_embedder_and_each_generation_follows_its_own(
    db: Database, tmp_path: Path
) -> None:
    (a, ra), (b, rb) = _people(db, 2)
    old_a = _put(db, a, ra, "old", _unit(1, 128))
    old_b = _put(db, b, rb, "old", _unit(2, 128))
    new_a = _put(db, a, ra, "new", _unit(3, 64))
    with db.uow() as uow:  # customer a re-enrolled: the old template goes
        uow.conn.execute(delete(face_template).where(face_template.c.id == old_a))
        uow.commit()
    changes = feed.changes_after(db.engine, 0)
    assert [(c.template_id, c.op, c.model_name) for c in changes] == [
        (f"t{old_a}", "put", "old"),
        (f"t{old_b}", "put", "old"),
        (f"t{new_a}", "put", "new"),
        (f"t{old_a}", "del", "old"),  # a deletion still names its generation
    ]
    assert feed.template_ids(db, model_name="old") == {f"t{old_b}"}
    assert feed.template_ids(db, model_name="new") == {f"t{new_a}"} and len(feed.template_ids(db)) == 2

    def followed(model: str, dim: int) -> FollowedIndex:
        index = NumpyIndex(ProtectedTransform.from_key(b"k" * 32, dim=dim), path=tmp_path / f"{model}.npz")
        return FollowedIndex(
            index,
            changes=lambda after: feed.changes_after(db.engine, after),
            fetch=lambda ids: feed.fetch_templates(db, ids, model_name=model),
            applied_seq=0,
            model_name=model,
        )

    old_index, new_index = followed("old", 128), followed("new", 64)
    old_index.catch_up()
    new_index.catch_up()  # another generation's 128-d templates never reach the 64-d index
    assert old_index.ids() == {f"t{old_b}"} and new_index.ids() == {f"t{new_a}"}


def test_migration_names_older_rows_from_their_template(tmp_path: Path) -> None:
    """A database at 0004 (feed rows without names) upgraded to 0005: rows of a template that still
    exists get its embedder, the others stay NULL (followers of any generation apply those)."""
    from simkyc.store.crypto import KeyRing
    from simkyc.store.db import make_engine, migrate
    from simkyc.store.uow import Database

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0004")
    db = Database(engine=engine, keys=KeyRing.generate())
    (a, ra), (b, rb) = _people(db, 2)
    kept, gone = _put(db, a, ra, "old", _unit(1, 128)), _put(db, b, rb, "old", _unit(2, 128))
    with engine.begin() as c:
        c.execute(delete(face_template).where(face_template.c.id == gone))
    migrate(engine)  # to head
    rows = {(c.template_id, c.op): c.model_name for c in feed.changes_after(engine, 0)}
    assert rows == {(f"t{kept}", "put"): "old", (f"t{gone}", "put"): None, (f"t{gone}", "del"): None}
    _put(db, b, rb, "new", _unit(3, 64))  # the upgraded triggers name new rows
    assert feed.changes_after(engine, 0)[-1].model_name == "new"
