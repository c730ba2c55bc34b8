"""Every backend behind `TemplateIndex`: add, remove, search, restart, rebuild, key rotation.

Each test runs on NumpyIndex, HnswIndex (graph path forced) and MilvusIndex on milvus-lite.
"""

from __future__ import annotations

import numpy as np
import pytest
from search_builders import IndexFactory, people

from simkyc.errors import ConflictError, InputError, Reason
from simkyc.search import (
    IndexRecord,
    MilvusIndex,
    ProtectedTransform,
    check_consistency,
    find_duplicates,
    rebuild,
    reconcile,
)


def _fill(
    index: object, n_identities: int = 40, per_identity: int = 2, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    rows, identities = people(n_identities, per_identity, seed=seed)
    added = index.add_many(  # type: ignore[attr-defined]
        IndexRecord(f"t{i}", who, row) for i, (who, row) in enumerate(zip(identities, rows, strict=True))
    )
    assert added == len(rows)
    return rows, identities


def test_add_search_count(make_index: IndexFactory, transform_a: ProtectedTransform) -> None:
    index = make_index(transform_a)
    rows, identities = _fill(index)
    index.save()
    assert index.count() == len(rows)
    hits = index.search(rows[7], k=3)
    assert hits[0].key == "t7" and hits[0].identity_key == identities[7]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[1].identity_key == identities[7]  # the same person's other template comes next
    assert hits[1].score == pytest.approx(float(rows[7] @ rows[6]), abs=1e-4)  # raw score, unchanged
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_remove(make_index: IndexFactory, transform_a: ProtectedTransform) -> None:
    index = make_index(transform_a)
    rows, _ = _fill(index)
    assert index.remove("t7") is True
    assert index.remove("t7") is False
    index.save()
    assert index.count() == len(rows) - 1
    assert "t7" not in index.ids()
    assert all(hit.key != "t7" for hit in index.search(rows[7], k=5))


def test_add_replaces_an_existing_id(make_index: IndexFactory, transform_a: ProtectedTransform) -> None:
    index = make_index(transform_a)
    rows, _ = _fill(index)
    index.add("t0", "person-new", rows[20])
    index.save()
    assert index.count() == len(rows)
    assert index.search(rows[0], k=1)[0].key == "t1"  # t0 no longer holds person-0's face
    top = index.search(rows[20], k=2)
    assert {h.key for h in top} == {"t0", "t20"}
    assert {h.identity_key for h in top} == {"person-new", "person-10"}


def test_restart_keeps_everything_and_is_consistent(
    make_index: IndexFactory, transform_a: ProtectedTransform
) -> None:
    index = make_index(transform_a)
    rows, _ = _fill(index)
    index.remove("t3")
    index.save()
    reopened = make_index(transform_a)
    expected = {f"t{i}" for i in range(len(rows))} - {"t3"}
    assert check_consistency(reopened, expected).ok
    assert reopened.search(rows[11], k=1)[0].key == "t11"


def test_consistency_check_finds_and_reconcile_repairs(
    make_index: IndexFactory, transform_a: ProtectedTransform
) -> None:
    index = make_index(transform_a)
    rows, identities = _fill(index)
    index.remove("t5")  # the database has it, the index lost it
    index.add("ghost", "person-x", rows[0])  # the index has it, the database no longer does
    index.save()
    db = {f"t{i}": (identities[i], rows[i]) for i in range(len(rows))}
    report = check_consistency(index, db)
    assert not report.ok
    assert report.missing == {"t5"} and report.extra == {"ghost"}
    assert "missing 1" in report.summary()

    fixed = reconcile(index, db, lambda ids: [(i, *db[i]) for i in ids])
    assert fixed.missing == {"t5"}
    assert check_consistency(index, db).ok
    assert index.search(rows[5], k=1)[0].key == "t5"


def test_rebuild_from_store_records(make_index: IndexFactory, transform_a: ProtectedTransform) -> None:
    index = make_index(transform_a)
    _fill(index, seed=1)  # stale content to be replaced
    rows, identities = people(30, 2, seed=2)
    records = [(f"r{i}", who, row) for i, (who, row) in enumerate(zip(identities, rows, strict=True))]
    assert rebuild(index, records) == len(records)
    assert index.ids() == {r[0] for r in records}
    assert make_index(transform_a).search(rows[9], k=1)[0].key == "r9"


def test_key_rotation_rebuild(
    make_index: IndexFactory, transform_a: ProtectedTransform, transform_b: ProtectedTransform
) -> None:
    """New key -> the old index is refused (files) or empty (Milvus: another collection) -> rebuild."""
    old = make_index(transform_a)
    rows, identities = _fill(old)
    old.save()
    records = [(f"t{i}", who, row) for i, (who, row) in enumerate(zip(identities, rows, strict=True))]
    if isinstance(old, MilvusIndex):
        new = make_index(transform_b)
        assert new.count() == 0  # vectors under the old key are not visible under the new one
        assert old.collection in new.stale_collections()
    else:
        with pytest.raises(ConflictError) as err:
            make_index(transform_b)
        assert err.value.reason is Reason.INDEX_INCONSISTENT
        old.path.unlink()  # type: ignore[attr-defined]
        new = make_index(transform_b)
    assert rebuild(new, records) == len(records)
    assert new.key_id == transform_b.key_id
    hit = new.search(rows[13], k=1)[0]
    assert hit.key == "t13" and hit.score == pytest.approx(1.0, abs=1e-4)
    if isinstance(new, MilvusIndex):
        assert new.drop_stale() == [old.collection]


def test_old_key_templates_do_not_match_new_key_ones(
    transform_a: ProtectedTransform, transform_b: ProtectedTransform
) -> None:
    """A vector protected under the old key, searched as if raw-protected under the new: no match."""
    from simkyc.search import NumpyIndex

    rows, identities = people(100, 1)
    index = NumpyIndex(transform_b)
    index.add_arrays([f"t{i}" for i in range(100)], identities, rows)
    leaked = transform_a(rows[:20])  # what an attacker holding the old index has
    # transform_b is applied on search: the best scores stay at chance level (~0.1-0.3), far below 0.9
    best = [index.search(leaked[i], k=1)[0].score for i in range(20)]
    own = [index.search(rows[i], k=1)[0].score for i in range(20)]
    assert max(best) < 0.5 < 0.99 < min(own)


def test_find_duplicates_other_identities_only(
    make_index: IndexFactory, transform_a: ProtectedTransform
) -> None:
    index = make_index(transform_a)
    rows, _ = _fill(index)
    # the same face registered under a second identity
    index.add("dup", "someone-else", rows[4])
    probe = rows[5]  # person-2's other photo
    found = find_duplicates(index, probe, threshold=0.8, identity_key="person-2", k=5)
    assert [c.identity_key for c in found] == ["someone-else"]
    assert found[0].template_id == "dup" and found[0].score >= 0.8
    assert find_duplicates(index, rows[10], threshold=0.8, identity_key="person-5") == []


def test_bad_templates_are_refused(make_index: IndexFactory, transform_a: ProtectedTransform) -> None:
    index = make_index(transform_a)
    for bad in (np.zeros(128, np.float32), np.ones(64, np.float32), np.full(128, np.nan, np.float32)):
        with pytest.raises(InputError):
            index.add("x", "y", bad)
    with pytest.raises(InputError):
        index.add("with\nnewline", "y", np.ones(128, np.float32))
    assert index.count() == 0
