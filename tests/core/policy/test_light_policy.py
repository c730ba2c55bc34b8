"""The light challenge in the policy: the switch, its size, and what its reasons decide."""

from __future__ import annotations

import pytest

from simkyc.core.policy import Evidence, Outcome, Policy, Thresholds, decide
from simkyc.errors import InputError, Reason

TH = Thresholds(accept=0.9, review=0.8, duplicate=0.95)


def _policy(**liveness: object) -> Policy:
    return Policy.from_dict({"version": "t", "liveness": liveness})


def test_light_is_off_unless_the_policy_turns_it_on() -> None:
    assert not _policy().light_challenge
    on = _policy(light=True, light_colours=8)
    assert on.light_challenge and on.light_colours == 8


@pytest.mark.parametrize(
    "bad", [{"light": "false"}, {"light": 1}, {"light_colours": 3}, {"light_colours": 13}]
)
def test_malformed_light_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InputError):
        _policy(**bad)


def _passed(*reasons: Reason, score: float = 0.95) -> Evidence:
    return Evidence(liveness_passed=True, liveness_reasons=reasons, match_score=score)


def test_a_waived_light_challenge_goes_to_a_supervisor() -> None:
    d = decide(_policy(light=True), _passed(Reason.LIGHT_CHALLENGE_WAIVED), thresholds=TH)
    assert d.outcome is Outcome.REVIEW and d.reasons == (Reason.LIGHT_CHALLENGE_WAIVED,)
    d = decide(_policy(light=True), _passed(), thresholds=TH)
    assert d.outcome is Outcome.APPROVED
    # a mismatch is still a mismatch
    d = decide(_policy(light=True), _passed(Reason.LIGHT_CHALLENGE_WAIVED, score=0.5), thresholds=TH)
    assert d.outcome is Outcome.REJECTED


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        (Reason.SPOOF_NO_LIGHT_RESPONSE, Outcome.REJECTED),
        (Reason.STREAM_DISCONTINUITY, Outcome.REJECTED),
        (Reason.SPOOF_SCREEN, Outcome.REJECTED),
        (Reason.LIGHT_CHALLENGE_INCOMPLETE, Outcome.RETRY),  # the capture, not the customer
    ],
)
def test_light_and_continuity_reasons_decide(reason: Reason, outcome: Outcome) -> None:
    ev = Evidence(liveness_passed=False, liveness_reasons=(reason,))
    assert decide(_policy(light=True), ev, thresholds=TH).outcome is outcome
