"""The linear template adaptation: maths, versioning, serialisation, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simkyc.core.faces.adapt import Adaptation, AdaptedEmbedder, adapt, adapt_one
from simkyc.errors import ModelError
from simkyc.eval.adapt_train import fit_linear, train_adaptation


def _nuisance_data(rng: np.random.Generator, people: int = 80, per: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Identity lives in dims 0-3 (small), a large per-photo nuisance in dims 4-7."""
    ident = np.zeros((people, 1, 8))
    ident[:, 0, :4] = rng.normal(scale=0.3, size=(people, 4))
    noise = np.zeros((people, per, 8))
    noise[:, :, 4:] = rng.normal(scale=1.0, size=(people, per, 4))
    noise[:, :, :4] = rng.normal(scale=0.05, size=(people, per, 4))
    x = (ident + noise + np.array([3.0] + [0.0] * 7)).reshape(-1, 8)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.repeat(np.arange(people).astype(str), per)


def _separation(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean genuine minus mean impostor cosine, in impostor standard deviations."""
    s = x @ x.T
    iu = np.triu_indices(len(x), 1)
    same = labels[iu[0]] == labels[iu[1]]
    gen, imp = s[iu][same], s[iu][~same]
    return float((gen.mean() - imp.mean()) / imp.std())


def _adaptation(rng: np.random.Generator, din: int = 8, dout: int = 4) -> Adaptation:
    return Adaptation(
        name="test",
        embedder="fake",
        embedder_version="1",
        mean=rng.normal(size=din).astype(np.float32),
        matrix=rng.normal(size=(din, dout)).astype(np.float32),
    )


def test_whitening_learns_to_ignore_the_nuisance_on_unseen_people() -> None:
    rng = np.random.default_rng(0)
    train_x, train_y = _nuisance_data(rng)
    test_x, test_y = _nuisance_data(rng)  # other people entirely
    ad = train_adaptation(train_x, train_y, embedder="fake", embedder_version="1", shrinkage=0.05)
    assert _separation(adapt(ad, test_x), test_y) > 2 * _separation(test_x, test_y)


def test_lda_projection_keeps_the_identity_dimensions() -> None:
    rng = np.random.default_rng(1)
    x, y = _nuisance_data(rng)
    mean, matrix = fit_linear(x, y, out_dim=4, shrinkage=0.05)
    assert matrix.shape == (8, 4) and mean.shape == (8,)
    # the nuisance dims 4-7 get almost no weight in the kept directions
    energy = np.linalg.norm(matrix, axis=1)
    assert energy[4:].max() < 0.5 * energy[:4].min()


def test_output_is_normalised_and_empty_input_is_empty() -> None:
    ad = _adaptation(np.random.default_rng(2))
    y = adapt(ad, np.random.default_rng(3).normal(size=(5, 8)).astype(np.float32))
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-5)
    assert adapt(ad, np.empty((0, 8), np.float32)).shape == (0, 4)
    assert np.allclose(
        adapt_one(ad, y[0] @ np.zeros((4, 8)) + 1.0), adapt(ad, np.ones((1, 8), np.float32))[0]
    )
    with pytest.raises(ValueError):
        adapt(ad, np.ones((2, 7), np.float32))


def test_json_round_trip_is_exact_and_versioned() -> None:
    ad = _adaptation(np.random.default_rng(4))
    data = json.loads(json.dumps(ad.to_dict()))
    back = Adaptation.from_dict(data)
    assert back.version == ad.version and len(ad.version) == 12
    assert np.array_equal(back.matrix, ad.matrix) and np.array_equal(back.mean, ad.mean)
    data["matrix"][0][0] += 1.0
    with pytest.raises(ModelError, match="hash"):
        Adaptation.from_dict(data)
    with pytest.raises(ModelError, match="format"):
        Adaptation.from_dict({**ad.to_dict(), "format": "other/9"})


def test_refuses_templates_of_another_embedder() -> None:
    ad = _adaptation(np.random.default_rng(5))
    ad.check_embedder("fake", "1")
    with pytest.raises(ModelError, match="no adaptation for other-model"):
        ad.check_embedder("other-model", "1")


def test_fit_refuses_data_without_repeated_people() -> None:
    with pytest.raises(ValueError, match="two or more"):
        fit_linear(np.eye(4, dtype=np.float32), ["a", "b", "c", "d"])


class _FakeEmbedder:
    name = "fake"
    version = "1"
    dim = 8
    chip_size = 4

    def embed(self, chip: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.embed_batch([chip])[0]
        return out

    def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
        v = np.stack([np.resize(c.astype(np.float32).ravel(), 8) + 1.0 for c in chips])
        out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def test_adapted_embedder_renames_and_maps_every_template() -> None:
    ad = _adaptation(np.random.default_rng(6), dout=8)
    emb = AdaptedEmbedder(_FakeEmbedder(), ad)
    assert emb.name == "fake+test" and emb.version == f"1+{ad.version}" and emb.dim == 8
    chips = [np.full((4, 4, 3), i, np.uint8) for i in range(3)]
    batch = emb.embed_batch(chips)
    assert np.allclose(batch, adapt(ad, _FakeEmbedder().embed_batch(chips)))
    assert np.allclose(emb.embed(chips[1]), batch[1], atol=1e-6)
    assert emb.embed_batch([]).shape == (0, 8)
    with pytest.raises(ModelError):
        AdaptedEmbedder(_FakeEmbedder(), Adaptation("x", "other", "1", ad.mean, ad.matrix))


def test_centring_removes_the_crowded_groups_centroid_and_stores_no_matrix() -> None:
    """`NapParams(k=0)`: a pure shift by `centre` times the East Asian class-mean centroid."""
    from simkyc.eval.adapt_train import NapParams

    rng = np.random.default_rng(5)
    shared = np.zeros(16, np.float32)
    shared[0] = 2.0  # what every East Asian template shares: impostors crowd along it
    people = np.repeat([f"p{i}" for i in range(12)], 3)
    groups = np.array(["east_asian"] * 18 + ["other"] * 18)
    x = rng.normal(size=(36, 16)).astype(np.float32) + np.where(groups[:, None] == "east_asian", shared, 0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ad = train_adaptation(
        x, people, groups=groups, nap=NapParams(0, 1.0, 1.0), embedder="fake", embedder_version="1"
    )
    assert ad.name == "centre" and ad.matrix is None and ad.in_dim == ad.out_dim == 16
    ea_means = np.stack([x[people == p].mean(axis=0) for p in np.unique(people[groups == "east_asian"])])
    np.testing.assert_allclose(ad.mean, ea_means.mean(axis=0), atol=1e-6)
    y = adapt(ad, x)
    want = (x - ad.mean) / np.linalg.norm(x - ad.mean, axis=1, keepdims=True)
    np.testing.assert_allclose(y, want, atol=1e-6)
    ea = y[groups == "east_asian"]
    assert abs(float(ea.mean(axis=0)[0])) < abs(float(x[groups == "east_asian"].mean(axis=0)[0])) / 3
    back = Adaptation.from_dict(json.loads(json.dumps(ad.to_dict())))
    assert back.matrix is None and back.version == ad.version
    np.testing.assert_array_equal(back.mean, ad.mean)
