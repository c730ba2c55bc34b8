"""Duplicate-face search: the same face already registered under another identity.

A hit never rejects anyone by itself: the registration service sends the case to
REVIEW with `DUPLICATE_FACE_OTHER_ID` and shows these candidates to a supervisor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simkyc.errors import InputError, Reason
from simkyc.search._types import TemplateIndex

__all__ = ["DuplicateCandidate", "find_duplicates"]

_MAX_FETCH = 4096


@dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    """Another identity whose best-matching template scores at or above the duplicate threshold."""

    identity_key: str
    template_id: str
    score: float


def find_duplicates(
    index: TemplateIndex,
    template: npt.NDArray[np.float32],
    *,
    threshold: float,
    identity_key: str,
    k: int = 5,
) -> list[DuplicateCandidate]:
    """Up to `k` other identities whose templates score >= `threshold` against `template`, best first.

    Templates of `identity_key` itself (the customer's own earlier registrations) are
    skipped. One candidate per identity (its best template). The search widens until
    `k` candidates are found or the scores fall below the threshold, so a crowd of the
    customer's own templates cannot hide another identity.

    :param threshold: cosine score; from the calibration at a 1:N operating point (no default).
    """
    if k <= 0:
        raise InputError(Reason.INVALID_REQUEST, "k must be positive")
    fetch = k + 8
    while True:
        hits = index.search(template, fetch)
        best: dict[str, DuplicateCandidate] = {}
        for hit in hits:
            if hit.score < threshold:
                break
            if hit.identity_key != identity_key and hit.identity_key not in best:
                best[hit.identity_key] = DuplicateCandidate(hit.identity_key, hit.key, hit.score)
        exhausted = len(hits) < fetch or hits[-1].score < threshold
        if len(best) >= k or exhausted or fetch >= _MAX_FETCH:
            return sorted(best.values(), key=lambda c: -c.score)[:k]
        fetch = min(fetch * 4, _MAX_FETCH)
