"""Measuring multi-frame fusion: one ID photo against K live frames, K = 1, 3, 5.

Protocol (on people with at least ``max(K) + 1`` images): a *trial* draws one
image as the ID photo and ``max(K)`` others as the live frames, in a fixed
random order, so K = 1 uses the first frame, K = 3 the first three, and the
comparison across K is paired. Genuine comparisons: each trial's frames against
its own reference. Impostor comparisons: each trial's frames against every other
person's references in the same group (and fold, when given), which gives
hundreds of thousands of impostor scores from a few thousand trials.

Where a person has images marked as ID-like (NUAA's hand-held printed photos),
the reference is drawn from those and the frames from the live ones, the closest
the dev data comes to an ID photo against a live capture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from simkyc.eval.bygroup import PairScores

__all__ = ["FusionRule", "Trial", "draw_trials", "fusion_scores"]

FusionRule = Literal["template", "mean", "max"]


@dataclass(frozen=True, slots=True)
class Trial:
    """One simulated registration: indices of the reference image and of the live frames."""

    person: str
    group: str
    fold: int
    reference: int
    frames: tuple[int, ...]


def draw_trials(
    people: Sequence[str],
    groups: Sequence[str],
    *,
    max_k: int,
    per_person: int,
    seed: int = 0,
    folds: npt.ArrayLike | None = None,
    id_like: npt.ArrayLike | None = None,
) -> list[Trial]:
    """`per_person` trials for each person with enough images (seeded, reproducible).

    :param id_like: boolean per image; when a person has both ID-like and other
        images, references come from the ID-like ones and frames from the others.
    """
    rng = np.random.default_rng(seed)
    ppl = np.asarray(people)
    grp = np.asarray(groups)
    fld = np.zeros(len(ppl), np.int64) if folds is None else np.asarray(folds, np.int64)
    idl = np.zeros(len(ppl), bool) if id_like is None else np.asarray(id_like, bool)
    trials: list[Trial] = []
    for person in sorted(set(ppl.tolist())):
        idx = np.flatnonzero(ppl == person)
        refs, lives = idx[idl[idx]], idx[~idl[idx]]
        if len(refs) == 0 or len(lives) == 0:
            refs, lives = idx, idx
        if len(lives) < max_k + (1 if refs is lives else 0):
            continue
        for _ in range(per_person):
            ref = int(rng.choice(refs))
            pool = lives[lives != ref]
            frames = tuple(int(v) for v in rng.choice(pool, size=max_k, replace=False))
            trials.append(Trial(person, str(grp[ref]), int(fld[ref]), ref, frames))
    return trials


def fusion_scores(
    templates: npt.NDArray[np.floating], trials: Sequence[Trial], *, k: int, rule: FusionRule
) -> dict[str, PairScores]:
    """Genuine and impostor scores per group with the first `k` frames of each trial fused by `rule`."""
    x = np.asarray(templates, dtype=np.float32)
    out: dict[str, PairScores] = {}
    for group in sorted({t.group for t in trials}):
        gen: list[npt.NDArray[np.float64]] = []
        imp: list[npt.NDArray[np.float64]] = []
        chosen = [t for t in trials if t.group == group]
        for fold in sorted({t.fold for t in chosen}):
            ts = [t for t in chosen if t.fold == fold]
            refs = x[[t.reference for t in ts]]  # (T, D)
            frames = x[np.array([t.frames[:k] for t in ts])]  # (T, k, D)
            if rule == "template":
                probe = frames.mean(axis=1)
                probe /= np.maximum(np.linalg.norm(probe, axis=1, keepdims=True), 1e-12)
                s = probe @ refs.T
            else:
                per_frame = np.einsum("tkd,ud->tku", frames, refs)
                s = per_frame.max(axis=1) if rule == "max" else per_frame.mean(axis=1)
            person = np.array([t.person for t in ts])
            same = person[:, None] == person[None, :]
            gen.append(np.diag(s).astype(np.float64))
            imp.append(s[~same].astype(np.float64))
        out[group] = PairScores(
            group=group,
            genuine=np.concatenate(gen),
            impostor=np.concatenate(imp),
            people=len({t.person for t in chosen}),
        )
    return out
