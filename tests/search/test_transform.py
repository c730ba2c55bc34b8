"""The keyed orthogonal transform: scores unchanged, keys unlinkable, derivation reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from search_builders import DIM, KEY_A, KEY_B, people

from simkyc.errors import InputError, Reason
from simkyc.search import ProtectedTransform, load_or_create_key


def test_matrix_is_orthogonal_and_reproducible_from_the_key(transform_a: ProtectedTransform) -> None:
    again = ProtectedTransform.from_key(KEY_A, dim=DIM)
    assert np.array_equal(transform_a.matrix, again.matrix)
    assert transform_a.key_id == again.key_id
    np.testing.assert_allclose(transform_a.matrix @ transform_a.matrix.T, np.eye(DIM), atol=1e-5)


def test_scores_are_unchanged_by_the_transform(transform_a: ProtectedTransform) -> None:
    rows, _ = people(50, 2)
    raw = rows @ rows.T
    protected = transform_a(rows) @ transform_a(rows).T
    np.testing.assert_allclose(protected, raw, atol=1e-5)
    assert not np.allclose(transform_a(rows), rows, atol=0.1)  # the vectors themselves do change


def test_templates_under_two_keys_do_not_match(
    transform_a: ProtectedTransform, transform_b: ProtectedTransform
) -> None:
    rows, _ = people(200, 1)
    same_face = np.einsum("ij,ij->i", transform_a(rows), transform_b(rows))
    # the same template under two keys scores like two random 128-d vectors (sd 1/sqrt(128) ~ 0.09)
    assert np.abs(same_face).max() < 0.45
    assert abs(float(same_face.mean())) < 0.05
    assert transform_a.key_id != transform_b.key_id


def test_key_id_reveals_nothing_reusable(transform_a: ProtectedTransform) -> None:
    assert transform_a.key_id not in KEY_A.hex()
    assert len(transform_a.key_id) == 16


def test_short_key_is_refused() -> None:
    with pytest.raises(InputError) as err:
        ProtectedTransform.from_key(b"short", dim=DIM)
    assert err.value.reason is Reason.KEY_MISSING


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "search.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key
    assert key != KEY_B


def test_threads_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    """First start: every index follower asks for the key at once (it raced and failed before)."""
    import threading

    path = tmp_path / "home" / "search.key"
    start = threading.Barrier(8)
    keys: list[bytes] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        start.wait()
        try:
            keys.append(load_or_create_key(path))
        except BaseException as exc:  # the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(keys) == 8
    assert len(set(keys)) == 1 and keys[0] == path.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["search.key"]  # no temporary files left
