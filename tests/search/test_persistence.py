"""Atomic snapshots and the change journal of the embedded indexes (NumpyIndex, HnswIndex)."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_builders import people

from simkyc.errors import ConflictError, Reason
from simkyc.search import HnswIndex, NumpyIndex, ProtectedTransform


@pytest.fixture(params=[NumpyIndex, HnswIndex])
def cls(request: pytest.FixtureRequest) -> type[NumpyIndex] | type[HnswIndex]:
    return request.param  # type: ignore[no-any-return]


def test_small_change_goes_to_the_journal_and_survives_a_restart(
    cls: type[NumpyIndex], transform_a: ProtectedTransform, tmp_path: Path
) -> None:
    path = tmp_path / "t.npz"
    rows, identities = people(40, 2)
    index = cls(transform_a, path=path)
    index.add_arrays([f"t{i}" for i in range(len(rows))], identities, rows)
    index.save()
    snapshot = path.stat().st_mtime_ns, path.stat().st_size
    index.add("late", "person-late", rows[3])
    index.remove("t10")
    index.save()
    assert (path.stat().st_mtime_ns, path.stat().st_size) == snapshot  # no rewrite of the snapshot
    assert path.with_name("t.npz.journal").is_file()

    reopened = cls.load(path, transform_a)
    assert reopened.count() == len(rows)
    assert "t10" not in reopened.ids() and reopened.identity_of("late") == "person-late"
    assert {h.key for h in reopened.search(rows[3], k=2)} == {"late", "t3"}


def test_stale_journal_and_torn_line_are_ignored(
    cls: type[NumpyIndex], transform_a: ProtectedTransform, tmp_path: Path
) -> None:
    path = tmp_path / "t.npz"
    rows, identities = people(10, 1)
    index = cls(transform_a, path=path)
    index.add_arrays([f"t{i}" for i in range(10)], identities, rows)
    index.save()
    index.add("x", "px", rows[0])
    index.save()
    with path.with_name("t.npz.journal").open("a") as fh:
        fh.write('{"op": "del", "id"')  # a crash in the middle of an append
    assert cls.load(path, transform_a).ids() == {f"t{i}" for i in range(10)} | {"x"}

    index.clear()  # the next save is a new snapshot; an old journal must not be replayed onto it
    index.add("only", "p", rows[1])
    journal = path.with_name("t.npz.journal").read_text()
    index.save()
    path.with_name("t.npz.journal").write_text(journal)  # as if the crash left the old journal
    assert cls.load(path, transform_a).ids() == {"only"}


def test_damaged_file_is_refused_with_a_reason(
    cls: type[NumpyIndex], transform_a: ProtectedTransform, tmp_path: Path
) -> None:
    path = tmp_path / "t.npz"
    path.write_bytes(b"not an index")
    with pytest.raises(ConflictError) as err:
        cls.load(path, transform_a)
    assert err.value.reason is Reason.INDEX_INCONSISTENT


def test_save_leaves_no_temporary_files(
    cls: type[NumpyIndex], transform_a: ProtectedTransform, tmp_path: Path
) -> None:
    rows, identities = people(5, 1)
    index = cls(transform_a, path=tmp_path / "t.npz")
    index.add_arrays([f"t{i}" for i in range(5)], identities, rows)
    index.save()
    index.save(tmp_path / "copy.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.npz", "t.npz"]
