"""Score-level fusion carried by one template: cosine of the fused = weighted mean of the members' cosines."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from simkyc.core.faces.ensemble import EnsembleEmbedder, fuse_parts
from simkyc.core.faces.types import Image, Template, Templates


class _Member:
    """Deterministic fake: a fixed random projection of the chip's pixels."""

    def __init__(self, name: str, dim: int, seed: int, chip_size: int = 112) -> None:
        self.name, self.version, self.dim, self.chip_size = name, f"v{seed}", dim, chip_size
        self._w = np.random.default_rng(seed).normal(size=(8 * 8 * 3, dim)).astype(np.float32)

    def embed(self, chip: Image) -> Template:
        return self.embed_batch([chip])[0]

    def embed_batch(self, chips: list[Image]) -> Templates:
        x = np.stack([c[::14, ::14].reshape(-1) for c in chips]).astype(np.float32) @ self._w
        out: Templates = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def _chips(n: int, seed: int = 0) -> list[Image]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(n)]


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_fused_cosine_is_the_weighted_mean_of_member_cosines() -> None:
    rng = np.random.default_rng(0)
    a1, b1 = _unit(rng, 2, 512)
    a2, b2 = _unit(rng, 2, 192)
    fused = fuse_parts([np.stack([a1, b1]), np.stack([a2, b2])], [3.0, 1.0])
    assert fused.shape == (2, 704)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-6)
    assert float(fused[0] @ fused[1]) == pytest.approx(0.75 * (a1 @ b1) + 0.25 * (a2 @ b2), abs=1e-6)


def test_fuse_parts_refuses_bad_weights() -> None:
    x = np.eye(2, dtype=np.float32)
    for bad in ([1.0], [0.0, 0.0], [1.0, -1.0]):
        with pytest.raises(ValueError):
            fuse_parts([x, x], bad)


def test_ensemble_embedder_matches_its_members_and_names_them() -> None:
    m1, m2 = _Member("a", 16, 1), _Member("b", 8, 2)
    ens = EnsembleEmbedder([m1, m2], [2.0, 1.0], name="a+b")
    chips = _chips(3)
    t = ens.embed_batch(chips)
    assert t.shape == (3, 24) and ens.dim == 24 and ens.chip_size == 112
    s1, s2 = m1.embed_batch(chips), m2.embed_batch(chips)
    assert float(t[0] @ t[1]) == pytest.approx((2 * (s1[0] @ s1[1]) + s2[0] @ s2[1]) / 3, abs=1e-6)
    np.testing.assert_allclose(ens.embed(chips[2]), t[2], atol=1e-6)
    assert ens.embed_batch([]).shape == (0, 24)
    assert ens.version.startswith("v1+v2+") and len(ens.version) <= 64 and "a=v1" in ens.recipe
    assert EnsembleEmbedder([m1, m2], [1.0, 1.0], name="a+b").version != ens.version


def test_members_run_concurrently_to_the_same_result() -> None:
    m1, m2 = _Member("a", 16, 1), _Member("b", 8, 2)
    chips = _chips(4, seed=3)
    plain = EnsembleEmbedder([m1, m2], [1.0, 3.0], name="a+b").embed_batch(chips)
    with ThreadPoolExecutor(2) as pool:
        threaded = EnsembleEmbedder([m1, m2], [1.0, 3.0], name="a+b", executor=pool).embed_batch(chips)
    np.testing.assert_allclose(threaded, plain, atol=1e-7)


def test_members_must_share_the_chip() -> None:
    with pytest.raises(ValueError, match="same chip"):
        EnsembleEmbedder([_Member("a", 4, 1), _Member("b", 4, 2, chip_size=150)], [1.0, 1.0], name="x")
