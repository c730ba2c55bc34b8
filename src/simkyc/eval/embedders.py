"""Comparing embedders and their fusion per group, on identity-disjoint folds, in three protocols.

Every system is built from dev templates (`simkyc.eval.devset`) exactly as it runs:
each member embedder's views (chip and mirror) are mapped by its adaptation and averaged,
and a fused system concatenates its members' templates with weights (`fuse_members`), so
its cosine score is the weighted mean of the members' cosine scores: score-level fusion
and template concatenation are the same thing, and the 1:N index keeps working on one vector.

Everything learnt (a member's NAP map, the fusion weights and z-normalisation) is learnt
for each test fold on the other folds' people only (`out_of_fold_system`), and pairs never
cross folds, so every figure is of people the system never saw.

Protocols, each per group at one threshold for everyone (the strictest group's):

- ``single``: one image against one image, all same-person and cross-person pairs;
- ``registration``: an ID photo against 5 other images averaged (`simkyc.eval.fusion`), as
  the registration compares the ID photo with the liveness session's best frames;
- ``chip``: the ID side degraded to a chip portrait (102x126, JPEG 70) against an original
  image of someone else or the same person (ordered pairs), at the single-image threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.adapt import Adaptation, adapt
from simkyc.core.faces.ensemble import fuse_parts
from simkyc.eval.adapt_train import NapParams, train_adaptation
from simkyc.eval.bygroup import PairScores, all_pair_scores, rates_by_group, threshold_at_fmr
from simkyc.eval.devset import DevEmbeddings
from simkyc.eval.fusion import Trial, fusion_scores

__all__ = [
    "FMRS",
    "MemberSpec",
    "SystemSpec",
    "SystemTemplates",
    "chip_pair_scores",
    "fuse_members",
    "member_views",
    "out_of_fold_system",
    "select_weights",
    "system_rows",
    "znorm_scale",
]

F32 = npt.NDArray[np.float32]
FMRS = (1e-2, 1e-3, 1e-4)
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.33, 2.0)
"""Candidate weights of each further member relative to the first, on z-normalised scores."""


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """One embedder inside a system: whose dev templates, which adaptation, whether its mirror is averaged."""

    embedder: str
    nap: NapParams | None = None
    flip: bool = True
    chip_map: bool = False  # a linear chip-to-live map for chip-condition templates (`fit_chip_map`)


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A named system: one member, or several fused with weights chosen in the training folds.

    `weights` fixes the weights (one per member) instead of choosing them; `relative` fixes them
    on z-normalised scores (the scales are refitted on each fold's training people). Otherwise
    each further member's weight relative to the first is chosen from `grid`, and, when
    `centres` is given, the share of the East Asian centroid the members' centring maps
    remove (`NapParams(k=0)`), jointly, in each fold's training folds.
    """

    name: str
    members: tuple[MemberSpec, ...]
    weights: tuple[float, ...] | None = None
    relative: tuple[float, ...] | None = None
    grid: tuple[float, ...] = WEIGHT_GRID
    centres: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class SystemTemplates:
    """A system's out-of-fold templates of every dev image (original and, if measured, chip condition)."""

    name: str
    original: F32
    chip: F32 | None
    weights: list[list[float]] = field(default_factory=list)  # per test fold
    chosen: list[dict[str, Any]] = field(default_factory=list)


def _l2(x: npt.NDArray[np.floating]) -> F32:
    out: F32 = (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return out


def member_views(dev: DevEmbeddings, *, flip: bool) -> list[F32]:
    """The member's views of every image: the chip, and its mirror when `flip`."""
    views = [dev.views["plain"]]
    if flip:
        if "flip_plain" not in dev.views or not dev.has_view["flip_plain"][dev.ok].all():
            raise ValueError(f"flip views of {dev.embedder} missing: embed with views 'flip'")
        views.append(dev.views["flip_plain"])
    return views


def fuse_members(parts: Sequence[F32], weights: Sequence[float]) -> F32:
    """The fused templates exactly as `EnsembleEmbedder` makes them (cosine = weighted mean of cosines)."""
    return fuse_parts(parts, weights)


def znorm_scale(
    templates: F32, people: npt.NDArray[Any], groups: npt.NDArray[Any], folds: npt.NDArray[np.int64]
) -> float:
    """1 / standard deviation of the impostor scores: the factor z-normalising this member's scores."""
    scores = all_pair_scores(templates, people.tolist(), groups.tolist(), folds=folds)
    imp = np.concatenate([s.impostor for s in scores.values()])
    return 1.0 / max(float(imp.std()), 1e-6)


def _worst_fnmr(
    x: F32, people: npt.NDArray[Any], groups: npt.NDArray[Any], folds: npt.NDArray[np.int64]
) -> float:
    """The selection criterion: worst group's FNMR at the strictest threshold, mean over FMR 1e-3 and 1e-4."""
    scores = all_pair_scores(x, people.tolist(), groups.tolist(), folds=folds)
    out = []
    for fmr in (1e-3, 1e-4):
        try:
            out.append(max(r.fnmr for r in rates_by_group(scores, target_fmr=fmr)))
        except ValueError:
            continue
    return float(np.mean(out)) if out else 1.0


def select_weights(
    parts: Sequence[F32],
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    *,
    grid: Sequence[float],
) -> tuple[list[float], dict[str, Any]]:
    """Fusion weights from `grid` (relative to z-normalised scores) minimising the worst group's FNMR.

    The first member's weight is fixed at 1; the others take each grid value. Returns the
    weights to apply to the raw (L2-normalised) member templates and a record of the choice.
    """
    scales = [znorm_scale(p, people, groups, folds) for p in parts]
    if len(parts) == 1:
        return [1.0], {"z_scale": scales}
    best: tuple[float, tuple[float, ...]] | None = None
    combos: list[tuple[float, ...]] = [(1.0,)]
    for _ in parts[1:]:
        combos = [(*c, g) for c in combos for g in grid]
    for combo in combos:
        if sum(combo) <= 0:
            continue
        w = [c * s for c, s in zip(combo, scales, strict=True)]
        crit = _worst_fnmr(fuse_members(parts, w), people, groups, folds)
        if best is None or crit < best[0] - 1e-12:
            best = (crit, combo)
    assert best is not None
    weights = [c * s for c, s in zip(best[1], scales, strict=True)]
    return weights, {"z_scale": scales, "relative": list(best[1]), "criterion": best[0]}


def fit_chip_map(chip: F32, original: F32, *, ridge: float = 1e-2) -> F32:
    """A (D, D) least-squares map taking chip-condition templates towards the same images' original ones."""
    d = chip.shape[1]
    a = chip.astype(np.float64)
    gram = a.T @ a + ridge * len(a) * np.eye(d)
    out: F32 = np.linalg.solve(gram, a.T @ original.astype(np.float64)).astype(np.float32)
    return out


def _nap(
    x: F32, people: npt.NDArray[Any], groups: npt.NDArray[Any], params: NapParams, name: str
) -> Adaptation:
    return train_adaptation(x, people, groups=groups, nap=params, embedder=name, embedder_version="eval")


def _member_templates(
    m: MemberSpec,
    dev: DevEmbeddings,
    chip: DevEmbeddings | None,
    train: npt.NDArray[np.bool_],
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    centre: float | None,
) -> tuple[F32, F32 | None]:
    """One member's templates of every image (and chip-condition ones), with maps fitted on `train`."""
    views = member_views(dev, flip=m.flip)
    nap = m.nap
    if nap is not None and nap.k == 0 and centre is not None:
        nap = NapParams(0, nap.keep, centre)
    ad = _nap(views[0][train], people[train], groups[train], nap, m.embedder) if nap else None
    t = _l2(np.mean([adapt(ad, v) if ad else v for v in views], axis=0))
    if chip is None:
        return t, None
    c = _l2(np.mean([adapt(ad, v) if ad else v for v in member_views(chip, flip=m.flip)], axis=0))
    if m.chip_map:
        c = _l2(c @ fit_chip_map(c[train], t[train]))
    return t, c


def out_of_fold_system(
    spec: SystemSpec,
    devs: dict[str, DevEmbeddings],
    chips: dict[str, DevEmbeddings] | None,
    *,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
) -> SystemTemplates:
    """Templates of `spec` for every image, each made with what was learnt on the other folds.

    For each test fold: every member's adaptation is fitted on the other folds' images, and
    the fusion weights (and, with `spec.centres`, the share of the centroid the centring
    maps remove) are chosen on those folds' pairs; the test fold's templates are then made
    with them. `devs` (and `chips`) hold each member's dev templates, already restricted to
    the same images in the same order as `people`, `groups`, `folds`.
    """
    n = len(people)
    with_chip = chips is not None and all(m.embedder in chips for m in spec.members)
    original: F32 | None = None
    chip_out: F32 | None = None
    weights_by_fold: list[list[float]] = []
    chosen: list[dict[str, Any]] = []
    for f in sorted(set(folds.tolist())):
        test, train = folds == f, folds != f
        best: tuple[float, list[float], dict[str, Any], list[F32], list[F32]] | None = None
        for centre in spec.centres or (None,):
            made = [
                _member_templates(
                    m,
                    devs[m.embedder],
                    chips[m.embedder] if with_chip and chips else None,
                    train,
                    people,
                    groups,
                    centre,
                )
                for m in spec.members
            ]
            parts = [t for t, _ in made]
            chip_parts = [c for _, c in made if c is not None]
            info: dict[str, Any]
            if spec.weights is not None:
                weights, info = list(spec.weights), {"fixed": list(spec.weights)}
                crit = 0.0
            elif spec.relative is not None:
                scales = [znorm_scale(p[train], people[train], groups[train], folds[train]) for p in parts]
                weights = [r * z for r, z in zip(spec.relative, scales, strict=True)]
                info, crit = {"relative": list(spec.relative), "z_scale": scales}, 0.0
            else:
                sub = [p[train] for p in parts]
                weights, info = select_weights(
                    sub, people[train], groups[train], folds[train], grid=spec.grid
                )
                crit = (
                    float(info.get("criterion", 0.0))
                    if len(parts) > 1
                    else _worst_fnmr(parts[0][train], people[train], groups[train], folds[train])
                )
            if centre is not None:
                info = {**info, "centre": centre, "criterion": crit}
            if best is None or crit < best[0] - 1e-12:
                best = (crit, weights, info, parts, chip_parts)
        assert best is not None
        _, weights, info, parts, chip_parts = best
        fused = fuse_members(parts, weights)
        if original is None:
            original = np.zeros((n, fused.shape[1]), np.float32)
            chip_out = np.zeros((n, fused.shape[1]), np.float32) if with_chip else None
        original[test] = fused[test]
        if chip_out is not None and chip_parts:
            chip_out[test] = fuse_members(chip_parts, weights)[test]
        weights_by_fold.append([float(w) for w in weights])
        chosen.append({"fold": f, **info})
    assert original is not None
    return SystemTemplates(spec.name, original, chip_out, weights_by_fold, chosen)


def chip_pair_scores(
    chip: F32,
    original: F32,
    people: Sequence[str],
    groups: Sequence[str],
    *,
    folds: npt.ArrayLike,
) -> dict[str, PairScores]:
    """Ordered pairs (i, j), i != j, within group and fold: chip template of i against original of j."""
    ppl, grp = np.asarray(people), np.asarray(groups)
    fld = np.asarray(folds, dtype=np.int64)
    out: dict[str, PairScores] = {}
    for group in sorted(set(grp.tolist())):
        gen: list[npt.NDArray[np.float64]] = []
        imp: list[npt.NDArray[np.float64]] = []
        for fold in sorted(set(fld[grp == group].tolist())):
            idx = np.flatnonzero((grp == group) & (fld == fold))
            if len(idx) < 2:
                continue
            s = (chip[idx] @ original[idx].T).astype(np.float64)
            same = ppl[idx][:, None] == ppl[idx][None, :]
            off = ~np.eye(len(idx), dtype=bool)
            gen.append(s[same & off])
            imp.append(s[~same])
        out[group] = PairScores(
            group,
            np.concatenate(gen) if gen else np.empty(0),
            np.concatenate(imp) if imp else np.empty(0),
            len(set(ppl[grp == group].tolist())),
        )
    return out


def _rows(
    scores: dict[str, PairScores], *, system: str, protocol: str, thresholds: dict[float, float] | None
) -> tuple[list[dict[str, Any]], dict[float, float]]:
    """Per (FMR, group) rows at the strictest group's threshold, or at given `thresholds`."""
    rows: list[dict[str, Any]] = []
    used: dict[float, float] = {}
    for fmr in FMRS:
        thr = None if thresholds is None else thresholds.get(fmr)
        if thresholds is not None and thr is None:
            continue
        try:
            rates = rates_by_group(scores, target_fmr=fmr, threshold=thr)
        except ValueError:
            continue
        used[fmr] = rates[0].threshold
        for r in rates:
            rows.append({"study": "embedders", "variant": system, "protocol": protocol, **asdict(r)})
    return rows, used


def system_rows(
    st: SystemTemplates,
    *,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    trials: Sequence[Trial],
    frames: int = 5,
) -> list[dict[str, Any]]:
    """All rows of one system: single image, registration (ID vs `frames` averaged), chip condition."""
    single = all_pair_scores(st.original, people.tolist(), groups.tolist(), folds=folds)
    rows, thresholds = _rows(single, system=st.name, protocol="single", thresholds=None)
    if trials:
        fused = fusion_scores(st.original, trials, k=frames, rule="template")
        rows += _rows(fused, system=st.name, protocol="registration", thresholds=None)[0]
    if st.chip is not None:
        chip = chip_pair_scores(st.chip, st.original, people.tolist(), groups.tolist(), folds=folds)
        rows += _rows(chip, system=st.name, protocol="chip", thresholds=thresholds)[0]
    return rows


def own_threshold(scores: PairScores, fmr: float) -> float:
    """A group's own threshold for `fmr` (re-exported for reports)."""
    return threshold_at_fmr(scores.impostor, fmr)


def _relative_grid(members: int, grid: Sequence[float]) -> list[tuple[float, ...]]:
    combos: list[tuple[float, ...]] = [(1.0,)]
    for _ in range(members - 1):
        combos = [(*c, g) for c in combos for g in grid]
    return combos


def select_system(
    spec: SystemSpec,
    devs: dict[str, DevEmbeddings],
    *,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
) -> tuple[float | None, tuple[float, ...], dict[str, float]]:
    """The (centre, relative weights) to ship: the best out-of-fold criterion over the candidates.

    Each candidate is scored on templates made, for every fold, with maps and z-scales fitted
    on the other folds (`out_of_fold_system`), by the worst group's FNMR at the strictest
    threshold (mean of FMR 1e-3 and 1e-4). Returns the choice and every candidate's score.
    """
    results: dict[tuple[float | None, tuple[float, ...]], float] = {}
    for centre in spec.centres or (None,):
        for rel in _relative_grid(len(spec.members), spec.grid):
            if sum(rel) <= 0:
                continue
            trial = SystemSpec(
                spec.name, spec.members, relative=rel, centres=(centre,) if centre is not None else ()
            )
            st = out_of_fold_system(trial, devs, None, people=people, groups=groups, folds=folds)
            results[(centre, rel)] = _worst_fnmr(st.original, people, groups, folds)
    (centre, rel) = min(results, key=lambda k: (results[k], -sum(k[1])))
    table = {f"centre={c} relative={list(r)}": v for (c, r), v in results.items()}
    return centre, rel, table


def train_members(
    spec: SystemSpec,
    devs: dict[str, DevEmbeddings],
    *,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    centre: float | None,
    versions: dict[str, str],
    meta: dict[str, Any] | None = None,
) -> list[Adaptation | None]:
    """Each member's adaptation fitted on all dev templates (to ship), with `centre` for centring maps."""
    out: list[Adaptation | None] = []
    for m in spec.members:
        nap = m.nap
        if nap is None:
            out.append(None)
            continue
        if nap.k == 0 and centre is not None:
            nap = NapParams(0, nap.keep, centre)
        x = devs[m.embedder].views["plain"]
        out.append(
            train_adaptation(
                x,
                people,
                groups=groups,
                nap=nap,
                embedder=m.embedder,
                embedder_version=versions[m.embedder],
                meta=meta,
            )
        )
    return out


def run_study(
    specs: Sequence[SystemSpec],
    devs: dict[str, DevEmbeddings],
    chips: dict[str, DevEmbeddings] | None,
    *,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    trials: Sequence[Trial],
) -> dict[str, Any]:
    """Rows of every system in every protocol, and what each fold chose (JSON-ready)."""
    rows: list[dict[str, Any]] = []
    chosen: dict[str, Any] = {}
    for spec in specs:
        st = out_of_fold_system(spec, devs, chips, people=people, groups=groups, folds=folds)
        rows += system_rows(st, people=people, groups=groups, folds=folds, trials=trials)
        chosen[spec.name] = st.chosen
    return {"rows": rows, "chosen": chosen}
