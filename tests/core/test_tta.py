"""Test-time augmentation views."""

from __future__ import annotations

import numpy as np

from simkyc.core.faces.tta import FLIP, FLIP_SHIFT, NONE, TtaPlan, augment, embed_augmented


class _MeanColourEmbedder:
    """A fake embedder: the chip's mean colour per image half, normalised (sensitive to flips)."""

    name = "fake"
    version = "1"
    dim = 6
    chip_size = 8

    def embed(self, chip: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.embed_batch([chip])[0]
        return out

    def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
        v = np.stack([np.concatenate([c[:, :4].mean((0, 1)), c[:, 4:].mean((0, 1))]) for c in chips])
        out: np.ndarray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
        return out


def _chip() -> np.ndarray:
    c = np.zeros((8, 8, 3), np.uint8)
    c[:, :4] = (200, 10, 10)
    c[:, 4:] = (10, 10, 200)
    return c


def test_views_in_order_and_counted() -> None:
    chip = _chip()
    views = augment(chip, FLIP_SHIFT)
    assert len(views) == FLIP_SHIFT.views == 10
    assert np.array_equal(views[0], chip)
    assert np.array_equal(views[5], chip[:, ::-1])
    assert len(augment(chip, NONE)) == 1


def test_shift_moves_content_and_replicates_the_edge() -> None:
    chip = np.arange(5 * 5 * 3, dtype=np.uint8).reshape(5, 5, 3)
    right = augment(chip, TtaPlan(flip=False, shifts=((2, 0),)))[1]
    assert np.array_equal(right[:, 2:], chip[:, :3])
    assert np.array_equal(right[:, 0], chip[:, 0]) and np.array_equal(right[:, 1], chip[:, 0])


def test_flip_averaging_cancels_left_right_asymmetry() -> None:
    emb = _MeanColourEmbedder()
    t = embed_augmented(emb, _chip(), FLIP)
    assert np.isclose(np.linalg.norm(t), 1.0)
    assert np.allclose(t[:3], t[3:])  # both halves look alike after averaging with the mirror
    assert not np.allclose(embed_augmented(emb, _chip(), NONE)[:3], embed_augmented(emb, _chip(), NONE)[3:])
