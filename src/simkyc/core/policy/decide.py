"""The decision: evidence in, APPROVED / REJECTED / REVIEW / RETRY with reason codes out (pure).

Precedence, first match wins:

1. rule refusals (blocklist, quota, nationwide cap, too frequent, document, consent) -> REJECTED;
2. a failed liveness check: spoof-type reasons -> REJECTED; capture problems (an action not
   seen, timeout, face lost, the light sequence not captured through) -> RETRY while attempts
   remain, then REJECTED;
3. quality findings on the chosen live frames -> RETRY (same attempt rule);
4. the 1:1 score: below the review threshold -> REJECTED FACE_MISMATCH; in the band between the
   review and accept thresholds -> REVIEW (REVIEW_BAND);
5. the same face registered under another ID -> REVIEW (DUPLICATE_FACE_OTHER_ID, never an
   automatic rejection); a passed liveness check whose light challenge was waived for a
   flash-sensitive customer -> REVIEW (LIGHT_CHALLENGE_WAIVED: a supervisor confirms);
6. otherwise APPROVED (FACE_MATCH).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from simkyc.core.policy.policy import Policy
from simkyc.errors import Reason

__all__ = [
    "Decision",
    "Evidence",
    "Holdings",
    "Outcome",
    "Thresholds",
    "decide",
    "precheck",
]

# Liveness reasons that mean an attack or an unusable session, not a clumsy capture.
_HARD_LIVENESS = frozenset(
    {
        Reason.SPOOF_PLANAR_MOTION,
        Reason.SPOOF_SCREEN,
        Reason.SPOOF_PRINT,
        Reason.SPOOF_NO_LIGHT_RESPONSE,
        Reason.STALE_OR_REPLAYED_FRAMES,
        Reason.STREAM_DISCONTINUITY,
        Reason.FACE_CHANGED,
        Reason.CHALLENGE_INVALID,
        Reason.MULTIPLE_FACES,
    }
)


class Outcome(StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    REVIEW = "REVIEW"
    RETRY = "RETRY"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Numeric thresholds resolved from the policy's operating points by the calibration."""

    accept: float
    review: float
    duplicate: float

    def as_dict(self) -> dict[str, float]:
        return {"accept": self.accept, "review": self.review, "duplicate": self.duplicate}


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the ID already holds, read under the identity lock."""

    active_with_operator: int = 0
    active_nationwide: int = 0
    last_new_with_operator: datetime | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything measured about one capture. `match_score` None = no comparison was possible."""

    liveness_passed: bool
    liveness_reasons: tuple[Reason, ...] = ()
    quality_findings: tuple[Reason, ...] = ()
    match_score: float | None = None
    duplicate_other_ids: int = 0
    document_reasons: tuple[Reason, ...] = ()
    consent: bool = True
    attempt: int = 1  # 1-based number of this capture on the registration


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    policy_version: str
    scores: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.APPROVED


def precheck(
    policy: Policy, *, id_number: str, phone: str, holdings: Holdings, now: datetime, kind: str = "new"
) -> tuple[Reason, ...]:
    """Rule refusals that need no face: blocklists, quotas, the new-number window."""
    reasons: list[Reason] = []
    if policy.blocklists.hits(id_number=id_number, phone=phone):
        reasons.append(Reason.BLOCKLISTED)
    if kind == "new":
        if holdings.active_with_operator >= policy.quota_per_operator:
            reasons.append(Reason.QUOTA_EXCEEDED)
        if policy.nationwide_cap is not None and holdings.active_nationwide >= policy.nationwide_cap:
            reasons.append(Reason.NATIONWIDE_QUOTA_EXCEEDED)
        window = timedelta(hours=policy.new_number_window_hours)
        last = holdings.last_new_with_operator
        if window > timedelta(0) and last is not None and now - last < window:
            reasons.append(Reason.TOO_FREQUENT)
    return tuple(reasons)


def _retry_or_reject(policy: Policy, attempt: int) -> Outcome:
    return Outcome.RETRY if attempt < policy.max_attempts else Outcome.REJECTED


def decide(
    policy: Policy,
    evidence: Evidence,
    *,
    thresholds: Thresholds,
    rule_reasons: tuple[Reason, ...] = (),
) -> Decision:
    """Combine rule refusals (from `precheck`) and capture evidence into one decision."""
    scores = {} if evidence.match_score is None else {"match": float(evidence.match_score)}

    def out(outcome: Outcome, *reasons: Reason) -> Decision:
        return Decision(outcome, tuple(dict.fromkeys(reasons)), policy.version, scores, thresholds.as_dict())

    hard = [*rule_reasons, *evidence.document_reasons]
    if not evidence.consent:
        hard.append(Reason.CONSENT_MISSING)
    if hard:
        return out(Outcome.REJECTED, *hard)
    if not evidence.liveness_passed:
        reasons = evidence.liveness_reasons or (Reason.LIVENESS_ACTION_MISSING,)
        if any(r in _HARD_LIVENESS for r in reasons):
            return out(Outcome.REJECTED, *reasons)
        return out(_retry_or_reject(policy, evidence.attempt), *reasons)
    if evidence.quality_findings or evidence.match_score is None:
        findings = evidence.quality_findings or (Reason.NO_FACE,)
        return out(_retry_or_reject(policy, evidence.attempt), *findings, Reason.LOW_QUALITY)
    score = evidence.match_score
    if score < thresholds.review:
        return out(Outcome.REJECTED, Reason.FACE_MISMATCH)
    reasons_review: list[Reason] = []
    if score < thresholds.accept:
        reasons_review.append(Reason.REVIEW_BAND)
    if evidence.duplicate_other_ids > 0:
        reasons_review.append(Reason.DUPLICATE_FACE_OTHER_ID)
    if Reason.LIGHT_CHALLENGE_WAIVED in evidence.liveness_reasons:
        reasons_review.append(Reason.LIGHT_CHALLENGE_WAIVED)
    if reasons_review:
        return out(Outcome.REVIEW, *reasons_review)
    return out(Outcome.APPROVED, Reason.FACE_MATCH)
