"""Challenges: random distinct actions, a 128-bit nonce, a deadline, all under an HMAC."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simkyc.core.liveness import Action, Challenge, new_challenge, verify_challenge
from simkyc.errors import LivenessError, Reason

KEY = b"k" * 32


def test_new_challenge_draws_distinct_actions_and_a_128_bit_nonce() -> None:
    for n in (2, 3):
        ch = new_challenge(KEY, now=1000.0, n_actions=n)
        assert len(ch.actions) == n == len(set(ch.actions))
        assert len(bytes.fromhex(ch.nonce)) == 16
        assert ch.deadline > ch.issued_at == 1000.0
        assert verify_challenge(ch, KEY, now=1001.0) is ch


def test_draws_differ_between_calls() -> None:
    nonces = {new_challenge(KEY, now=0.0).nonce for _ in range(20)}
    orders = {new_challenge(KEY, now=0.0, n_actions=3).actions for _ in range(40)}
    assert len(nonces) == 20
    assert len(orders) > 5


def test_seed_makes_the_draw_reproducible() -> None:
    assert new_challenge(KEY, now=0.0, seed=7) == new_challenge(KEY, now=0.0, seed=7)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_only_two_or_three_actions(n: int) -> None:
    with pytest.raises(ValueError):
        new_challenge(KEY, now=0.0, n_actions=n)


def test_altered_challenge_is_refused() -> None:
    ch = new_challenge(KEY, now=0.0, n_actions=2)
    swapped = replace(ch, actions=tuple(reversed(ch.actions)))
    later = replace(ch, deadline=ch.deadline + 600)
    for bad in (swapped, later, replace(ch, mac=""), replace(ch, nonce="00" * 16)):
        with pytest.raises(LivenessError) as info:
            verify_challenge(bad, KEY)
        assert info.value.reason is Reason.CHALLENGE_INVALID


def test_other_key_is_refused() -> None:
    ch = new_challenge(KEY, now=0.0)
    with pytest.raises(LivenessError) as info:
        verify_challenge(ch, b"x" * 32)
    assert info.value.reason is Reason.CHALLENGE_INVALID


def test_expired_challenge_is_refused() -> None:
    ch = new_challenge(KEY, now=0.0, ttl_s=10)
    verify_challenge(ch, KEY, now=9.9)
    with pytest.raises(LivenessError) as info:
        verify_challenge(ch, KEY, now=10.5)
    assert info.value.reason is Reason.LIVENESS_TIMEOUT


def test_token_round_trip_keeps_the_mac_valid() -> None:
    ch = new_challenge(KEY, now=1_700_000_000.123456, n_actions=3)
    back = Challenge.from_token(ch.to_token())
    assert back == ch
    assert back.challenge_id == ch.nonce
    verify_challenge(back, KEY)


def test_malformed_token() -> None:
    with pytest.raises(LivenessError) as info:
        Challenge.from_token("not-a-token")
    assert info.value.reason is Reason.CHALLENGE_INVALID


def test_short_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        new_challenge(b"short", now=0.0)


def test_actions_are_the_four_agreed_names() -> None:
    assert {a.value for a in Action} == {"blink", "turn_left", "turn_right", "nod"}
