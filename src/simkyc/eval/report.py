"""The evaluation report: EER, FNMR at FMR 1e-2/1e-3/1e-4 with the comparisons behind each, per source.

Plain dicts (JSON-ready) so other reports (per group, fusion) can extend them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.calibration import fmr_key
from simkyc.eval.metrics import det_curve, eer, fnmr_at_fmr
from simkyc.eval.run import ScoredPairs

__all__ = ["FMR_POINTS", "plot_det", "rates_report", "scored_report"]

FMR_POINTS = (1e-2, 1e-3, 1e-4)


def rates_report(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, *, fmrs: Sequence[float] = FMR_POINTS
) -> dict[str, Any]:
    """EER and one entry per operating point; `reliable` is False when fewer than 1/FMR impostors exist."""
    g = np.asarray(genuine, np.float64)
    i = np.asarray(impostor, np.float64)
    out: dict[str, Any] = {"n_genuine": int(g.size), "n_impostor": int(i.size)}
    if g.size == 0 or i.size == 0:
        return out
    e, t = eer(g, i)
    out["eer"] = e
    out["eer_threshold"] = t
    points = {}
    for fmr in fmrs:
        r = fnmr_at_fmr(g, i, fmr)
        points[fmr_key(fmr)] = {
            "threshold": r.threshold,
            "fmr": r.fmr,
            "fnmr": r.fnmr,
            "impostor_comparisons": r.n_impostor,
            "genuine_comparisons": r.n_genuine,
            "reliable": r.reliable,
        }
    out["operating_points"] = points
    return out


def scored_report(scored: ScoredPairs, *, fmrs: Sequence[float] = FMR_POINTS) -> dict[str, Any]:
    """Overall figures, failure-to-acquire counts, and a breakdown per source."""
    genuine, impostor = scored.split()
    report = rates_report(genuine, impostor, fmrs=fmrs)
    report["failures_to_acquire"] = {
        "pairs": int(scored.failed.sum()),
        "genuine_pairs": int((scored.failed & scored.same).sum()),
        "impostor_pairs": int((scored.failed & ~scored.same).sum()),
        "counted_as": "non-match (score -inf)",
    }
    by_source: dict[str, Any] = {}
    for source in sorted(set(scored.sources)):
        g, i = scored.split(source)
        entry = rates_report(g, i, fmrs=fmrs)
        sel = np.asarray(scored.sources) == source
        entry["failures_to_acquire"] = int((scored.failed & sel).sum())
        by_source[source] = entry
    report["by_source"] = by_source
    return report


def _probit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    from statistics import NormalDist

    nd = NormalDist()
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.array([nd.inv_cdf(float(x)) for x in clipped], dtype=np.float64)


def plot_det(
    curves: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    path: Path,
    *,
    title: str = "DET",
    marks: Sequence[float] = FMR_POINTS,
) -> Path:
    """Draw DET curves (FNMR against FMR on normal-deviate axes) for several systems into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for label, (genuine, impostor) in curves.items():
        c = det_curve(genuine, impostor)
        keep = (c.fmr > 0) & (c.fnmr > 0)
        ax.plot(_probit(c.fmr[keep]), _probit(c.fnmr[keep]), label=label)
    ticks = [1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5]
    pos = _probit(np.array(ticks))
    ax.set_xticks(pos, [f"{t:g}" for t in ticks])
    ax.set_yticks(pos, [f"{t:g}" for t in ticks])
    ax.set_xlim(_probit(np.array([1e-5]))[0], _probit(np.array([0.5]))[0])
    ax.set_ylim(_probit(np.array([1e-4]))[0], _probit(np.array([0.5]))[0])
    for m in marks:
        ax.axvline(_probit(np.array([m]))[0], color="grey", lw=0.5, ls=":")
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title(title)
    ax.grid(True, lw=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
