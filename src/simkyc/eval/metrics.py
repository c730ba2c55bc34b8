"""Verification error rates from genuine and impostor scores (higher = more similar, match if >= threshold).

Failures to acquire a face are passed in as `-inf` scores, so they count as
non-matches on both sides: a genuine failure raises FNMR, which is the honest
reading of an enrolment that did not work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DetCurve", "OperatingPointResult", "det_curve", "eer", "fnmr_at_fmr", "rates_at"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class OperatingPointResult:
    """The threshold that keeps FMR at or below `fmr_target` on these impostors, and what it gives."""

    fmr_target: float
    threshold: float
    fmr: float
    fnmr: float
    n_genuine: int
    n_impostor: int
    reliable: bool  # at least 1/fmr_target impostor comparisons stand behind the figure


@dataclass(frozen=True, slots=True)
class DetCurve:
    thresholds: Floats
    fmr: Floats
    fnmr: Floats


def _f64(x: npt.ArrayLike) -> Floats:
    return np.asarray(x, dtype=np.float64).ravel()


def rates_at(genuine: npt.ArrayLike, impostor: npt.ArrayLike, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at `threshold`."""
    g, i = _f64(genuine), _f64(impostor)
    fmr = float((i >= threshold).mean()) if i.size else 0.0
    fnmr = float((g < threshold).mean()) if g.size else 0.0
    return fmr, fnmr


def fnmr_at_fmr(genuine: npt.ArrayLike, impostor: npt.ArrayLike, fmr_target: float) -> OperatingPointResult:
    """Lowest threshold whose FMR is <= `fmr_target`, with the FNMR it gives.

    With n impostors at most floor(fmr_target * n) of them may reach the threshold, so
    the threshold sits just above the (k+1)-th highest impostor score.
    """
    g, i = _f64(genuine), _f64(impostor)
    if i.size == 0:
        raise ValueError("no impostor scores")
    k = int(np.floor(fmr_target * i.size + 1e-9))
    top = np.sort(i)[::-1]
    threshold = float(top[-1]) if k >= i.size else float(np.nextafter(top[k], np.inf))
    fmr, fnmr = rates_at(g, i, threshold)
    return OperatingPointResult(
        fmr_target=fmr_target,
        threshold=threshold,
        fmr=fmr,
        fnmr=fnmr,
        n_genuine=int(g.size),
        n_impostor=int(i.size),
        reliable=bool(i.size * fmr_target >= 1.0),
    )


def det_curve(genuine: npt.ArrayLike, impostor: npt.ArrayLike, *, max_points: int = 2000) -> DetCurve:
    """FMR and FNMR at every distinct score (thinned to `max_points`), thresholds increasing."""
    g, i = np.sort(_f64(genuine)), np.sort(_f64(impostor))
    finite = np.concatenate([g[np.isfinite(g)], i[np.isfinite(i)]])
    thresholds = np.unique(finite)
    if thresholds.size > max_points:
        thresholds = np.unique(np.quantile(thresholds, np.linspace(0, 1, max_points)))
    fnmr = np.searchsorted(g, thresholds, side="left") / max(g.size, 1)
    fmr = 1.0 - np.searchsorted(i, thresholds, side="left") / max(i.size, 1)
    return DetCurve(thresholds=thresholds, fmr=fmr.astype(np.float64), fnmr=fnmr.astype(np.float64))


def eer(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> tuple[float, float]:
    """(equal error rate, threshold) where FMR and FNMR cross (mean of the two at the closest point)."""
    curve = det_curve(genuine, impostor, max_points=1_000_000)
    if curve.thresholds.size == 0:
        return 1.0, 0.0
    idx = int(np.argmin(np.abs(curve.fmr - curve.fnmr)))
    return float((curve.fmr[idx] + curve.fnmr[idx]) / 2), float(curve.thresholds[idx])
