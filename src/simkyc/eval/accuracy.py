"""The accuracy studies of issue 9 on the dev set: per group, fusion, TTA, adaptation, abstention.

Every figure is computed on the same identity-disjoint folds (`groups.fold_array`):
pairs never cross folds, and the adaptation scoring fold f was trained on the
other folds only. Each figure carries the number of genuine and impostor
comparisons behind it. Thresholds are per variant (a variant that ships is
recalibrated): "own" is the group's own threshold for the target FMR, "global"
is one threshold for everyone, the strictest group's, so that no group exceeds
the target FMR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.adapt import Adaptation, adapt
from simkyc.eval.abstain import error_versus_reject, flip_consistency, quality_score
from simkyc.eval.adapt_train import NapParams, select_nap, train_adaptation
from simkyc.eval.bygroup import PairScores, all_pair_scores, rates_by_group
from simkyc.eval.devset import VIEWS, DevEmbeddings, view_names
from simkyc.eval.fusion import FusionRule, draw_trials, fusion_scores
from simkyc.eval.groups import fold_array

__all__ = [
    "FMRS",
    "Fit",
    "apply_fold_models",
    "cross_validated",
    "figures",
    "fixed_nap_fit",
    "fold_models",
    "mean_views",
    "nap_fit",
    "plot_reports",
    "run_studies",
    "wccn_fit",
]

FMRS = (1e-3, 1e-4)
F32 = npt.NDArray[np.float32]

Fit = Callable[[F32, npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.int64]], Adaptation]
"""Trains an adaptation from (templates, people, groups, folds) of the training folds."""


def nap_fit(embedder: str, version: str, chosen: list[NapParams] | None = None) -> Fit:
    """NAP with its hyper-parameters selected on the training folds only (nested); records each choice."""

    def fit(x: F32, y: npt.NDArray[Any], g: npt.NDArray[Any], f: npt.NDArray[np.int64]) -> Adaptation:
        params, _ = select_nap(x, y, g, f)
        if chosen is not None:
            chosen.append(params)
        return train_adaptation(x, y, groups=g, nap=params, embedder=embedder, embedder_version=version)

    return fit


def fixed_nap_fit(params: NapParams, embedder: str, version: str) -> Fit:
    """NAP with given hyper-parameters (those of a shipped adaptation): only the map is refitted."""

    def fit(x: F32, y: npt.NDArray[Any], g: npt.NDArray[Any], f: npt.NDArray[np.int64]) -> Adaptation:
        return train_adaptation(x, y, groups=g, nap=params, embedder=embedder, embedder_version=version)

    return fit


def wccn_fit(embedder: str, version: str) -> Fit:
    """WCCN + LDA (shrinkage 0.1, all dimensions): the textbook adaptation, for comparison."""

    def fit(x: F32, y: npt.NDArray[Any], g: npt.NDArray[Any], f: npt.NDArray[np.int64]) -> Adaptation:
        return train_adaptation(x, y, embedder=embedder, embedder_version=version, shrinkage=0.1)

    return fit


def figures(scores: dict[str, PairScores], *, study: str, variant: str) -> list[dict[str, Any]]:
    """One JSON-ready row per (group, target FMR)."""
    rows: list[dict[str, Any]] = []
    for fmr in FMRS:
        try:
            rates = rates_by_group(scores, target_fmr=fmr)
        except ValueError:
            continue  # too few impostors for this FMR: no figure rather than a guess
        for r in rates:
            rows.append({"study": study, "variant": variant, **asdict(r)})
    return rows


def fold_models(
    x: F32,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    *,
    fit: Fit,
) -> dict[int, Adaptation]:
    """One adaptation per fold f, trained on all other folds (never on fold f's people)."""
    models: dict[int, Adaptation] = {}
    for f in sorted(set(folds.tolist())):
        test = folds == f
        models[f] = fit(x[~test], people[~test], groups[~test], folds[~test])
    return models


def apply_fold_models(models: dict[int, Adaptation], x: F32, folds: npt.NDArray[np.int64]) -> F32:
    """Templates of fold f mapped by `models[f]`."""
    out = np.zeros((len(x), next(iter(models.values())).out_dim), np.float32)
    for f, ad in models.items():
        out[folds == f] = adapt(ad, x[folds == f])
    return out


def cross_validated(
    x: F32,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    *,
    fit: Fit,
) -> F32:
    """Templates of fold f mapped by an adaptation trained on all other folds."""
    return apply_fold_models(fold_models(x, people, groups, folds, fit=fit), x, folds)


def mean_views(views: F32) -> F32:
    """(N, V, D) templates of V views -> (N, D): their L2-normalised mean, as `AugmentedEmbedder` fuses."""
    m = views.mean(axis=1)
    out: F32 = (m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return out


def run_studies(
    dev: DevEmbeddings,
    *,
    k_folds: int = 5,
    seed: int = 0,
    shipped_threshold: dict[float, float] | None = None,
    with_wccn: bool = True,
    fusion_ks: Sequence[int] = (1, 3, 5),
    trials_per_person: int = 30,
) -> tuple[dict[str, Any], F32]:
    """All studies: a JSON-ready dict (`rows` = the figures, curve data) and the held-out NAP templates."""
    d = dev.subset(dev.ok)
    people = np.array([im.person for im in d.images])
    groups = np.array([im.group.value for im in d.images])
    folds = fold_array(d.images, k=k_folds, seed=seed)
    plain = d.plain
    rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {
        "images": len(dev.images),
        "images_with_face": int(dev.ok.sum()),
        "people": {g: len(set(people[groups == g].tolist())) for g in sorted(set(groups.tolist()))},
        "folds": k_folds,
        "seed": seed,
        "embedder": f"{dev.embedder} {dev.embedder_version}",
    }

    def score(x: F32, mask: npt.NDArray[np.bool_] | None = None) -> dict[str, PairScores]:
        m = np.ones(len(x), bool) if mask is None else mask
        return all_pair_scores(x[m], people[m].tolist(), groups[m].tolist(), folds=folds[m])

    # 1. baseline per group, and at the shipped calibration's thresholds
    base = score(plain)
    rows += figures(base, study="baseline", variant="plain")
    if shipped_threshold:
        for fmr, thr in shipped_threshold.items():
            for r in rates_by_group(base, target_fmr=fmr, threshold=thr):
                rows.append({"study": "shipped_threshold", "variant": "plain", **asdict(r)})

    # 4. adaptation on identity-disjoint folds (NAP selection nested inside the training folds)
    chosen: list[NapParams] = []
    fits: dict[str, Fit] = {"nap": nap_fit(dev.embedder, dev.embedder_version, chosen)}
    if with_wccn:
        fits["wccn-lda"] = wccn_fit(dev.embedder, dev.embedder_version)
    models: dict[str, dict[int, Adaptation]] = {}
    adapted: dict[str, F32] = {}
    for name, fit in fits.items():
        models[name] = fold_models(plain, people, groups, folds, fit=fit)
        adapted[name] = apply_fold_models(models[name], plain, folds)
        rows += figures(score(adapted[name]), study="adaptation", variant=name)
    out["nap_selected_per_fold"] = [asdict(p) for p in chosen]

    # 3. test-time augmentation, on the images whose views were computed, against plain on the same images
    for vset, plan in VIEWS.items():
        names = view_names(plan)
        if vset == "plain" or not all(n in d.views for n in names):
            continue
        mask = np.all([d.has_view[n] for n in names], axis=0)
        if mask.sum() < 100:
            continue
        stack = np.stack([d.views[n] for n in names], axis=1)
        rows += figures(score(plain, mask), study="tta", variant=f"{vset}: plain, same images")
        rows += figures(score(mean_views(stack), mask), study="tta", variant=f"{vset}: {len(names)} views")
        ad_stack = np.stack(
            [apply_fold_models(models["nap"], stack[:, v], folds) for v in range(len(names))], 1
        )
        rows += figures(score(adapted["nap"], mask), study="tta", variant=f"{vset}: nap, same images")
        rows += figures(
            score(mean_views(ad_stack), mask), study="tta", variant=f"{vset}: nap + {len(names)} views"
        )

    # 2. multi-frame fusion: NUAA printed photos serve as ID photos against live frames
    id_like = np.array([im.source == "nuaa_spoof_print" for im in d.images])
    trials = draw_trials(
        people.tolist(),
        groups.tolist(),
        max_k=max(fusion_ks),
        per_person=trials_per_person,
        seed=seed,
        folds=folds,
        id_like=id_like,
    )
    out["fusion_trials"] = len(trials)
    out["fusion_people"] = {g: len({t.person for t in trials if t.group == g}) for g in sorted(set(groups))}
    sources = {"plain": plain}
    if adapted:
        sources["nap"] = adapted["nap"]
    if "flip_plain" in d.views and d.has_view["flip_plain"].all():
        flip_nap = apply_fold_models(models["nap"], d.views["flip_plain"], folds)
        sources["nap+flip"] = mean_views(np.stack([adapted["nap"], flip_nap], axis=1))
    rules: tuple[FusionRule, ...] = ("template", "mean", "max")
    for src_name, x in sources.items():
        for k in fusion_ks:
            if src_name == "nap+flip" and k != max(fusion_ks):
                continue
            for rule in rules if k > 1 else ("template",):
                fs = fusion_scores(x, trials, k=k, rule=rule)
                rows += figures(fs, study="fusion", variant=f"{src_name} K={k} {rule}")

    # 5. abstention: error-versus-reject on the baseline and on the default adaptation
    q = quality_score(
        face_px=d.quality["face_px"],
        sharpness=d.quality["sharpness"],
        brightness=d.quality["brightness"],
        yaw_deg=d.quality["yaw_deg"],
    )
    measures = {"rules": q}
    if "flip_plain" in d.views and d.has_view["flip_plain"].all():
        measures["flip-consistency"] = flip_consistency(plain, d.views["flip_plain"])
    out["abstention"] = {}
    for src_name, x in sources.items():
        for m_name, qm in measures.items():
            curves = {}
            for g in sorted(set(groups.tolist())):
                gen, gq, imp, iq = _pairs_with_quality(x, people, groups, folds, qm, g)
                sc = {g: PairScores(g, gen, imp, 0)}
                thr = rates_by_group(sc, target_fmr=1e-3)[0].own_threshold
                curve = error_versus_reject(gen, gq, imp, iq, threshold=thr)
                curves[g] = {
                    k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(curve).items()
                }
                for fmr in FMRS:
                    for frac in (0.05, 0.10):
                        cut = float(np.quantile(gq, frac))
                        keep_g, keep_i = gq > cut, iq > cut
                        kept = {g: PairScores(g, gen[keep_g], imp[keep_i], 0)}
                        try:
                            r = rates_by_group(kept, target_fmr=fmr)[0]
                        except ValueError:
                            continue
                        rows.append(
                            {
                                "study": "abstention",
                                "variant": f"{src_name} retry lowest {frac:.0%} {m_name}",
                                **asdict(r),
                                "retry_genuine": float(1 - keep_g.mean()),
                                "retry_impostor": float(1 - keep_i.mean()),
                            }
                        )
            out["abstention"][f"{src_name} {m_name}"] = curves
    out["rows"] = rows
    return out, adapted["nap"]


def _pairs_with_quality(
    x: F32,
    people: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    q: npt.NDArray[np.float64],
    group: str,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]:
    """(genuine, genuine pair quality, impostor, impostor pair quality) of one group, within folds."""
    gen, gq, imp, iq = [], [], [], []
    for f in sorted(set(folds.tolist())):
        idx = np.flatnonzero((groups == group) & (folds == f))
        if len(idx) < 2:
            continue
        iu, ju = np.triu_indices(len(idx), k=1)
        s = np.einsum("nd,nd->n", x[idx][iu], x[idx][ju]).astype(np.float64)
        pq = np.minimum(q[idx][iu], q[idx][ju])
        same = people[idx][iu] == people[idx][ju]
        gen.append(s[same])
        gq.append(pq[same])
        imp.append(s[~same])
        iq.append(pq[~same])
    return np.concatenate(gen), np.concatenate(gq), np.concatenate(imp), np.concatenate(iq)


def plot_reports(
    dev: DevEmbeddings, report: dict[str, Any], out: Path, *, k_folds: int, seed: int, nap: F32 | None = None
) -> list[Path]:
    """DET curves per group (plain vs the default adaptation) and the error-versus-reject curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simkyc.eval.report import plot_det

    d = dev.subset(dev.ok)
    people = np.array([im.person for im in d.images])
    groups = np.array([im.group.value for im in d.images])
    folds = fold_array(d.images, k=k_folds, seed=seed)
    curves: dict[str, tuple[npt.ArrayLike, npt.ArrayLike]] = {}
    if nap is None:
        nap = cross_validated(d.plain, people, groups, folds, fit=nap_fit(dev.embedder, dev.embedder_version))
    for label, x in (("plain", d.plain), ("nap", nap)):
        for g, ps in all_pair_scores(x, people.tolist(), groups.tolist(), folds=folds).items():
            curves[f"{g} {label}"] = (ps.genuine, ps.impostor)
    paths = [plot_det(curves, out / "det_by_group.png", title="DET by group (identity-disjoint folds)")]

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    shown = ("plain rules", "plain flip-consistency", "nap+flip flip-consistency")
    for src, per_group in report.get("abstention", {}).items():
        if src not in shown:
            continue
        for g, c in per_group.items():
            ax.plot(np.array(c["rejected"]) * 100, c["fnmr"], marker="o", ms=3, label=f"{g} {src}")
    ax.set_xlabel("genuine comparisons rejected as low quality (RETRY), %")
    ax.set_ylabel("FNMR of the rest (threshold fixed at FMR 1e-3)")
    ax.set_title("Error versus reject")
    ax.grid(True, lw=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "error_versus_reject.png")
    plt.close(fig)
    paths.append(out / "error_versus_reject.png")
    return paths
