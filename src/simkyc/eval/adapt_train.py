"""Training the template adaptation (`simkyc.core.faces.adapt`) on labelled dev faces.

Closed form, no iterations, a second of numpy for a few thousand templates:

1. **Centre** on the mean of the class means (each person counts once, so a
   webcam subject with 50 near-identical frames does not pull the centre).
2. **Within-class whitening** (WCCN): ``Sw^-1/2``, where ``Sw`` is the average
   per-person covariance, shrunk towards a scaled identity so directions seen in
   few people are not blown up. Directions in which one person's photos vary
   (lighting, pose, age) are shrunk; the rest is stretched.
3. **Discriminant projection** (LDA): the top `out_dim` principal directions of
   the whitened class means, i.e. those in which people differ most relative to
   how much one person varies. ``out_dim = in_dim`` keeps every direction (pure
   WCCN up to a rotation, which cosine similarity ignores).

Why linear: it cannot overfit much with ~1,800 people and 128 dimensions, it is
auditable (one matrix in a JSON file) and it keeps cosine scoring, 1:N indexes
and template sizes as they are. Evaluation is always on identity-disjoint folds
(`simkyc.eval.groups.fold_array`) so no person is both trained on and scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.adapt import Adaptation

__all__ = ["fit_linear", "train_adaptation"]

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


def train_adaptation(
    templates: npt.ArrayLike,
    labels: Sequence[str] | npt.NDArray[Any],
    *,
    embedder: str,
    embedder_version: str,
    out_dim: int | None = None,
    shrinkage: float = 0.1,
    lda_weighting: bool = False,
    meta: dict[str, Any] | None = None,
) -> Adaptation:
    """`fit_linear` wrapped as a versioned `Adaptation` bound to one embedder."""
    mean, matrix = fit_linear(
        templates, labels, out_dim=out_dim, shrinkage=shrinkage, lda_weighting=lda_weighting
    )
    params = {"out_dim": matrix.shape[1], "shrinkage": shrinkage, "lda_weighting": lda_weighting}
    return Adaptation(
        name="wccn-lda",
        embedder=embedder,
        embedder_version=embedder_version,
        mean=mean,
        matrix=matrix,
        meta={"method": "within-class whitening + LDA (simkyc.eval.adapt_train)", **params, **(meta or {})},
    )
