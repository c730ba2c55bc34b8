from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import simkyc
from simkyc.core.policy import Evidence, Holdings, Outcome, Policy, Thresholds, decide, precheck
from simkyc.errors import InputError, Reason

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TH = Thresholds(accept=0.9, review=0.8, duplicate=0.95)
SHIPPED = Path(simkyc.__file__).parent / "data" / "policy.toml"


def make_policy(**kw: object) -> Policy:
    return Policy.from_dict({"version": "t1", **kw})


def good(**kw: object) -> Evidence:
    base: dict[str, object] = {"liveness_passed": True, "match_score": 0.95}
    return Evidence(**(base | kw))  # type: ignore[arg-type]


def test_shipped_policy_parses_with_documented_defaults() -> None:
    p = Policy.from_toml(SHIPPED.read_text())
    assert p.quota_per_operator == 5 and p.nationwide_cap is None and p.version


def test_unknown_key_and_short_audit_retention_are_refused() -> None:
    with pytest.raises(InputError):
        Policy.from_toml('version = "x"\n[quota]\nper_operater = 3\n')
    with pytest.raises(InputError):
        Policy.from_toml('version = "x"\n[retention]\naudit_days = 30\n')


@pytest.mark.parametrize(
    ("held", "outcome"), [(4, Outcome.APPROVED), (5, Outcome.REJECTED), (7, Outcome.REJECTED)]
)
def test_quota_per_operator(held: int, outcome: Outcome) -> None:
    p = make_policy(quota={"per_operator": 5, "new_number_window_hours": 0})
    rules = precheck(p, id_number="X", phone="138", holdings=Holdings(active_with_operator=held), now=NOW)
    d = decide(p, good(), thresholds=TH, rule_reasons=rules)
    assert d.outcome is outcome
    assert (Reason.QUOTA_EXCEEDED in d.reasons) == (outcome is Outcome.REJECTED)
    assert d.policy_version == "t1"


def test_nationwide_cap_window_and_blocklists() -> None:
    p = make_policy(
        quota={"nationwide_cap": 6, "new_number_window_hours": 24},
        blocklists={"id_region_prefixes": ["6501"], "phone_prefixes": ["170"]},
    )
    h = Holdings(active_with_operator=1, active_nationwide=6, last_new_with_operator=NOW - timedelta(hours=2))
    r = precheck(p, id_number="650102199001011234", phone="17012345678", holdings=h, now=NOW)
    assert set(r) == {Reason.NATIONWIDE_QUOTA_EXCEEDED, Reason.TOO_FREQUENT, Reason.BLOCKLISTED}
    later = Holdings(
        active_with_operator=1, active_nationwide=1, last_new_with_operator=NOW - timedelta(hours=25)
    )
    assert precheck(p, id_number="110101199003078515", phone="13800000000", holdings=later, now=NOW) == ()
    # re-verifying an existing number is not a new number: quotas do not apply
    assert (
        precheck(p, id_number="110101199003078515", phone="138", holdings=h, now=NOW, kind="reverify") == ()
    )


@pytest.mark.parametrize(
    ("score", "outcome", "reason"),
    [
        (0.95, Outcome.APPROVED, Reason.FACE_MATCH),
        (0.85, Outcome.REVIEW, Reason.REVIEW_BAND),
        (0.70, Outcome.REJECTED, Reason.FACE_MISMATCH),
    ],
)
def test_score_bands(score: float, outcome: Outcome, reason: Reason) -> None:
    d = decide(make_policy(), good(match_score=score), thresholds=TH)
    assert (d.outcome, d.reasons) == (outcome, (reason,))
    assert d.scores == {"match": score} and d.thresholds["accept"] == 0.9


def test_duplicate_face_is_always_review_never_rejection() -> None:
    d = decide(make_policy(), good(duplicate_other_ids=2), thresholds=TH)
    assert d.outcome is Outcome.REVIEW and d.reasons == (Reason.DUPLICATE_FACE_OTHER_ID,)


def test_liveness_spoof_rejects_but_clumsy_capture_retries_until_attempts_run_out() -> None:
    p = make_policy(registration={"max_attempts": 2})
    spoof = decide(p, good(liveness_passed=False, liveness_reasons=(Reason.SPOOF_SCREEN,)), thresholds=TH)
    assert spoof.outcome is Outcome.REJECTED
    miss = good(liveness_passed=False, liveness_reasons=(Reason.LIVENESS_ACTION_MISSING,))
    assert decide(p, miss, thresholds=TH).outcome is Outcome.RETRY
    last = good(liveness_passed=False, liveness_reasons=(Reason.LIVENESS_ACTION_MISSING,), attempt=2)
    assert decide(p, last, thresholds=TH).outcome is Outcome.REJECTED


def test_low_quality_retries_and_rules_win_over_everything() -> None:
    d = decide(make_policy(), good(quality_findings=(Reason.BLURRY,)), thresholds=TH)
    assert d.outcome is Outcome.RETRY and Reason.BLURRY in d.reasons
    d = decide(make_policy(), good(consent=False), thresholds=TH)
    assert d.outcome is Outcome.REJECTED and d.reasons == (Reason.CONSENT_MISSING,)
    d = decide(make_policy(), good(document_reasons=(Reason.ID_EXPIRED,)), thresholds=TH)
    assert d.outcome is Outcome.REJECTED and d.reasons == (Reason.ID_EXPIRED,)
