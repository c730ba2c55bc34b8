"""Combining several live frames (and augmented views) into one decision score.

A liveness session yields several good frames of the customer; one frame's
blink, blur or odd angle should not decide the match. Two ways to combine K
frames against one ID photo:

- **template averaging**: average the K L2-normalised templates, renormalise,
  score once (`fuse_templates`); also how test-time augmentation combines the
  flipped/jittered views of one chip;
- **score fusion**: score each frame, then combine the K scores (`fuse_scores`,
  mean or max). ``max`` is what a naive "any frame matches" rule does, and it
  raises the false-match rate with K, so the shell must calibrate for it or not
  use it; `simkyc.eval.fusion` measures all three.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Template, Templates

__all__ = ["ScoreRule", "fuse_scores", "fuse_templates", "fused_score"]

ScoreRule = Literal["mean", "max"]


def fuse_templates(templates: Templates) -> Template:
    """The L2-normalised mean of (K, D) L2-normalised templates. K = 0 raises ValueError."""
    x = np.asarray(templates, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError("need at least one template, shape (K, D)")
    m = x.mean(axis=0)
    out: Template = (m / max(float(np.linalg.norm(m)), 1e-12)).astype(np.float32)
    return out


def fuse_scores(scores: npt.ArrayLike, rule: ScoreRule = "mean") -> float:
    """Combine K similarity scores into one ('mean' or 'max'). K = 0 raises ValueError."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise ValueError("need at least one score")
    return float(s.max() if rule == "max" else s.mean())


def fused_score(
    reference: Template, frames: Templates, *, how: Literal["template", "mean", "max"] = "template"
) -> float:
    """One score for K live-frame templates against a reference template.

    ``how="template"`` averages templates first (the recommended default: it equals
    score-mean up to the norm of the average, and does not inflate FMR with K).
    """
    f = np.asarray(frames, dtype=np.float32)
    ref = np.asarray(reference, dtype=np.float32)
    if how == "template":
        return float(fuse_templates(f) @ ref)
    return fuse_scores(f @ ref, how)
