"""Error rates per population group at one global threshold, from all pairs.

Every cross-person pair inside a group is an impostor comparison (so an FMR of
1e-4 rests on hundreds of thousands of pairs, not on the few hundred impostor
rows of `pairs.csv`), every same-person pair a genuine one. Pairs never cross
groups (NIST FRVT part 3 reports same-demographic impostors, the hard case) and,
when folds are given, never cross folds, so a transform trained on the other
folds is only scored on people it has never seen.

A score is a match when ``score >= threshold`` (cosine similarity, higher is
more similar), the convention of `simkyc.core.faces.match`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "GroupRates",
    "PairScores",
    "all_pair_scores",
    "error_rates",
    "rates_by_group",
    "strictest_threshold",
    "threshold_at_fmr",
]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PairScores:
    """Genuine and impostor scores of one group (and how many people they come from)."""

    group: str
    genuine: Floats
    impostor: Floats
    people: int


@dataclass(frozen=True, slots=True)
class GroupRates:
    """One group's error rates at a global threshold, and what it would need for itself."""

    group: str
    target_fmr: float
    threshold: float  # the global threshold applied
    fmr: float  # at the global threshold
    fnmr: float  # at the global threshold
    own_threshold: float  # this group's threshold for `target_fmr`
    own_fnmr: float  # FNMR at its own threshold
    n_genuine: int
    n_impostor: int
    people: int


def threshold_at_fmr(impostor: npt.ArrayLike, fmr: float) -> float:
    """The lowest threshold whose false-match rate on `impostor` is at most `fmr`.

    Raises ValueError when there are too few impostor scores to measure `fmr`
    (fewer than ``1 / fmr``): a threshold claimed for 1e-4 from 5,000 pairs is a guess.
    """
    scores = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    n = len(scores)
    if n == 0 or n * fmr < 1.0:
        raise ValueError(f"{n} impostor scores cannot measure an FMR of {fmr:g}")
    allowed = int(np.floor(fmr * n + 1e-9))  # impostors that may score at or above the threshold
    if allowed >= n:
        return float(scores[-1])
    return float(np.nextafter(scores[allowed], np.inf))


def error_rates(genuine: npt.ArrayLike, impostor: npt.ArrayLike, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at `threshold`; NaN for an empty side."""
    g = np.asarray(genuine, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    fmr = float(np.mean(i >= threshold)) if len(i) else float("nan")
    fnmr = float(np.mean(g < threshold)) if len(g) else float("nan")
    return fmr, fnmr


def all_pair_scores(
    templates: npt.NDArray[np.floating],
    people: Sequence[str],
    groups: Sequence[str],
    *,
    folds: npt.ArrayLike | None = None,
) -> dict[str, PairScores]:
    """Cosine scores of all unordered pairs within each group (and within each fold if given).

    `templates` are L2-normalised rows. Memory is O(n^2) per group and fold,
    fine for the few thousand dev images.
    """
    x = np.asarray(templates, dtype=np.float32)
    ppl = np.asarray(people)
    grp = np.asarray(groups)
    fld = np.zeros(len(x), dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    out: dict[str, PairScores] = {}
    for group in sorted(set(grp.tolist())):
        gen: list[Floats] = []
        imp: list[Floats] = []
        for fold in sorted(set(fld[grp == group].tolist())):
            idx = np.flatnonzero((grp == group) & (fld == fold))
            if len(idx) < 2:
                continue
            sims = x[idx] @ x[idx].T
            iu, ju = np.triu_indices(len(idx), k=1)
            same = ppl[idx][iu] == ppl[idx][ju]
            s = sims[iu, ju].astype(np.float64)
            gen.append(s[same])
            imp.append(s[~same])
        out[group] = PairScores(
            group=group,
            genuine=np.concatenate(gen) if gen else np.empty(0),
            impostor=np.concatenate(imp) if imp else np.empty(0),
            people=len(set(ppl[grp == group].tolist())),
        )
    return out


def strictest_threshold(scores: dict[str, PairScores], fmr: float) -> float:
    """The threshold that keeps *every* group at or below `fmr` (the max of the groups' own)."""
    return max(threshold_at_fmr(ps.impostor, fmr) for ps in scores.values())


def rates_by_group(
    scores: dict[str, PairScores], *, target_fmr: float, threshold: float | None = None
) -> list[GroupRates]:
    """Per-group FMR/FNMR at one threshold (default: the strictest group's for `target_fmr`)."""
    thr = strictest_threshold(scores, target_fmr) if threshold is None else threshold
    out: list[GroupRates] = []
    for group, ps in scores.items():
        fmr, fnmr = error_rates(ps.genuine, ps.impostor, thr)
        own = threshold_at_fmr(ps.impostor, target_fmr)
        out.append(
            GroupRates(
                group=group,
                target_fmr=target_fmr,
                threshold=thr,
                fmr=fmr,
                fnmr=fnmr,
                own_threshold=own,
                own_fnmr=error_rates(ps.genuine, ps.impostor, own)[1],
                n_genuine=len(ps.genuine),
                n_impostor=len(ps.impostor),
                people=ps.people,
            )
        )
    return out
