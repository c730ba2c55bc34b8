"""Comparing templates: cosine similarity of L2-normalised vectors, decided against a given threshold.

There is deliberately no default threshold here: it comes from the calibration
file for the embedder that made the templates (`simkyc.core.faces.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Template, Templates

__all__ = ["MatchResult", "match", "similarity"]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """A 1:1 comparison: score in [-1, 1], the threshold it was held to, and the decision."""

    score: float
    threshold: float
    is_match: bool


def similarity(gallery: Templates, probe: Template) -> npt.NDArray[np.float32]:
    """Cosine similarity of one probe against N templates, shape (N,). Empty gallery -> empty array."""
    if len(gallery) == 0:
        return np.empty(0, dtype=np.float32)
    return np.asarray(np.atleast_2d(gallery) @ probe, dtype=np.float32)


def match(probe: Template, reference: Template, *, threshold: float) -> MatchResult:
    """Same person when the cosine similarity reaches `threshold` (from a calibration operating point)."""
    score = float(np.dot(probe, reference))
    return MatchResult(score=score, threshold=threshold, is_match=score >= threshold)
