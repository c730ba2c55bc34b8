"""Calibration that holds for every group: one threshold per FMR, the strictest group's.

A threshold calibrated on pooled impostors is set by the majority of the data
(LFW), and then lets East Asian impostors through tens of times more often than
the target. Here each group's own threshold for the target FMR is computed from
all its within-group cross-person pairs, and the shipped threshold is the
highest of them, so no group's measured FMR exceeds the target. The per-group
figures are written into the calibration file (`per_group`) so an operator can
read what the threshold gives to whom.

When the embedder carries an adaptation trained on the same dev people, scores of
those people are optimistic (the map has seen them). `out_of_fold_templates`
therefore rebuilds each image's template with the adaptation refitted (same
hyper-parameters) on the other folds' people only, so the thresholds are set on
scores of people the map never saw, as at an outlet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.adapt import Adaptation
from simkyc.core.faces.calibration import Calibration, OperatingPoint, fmr_key
from simkyc.eval.accuracy import apply_fold_models, fixed_nap_fit, fold_models, mean_views
from simkyc.eval.adapt_train import NapParams
from simkyc.eval.bygroup import (
    GroupRates,
    PairScores,
    all_pair_scores,
    error_rates,
    rates_by_group,
)
from simkyc.eval.devset import DevEmbeddings
from simkyc.eval.groups import fold_array

__all__ = ["calibrate_by_group", "out_of_fold_templates"]

F32 = npt.NDArray[np.float32]


def out_of_fold_templates(
    dev: DevEmbeddings,
    adaptation: Adaptation | None,
    *,
    flip: bool,
    k_folds: int = 5,
    seed: int = 0,
) -> tuple[F32, npt.NDArray[np.int64] | None]:
    """(templates, folds): the default embedder's template of every dev image where `dev.ok`.

    Each view (the chip, and its mirror when `flip`) goes through a NAP map with the
    shipped `adaptation`'s parameters fitted on the other folds' people; the views are
    then averaged, as `AugmentedEmbedder(AdaptedEmbedder(...))` does at run time. Pairs
    must then stay within a fold (`calibrate_by_group(..., folds=)`): two people of
    different folds would be mapped by different maps. Without an adaptation, folds is None.
    """
    d = dev.subset(dev.ok)
    views = [d.plain]
    if flip:
        if "flip_plain" not in d.views or not d.has_view["flip_plain"].all():
            raise ValueError("flip views missing: run `simkyc eval embed-dev --views flip`")
        views.append(d.views["flip_plain"])
    if adaptation is None:
        return mean_views(np.stack(views, axis=1)), None
    if adaptation.name != "nap":
        raise ValueError(f"out-of-fold calibration supports the nap adaptation, not {adaptation.name}")
    params = NapParams(
        k=int(adaptation.meta["k"]),
        keep=float(adaptation.meta["keep"]),
        centre=float(adaptation.meta.get("centre", 0.0)),
    )
    people = np.array([im.person for im in d.images])
    groups = np.array([im.group.value for im in d.images])
    folds = fold_array(d.images, k=k_folds, seed=seed)
    fit = fixed_nap_fit(params, adaptation.embedder, adaptation.embedder_version)
    models = fold_models(d.plain, people, groups, folds, fit=fit)
    mapped = np.stack([apply_fold_models(models, v, folds) for v in views], axis=1)
    return mean_views(mapped), folds


def _group_figures(rates: Sequence[GroupRates]) -> dict[str, Any]:
    return {
        r.group: {
            "fmr": r.fmr,
            "fnmr": r.fnmr,
            "own_threshold": r.own_threshold,
            "impostor_comparisons": r.n_impostor,
            "genuine_comparisons": r.n_genuine,
            "people": r.people,
        }
        for r in rates
    }


def _points(
    scores: dict[str, PairScores], fmrs: Sequence[float]
) -> tuple[dict[str, OperatingPoint], dict[str, Any]]:
    """Strictest-group operating points of one comparison protocol, and its per-group figures."""
    points: dict[str, OperatingPoint] = {}
    per_group: dict[str, Any] = {}
    genuine = np.concatenate([s.genuine for s in scores.values()])
    impostor = np.concatenate([s.impostor for s in scores.values()])
    for fmr in fmrs:
        try:
            rates = rates_by_group(scores, target_fmr=fmr)
        except ValueError:
            continue
        thr = rates[0].threshold
        pooled_fmr, pooled_fnmr = error_rates(genuine, impostor, thr)
        points[fmr_key(fmr)] = OperatingPoint(
            fmr_target=fmr,
            threshold=thr,
            fmr_measured=pooled_fmr,
            fnmr_measured=pooled_fnmr,
            impostor_comparisons=len(impostor),
            genuine_comparisons=len(genuine),
        )
        per_group[fmr_key(fmr)] = _group_figures(rates)
    return points, per_group


def calibrate_by_group(
    templates: npt.NDArray[np.floating],
    people: Sequence[str],
    groups: Sequence[str],
    *,
    embedder: str,
    embedder_version: str,
    data: str,
    fmrs: Sequence[float] = (1e-2, 1e-3, 1e-4),
    folds: npt.ArrayLike | None = None,
    fused: dict[str, PairScores] | None = None,
    fused_frames: int = 0,
    extra: dict[str, Any] | None = None,
) -> Calibration:
    """Operating points whose threshold keeps every group at or below the target FMR.

    Targets that some group has too few impostor pairs to measure are left out
    (a threshold for 1e-4 from 5,000 pairs would be a guess). With `folds`, only pairs
    within a fold are compared. `fused` are the scores of the registration's comparison
    (an ID photo against `fused_frames` live frames averaged, `simkyc.eval.fusion`): they
    get operating points of their own (`fused_points`, per group in `per_group_fused`).
    """
    points, per_group = _points(all_pair_scores(templates, people, groups, folds=folds), fmrs)
    fused_points, per_group_fused = _points(fused, fmrs) if fused else ({}, {})
    return Calibration(
        embedder=embedder,
        embedder_version=embedder_version,
        points=points,
        data=data,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        extra={"threshold_rule": "strictest group (max of per-group thresholds)", "per_group": per_group}
        | ({"per_group_fused": per_group_fused} if fused else {})
        | (extra or {}),
        fused_points=fused_points,
        fused_frames=fused_frames if fused else 0,
    )
