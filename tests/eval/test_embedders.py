"""Comparing embedders and fusions out of fold: weights chosen in training folds, chip pairs, protocols."""

from __future__ import annotations

import numpy as np
import pytest

from simkyc.core.faces.ensemble import EnsembleEmbedder
from simkyc.eval.adapt_train import NapParams
from simkyc.eval.devset import DevEmbeddings
from simkyc.eval.embedders import (
    MemberSpec,
    SystemSpec,
    chip_pair_scores,
    fuse_members,
    out_of_fold_system,
    select_system,
    select_weights,
    system_rows,
)
from simkyc.eval.fusion import draw_trials
from simkyc.eval.groups import Group, LabelledImage

PEOPLE, PER, FOLDS = 60, 8, 5


def _images() -> list[LabelledImage]:
    out = []
    for p in range(PEOPLE):
        group = Group.EAST_ASIAN if p % 2 else Group.OTHER
        for i in range(PER):
            out.append(LabelledImage(f"{p}/{i}.jpg", f"p{p}", "src", f"p{p}", group, "x"))
    return out


def _dev(name: str, x: np.ndarray, images: list[LabelledImage]) -> DevEmbeddings:
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    n = len(images)
    return DevEmbeddings(
        images=images,
        ok=np.ones(n, bool),
        views={"plain": x},
        has_view={"plain": np.ones(n, bool)},
        quality={},
        blocking=np.zeros(n, bool),
        findings=[() for _ in range(n)],
        embedder=name,
        embedder_version="1",
    )


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    """Two 'networks' seeing the same people with independent noise; a third that sees only noise."""
    rng = np.random.default_rng(7)
    images = _images()
    ident = rng.normal(size=(PEOPLE, 12))
    person = np.repeat(np.arange(PEOPLE), PER)
    crowd = np.where(person % 2 == 1, 1.5, 0.0)[:, None] * np.eye(12)[0]  # East Asian faces crowd along e0

    def net(noise: float) -> np.ndarray:
        return ident[person] + crowd + noise * rng.normal(size=(len(person), 12))

    devs = {
        "a": _dev("a", net(1.1), images),
        "b": _dev("b", net(1.1), images),
        "junk": _dev("junk", rng.normal(size=(len(person), 12)), images),
    }
    people = np.array([im.person for im in images])
    groups = np.array([im.group.value for im in images])
    folds = (person % FOLDS).astype(np.int64)  # identity-disjoint
    return {"devs": devs, "people": people, "groups": groups, "folds": folds, "images": images}


def test_fuse_members_is_what_the_ensemble_embedder_makes() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(4, 6)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)]
    parts = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in parts]

    class Fixed:
        def __init__(self, t: np.ndarray) -> None:
            self.t, self.name, self.version, self.dim, self.chip_size = t, "f", "1", t.shape[1], 112

        def embed(self, chip: np.ndarray) -> np.ndarray:
            return self.t[0]

        def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
            return self.t

    ens = EnsembleEmbedder([Fixed(parts[0]), Fixed(parts[1])], [0.7, 0.3], name="x")
    np.testing.assert_allclose(
        fuse_members(parts, [0.7, 0.3]), ens.embed_batch([np.zeros((112, 112, 3))] * 4), atol=1e-7
    )


def test_fusion_of_two_noisy_views_beats_either_and_junk_gets_no_weight(world: dict[str, object]) -> None:
    devs, people, groups, folds = (world[k] for k in ("devs", "people", "groups", "folds"))
    parts = [devs[k].plain for k in ("a", "b", "junk")]  # type: ignore[index]
    weights, _ = select_weights(parts, people, groups, folds, grid=(0.0, 0.5, 1.0))  # type: ignore[arg-type]
    assert weights[2] == 0.0 and weights[1] > 0.0
    single = select_weights(parts[:1], people, groups, folds, grid=(0.0, 1.0))[0]  # type: ignore[arg-type]
    assert single == [1.0]
    rows = {}
    for name, members in (("a", ("a",)), ("a+b", ("a", "b"))):
        spec = SystemSpec(name, tuple(MemberSpec(m, None, flip=False) for m in members))
        st = out_of_fold_system(spec, devs, None, people=people, groups=groups, folds=folds)  # type: ignore[arg-type]
        rows[name] = {
            (r["group"], r["target_fmr"]): r
            for r in system_rows(st, people=people, groups=groups, folds=folds, trials=[])  # type: ignore[arg-type]
            if r["protocol"] == "single"
        }
    for key, r in rows["a+b"].items():
        assert r["own_fnmr"] <= rows["a"][key]["own_fnmr"]
        assert r["fmr"] <= r["target_fmr"] + 1e-12  # one threshold, no group above the target


def test_out_of_fold_templates_never_depend_on_their_own_folds_other_people(world: dict[str, object]) -> None:
    devs, people, groups, folds = (world[k] for k in ("devs", "people", "groups", "folds"))
    spec = SystemSpec(
        "a+b",
        (MemberSpec("a", NapParams(0, 1.0, 1.0), flip=False), MemberSpec("b", NapParams(1, 0.3), flip=False)),
        centres=(0.5, 1.0),
    )
    before = out_of_fold_system(spec, devs, None, people=people, groups=groups, folds=folds).original  # type: ignore[arg-type]
    # change every fold-0 image except the first: the first image's template must not move
    fold0 = np.flatnonzero(folds == 0)  # type: ignore[operator]
    changed = {}
    for k, d in devs.items():  # type: ignore[union-attr]
        x = d.plain.copy()
        x[fold0[1:]] = np.random.default_rng(1).normal(size=(len(fold0) - 1, x.shape[1]))
        changed[k] = _dev(k, x, world["images"])  # type: ignore[arg-type]
    after = out_of_fold_system(spec, changed, None, people=people, groups=groups, folds=folds).original  # type: ignore[arg-type]
    np.testing.assert_allclose(after[fold0[0]], before[fold0[0]], atol=1e-6)
    assert not np.allclose(after[folds != 0], before[folds != 0])  # type: ignore[operator]


def test_select_system_ships_the_best_out_of_fold_candidate(world: dict[str, object]) -> None:
    devs, people, groups, folds = (world[k] for k in ("devs", "people", "groups", "folds"))
    spec = SystemSpec(
        "a+junk", (MemberSpec("a", None, flip=False), MemberSpec("junk", None, flip=False)), grid=(0.0, 1.0)
    )
    centre, relative, table = select_system(spec, devs, people=people, groups=groups, folds=folds)  # type: ignore[arg-type]
    assert centre is None and relative == (1.0, 0.0)
    assert table["centre=None relative=[1.0, 0.0]"] < table["centre=None relative=[1.0, 1.0]"]


def test_chip_pairs_are_ordered_and_stay_in_group_and_fold() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    people = ["a", "a", "b", "b", "c", "c", "d", "d"]
    groups = ["g"] * 4 + ["h"] * 4
    folds = [0, 0, 0, 0, 0, 0, 1, 1]
    sc = chip_pair_scores(x, x, people, groups, folds=folds)
    assert len(sc["g"].genuine) == 4 and len(sc["g"].impostor) == 8  # (a1,a2),(a2,a1),(b1,b2),(b2,b1); 2x2x2
    assert len(sc["h"].genuine) == 4 and len(sc["h"].impostor) == 0  # c and d never meet: different folds


def test_registration_and_chip_protocols_are_reported(world: dict[str, object]) -> None:
    devs, people, groups, folds = (world[k] for k in ("devs", "people", "groups", "folds"))
    spec = SystemSpec("a", (MemberSpec("a", None, flip=False),), weights=(1.0,))
    st = out_of_fold_system(spec, devs, devs, people=people, groups=groups, folds=folds)  # type: ignore[arg-type]
    assert st.chip is not None
    trials = draw_trials(people.tolist(), groups.tolist(), max_k=5, per_person=5, folds=folds)  # type: ignore[union-attr]
    rows = system_rows(st, people=people, groups=groups, folds=folds, trials=trials)  # type: ignore[arg-type]
    protocols = {r["protocol"] for r in rows}
    assert protocols == {"single", "registration", "chip"}
    single = {(r["group"], r["target_fmr"]): r["threshold"] for r in rows if r["protocol"] == "single"}
    for r in rows:
        if r["protocol"] == "chip":  # chip figures are at the single-image threshold, as shipped
            assert r["threshold"] == single[(r["group"], r["target_fmr"])]
