"""Training the template adaptation (`simkyc.core.faces.adapt`) on labelled dev faces.

Two closed-form linear maps, each a second of numpy on a few thousand templates:

**NAP, nuisance attribute projection (the default, `fit_nap`).** The dlib
descriptor crowds East Asian faces together: their templates share a few
strong directions (the first principal directions of East Asian class means),
so two different East Asian people look alike and impostor scores run high.
NAP shrinks those `k` directions by a factor `keep` (0 removes them) after an
optional partial centring, for everyone alike (no group is inferred at run
time). Removing them entirely helps East Asian pairs but starts crowding the
others, so `k`, `keep` and `centre` are chosen by `select_nap` on inner
identity-disjoint folds, to minimise the worst group's FNMR at one shared
threshold (the strictest group's for FMR 1e-3): the operating condition of a
deployment that ships one threshold.

**WCCN + LDA (`fit_linear`).** Within-class whitening then the discriminant
directions of class means: the textbook choice, kept for comparison. On the
dev data it *hurts* on unseen people (the dlib space is already metric-learned;
whitening amplifies directions estimated from few people), so it is not the default.

Evaluation is always on identity-disjoint folds (`simkyc.eval.groups.fold_array`),
with the hyper-parameter selection nested inside the training folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.adapt import Adaptation

__all__ = [
    "CENTRE_GRID",
    "NAP_GRID",
    "NapParams",
    "fit_linear",
    "fit_nap",
    "select_nap",
    "train_adaptation",
    "worst_group_fnmr",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def _class_stats(x: F64, labels: npt.NDArray[Any]) -> tuple[F64, F64]:
    """(class means (C, D), equal-weight within-class covariance (D, D)) over classes with >= 2 samples."""
    classes, inverse = np.unique(labels, return_inverse=True)
    d = x.shape[1]
    means = np.zeros((len(classes), d))
    np.add.at(means, inverse, x)
    counts = np.bincount(inverse, minlength=len(classes)).astype(np.float64)
    means /= counts[:, None]
    resid = x - means[inverse]
    # weight each sample by 1 / (n_c - 1) so each class contributes one unbiased covariance
    w = np.where(counts[inverse] > 1, 1.0 / np.maximum(counts[inverse] - 1.0, 1.0), 0.0)
    n_classes = int(np.sum(counts > 1))
    if n_classes == 0:
        raise ValueError("need at least one person with two or more templates")
    sw = (resid * w[:, None]).T @ resid / n_classes
    return means, sw


def _inv_sqrt(m: F64) -> F64:
    vals, vecs = np.linalg.eigh((m + m.T) / 2.0)
    vals = np.maximum(vals, 1e-12)
    out: F64 = (vecs / np.sqrt(vals)) @ vecs.T
    return out


def fit_linear(
    templates: npt.ArrayLike,
    labels: Sequence[str] | npt.NDArray[Any],
    *,
    out_dim: int | None = None,
    shrinkage: float = 0.1,
    lda_weighting: bool = False,
) -> tuple[F32, F32]:
    """(mean (D,), matrix (D, out_dim)) of the WCCN + LDA map learned from `templates` and `labels`.

    :param shrinkage: in [0, 1]; 0 trusts the within-class covariance fully,
        1 ignores it (plain centring + PCA of class means).
    :param lda_weighting: scale each output direction by ``sqrt(l / (1 + l))`` where
        ``l`` is its between/within variance ratio (a PLDA-like down-weighting of
        directions that carry little identity); off keeps the directions equal.
    """
    x = np.asarray(templates, dtype=np.float64)
    lab = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(lab):
        raise ValueError("templates must be (N, D) with one label per row")
    if not 0.0 <= shrinkage <= 1.0:
        raise ValueError("shrinkage must be in [0, 1]")
    d = x.shape[1]
    k = d if out_dim is None else out_dim
    if not 1 <= k <= d:
        raise ValueError(f"out_dim must be in [1, {d}]")
    means, sw = _class_stats(x, lab)
    mu = means.mean(axis=0)
    sw = (1.0 - shrinkage) * sw + shrinkage * (np.trace(sw) / d) * np.eye(d)
    white = _inv_sqrt(sw)
    mw = (means - mu) @ white
    sb = mw.T @ mw / len(mw)
    vals, vecs = np.linalg.eigh((sb + sb.T) / 2.0)
    order = np.argsort(vals)[::-1][:k]
    proj = vecs[:, order]
    if lda_weighting:
        lam = np.maximum(vals[order], 0.0)
        proj = proj * np.sqrt(lam / (1.0 + lam))
    return mu.astype(np.float32), (white @ proj).astype(np.float32)


@dataclass(frozen=True, slots=True)
class NapParams:
    """Hyper-parameters of `fit_nap`: directions shrunk, factor kept, share of the group mean removed.

    ``k = 0`` shrinks nothing: the map is a pure shift by ``centre`` times the crowded group's
    mean class centroid (what the 112x112 embedders need: their East Asian impostors crowd
    along that centroid rather than a few extra directions; `simkyc eval accuracy`).
    """

    k: int = 2
    keep: float = 0.3
    centre: float = 0.0


NAP_GRID: tuple[NapParams, ...] = tuple(
    NapParams(k, keep, 0.0) for k in (1, 2, 3) for keep in (0.15, 0.3, 0.45)
)
"""The candidates `select_nap` chooses from (9; partial centring never won in exploratory runs)."""

CENTRE_GRID: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25)
"""Shares of the East Asian centroid a centring adaptation (``NapParams(k=0)``) may remove."""


def _class_means(x: F64, labels: npt.NDArray[Any]) -> F64:
    _, inverse = np.unique(labels, return_inverse=True)
    means = np.zeros((int(inverse.max()) + 1, x.shape[1]))
    np.add.at(means, inverse, x)
    out: F64 = means / np.bincount(inverse)[:, None]
    return out


def fit_nap(
    templates: npt.ArrayLike,
    labels: Sequence[str] | npt.NDArray[Any],
    groups: Sequence[str] | npt.NDArray[Any],
    params: NapParams,
    *,
    crowded: str = "east_asian",
) -> tuple[F32, F32]:
    """(mean, matrix) shrinking the top `params.k` directions of the `crowded` group's class means.

    ``matrix = I - (1 - keep) V V^T`` with V the top-k right singular vectors of the
    group's class means after removing ``centre`` times their average (``mean``).
    """
    x = np.asarray(templates, dtype=np.float64)
    lab = np.asarray(labels)
    grp = np.asarray(groups)
    sel = grp == crowded
    if not sel.any():
        raise ValueError(f"no templates of group {crowded!r} to learn from")
    means = _class_means(x[sel], lab[sel])
    mu = params.centre * means.mean(axis=0)
    if params.k == 0:  # a pure shift: no direction to find
        return mu.astype(np.float32), np.eye(x.shape[1], dtype=np.float32)
    _, _, vt = np.linalg.svd(means - mu, full_matrices=False)
    v = vt[: params.k].T
    matrix = np.eye(x.shape[1]) - (1.0 - params.keep) * (v @ v.T)
    return mu.astype(np.float32), matrix.astype(np.float32)


def worst_group_fnmr(
    x: npt.NDArray[np.floating],
    labels: npt.NDArray[Any],
    groups: npt.NDArray[Any],
    folds: npt.NDArray[np.int64],
    *,
    fmr: float = 1e-3,
) -> float:
    """The worst group's FNMR at the strictest group's threshold for `fmr` (pairs within folds)."""
    from simkyc.eval.bygroup import all_pair_scores, rates_by_group

    scores = all_pair_scores(x, labels.tolist(), groups.tolist(), folds=folds)
    return max(r.fnmr for r in rates_by_group(scores, target_fmr=fmr))


def select_nap(
    templates: npt.ArrayLike,
    labels: Sequence[str] | npt.NDArray[Any],
    groups: Sequence[str] | npt.NDArray[Any],
    folds: npt.ArrayLike,
    *,
    grid: Sequence[NapParams] = NAP_GRID,
    fmr: float = 1e-3,
) -> tuple[NapParams, dict[NapParams, float]]:
    """The grid point with the lowest worst-group FNMR, cross-validated over `folds` (people disjoint).

    With too few people to measure `fmr` in every fold, returns the default `NapParams()`
    (k=2, keep=0.3: the choice on the full dev set) and no results.
    """
    x = np.asarray(templates, dtype=np.float32)
    lab, grp = np.asarray(labels), np.asarray(groups)
    fld = np.asarray(folds, dtype=np.int64)
    results: dict[NapParams, float] = {}
    for params in grid:
        out = np.zeros_like(x)
        for f in np.unique(fld):
            test = fld == f
            mu, w = fit_nap(x[~test], lab[~test], grp[~test], params)
            y = (x[test] - mu) @ w
            out[test] = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        try:
            results[params] = worst_group_fnmr(out, lab, grp, fld, fmr=fmr)
        except ValueError:  # too few impostor pairs in some group to measure `fmr`
            return NapParams(), {}
    best = min(results, key=lambda p: (results[p], p.k, -p.keep))
    return best, results


def train_adaptation(
    templates: npt.ArrayLike,
    labels: Sequence[str] | npt.NDArray[Any],
    *,
    embedder: str,
    embedder_version: str,
    groups: Sequence[str] | npt.NDArray[Any] | None = None,
    nap: NapParams | None = None,
    out_dim: int | None = None,
    shrinkage: float = 0.1,
    lda_weighting: bool = False,
    meta: dict[str, Any] | None = None,
) -> Adaptation:
    """A versioned `Adaptation` for one embedder: NAP if `nap` is given (needs `groups`), else WCCN+LDA."""
    matrix: F32 | None
    if nap is not None:
        if groups is None:
            raise ValueError("NAP needs the group of every template")
        mean, matrix = fit_nap(templates, labels, groups, nap)
        params: dict[str, Any] = {"k": nap.k, "keep": nap.keep, "centre": nap.centre, "crowded": "east_asian"}
        if nap.k == 0:  # no direction shrunk: a pure shift by the crowded group's mean
            name, matrix = "centre", None
            method = (
                "removal of the East Asian class-mean centroid, scaled by centre (simkyc.eval.adapt_train)"
            )
        else:
            name = "nap"
            method = (
                "nuisance attribute projection of the East Asian crowding directions "
                "(simkyc.eval.adapt_train)"
            )
    else:
        mean, matrix = fit_linear(
            templates, labels, out_dim=out_dim, shrinkage=shrinkage, lda_weighting=lda_weighting
        )
        name = "wccn-lda"
        params = {"out_dim": matrix.shape[1], "shrinkage": shrinkage, "lda_weighting": lda_weighting}
        method = "within-class whitening + LDA (simkyc.eval.adapt_train)"
    return Adaptation(
        name=name,
        embedder=embedder,
        embedder_version=embedder_version,
        mean=mean,
        matrix=matrix,
        meta={"method": method, **params, **(meta or {})},
    )
