"""The light sequence a challenge carries: drawn as specified, signed, carried by the token."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from simkyc.core.liveness import Action, new_challenge, verify_challenge
from simkyc.core.liveness.challenge import Challenge
from simkyc.core.liveness.light import (
    LightColour,
    LightStep,
    draw_light,
    expected_shift,
    light_starts,
)
from simkyc.errors import LivenessError, Reason

KEY = b"k" * 32


@pytest.mark.parametrize("seed", range(50))
def test_draw_light_shape(seed: int) -> None:
    steps = draw_light(random.Random(seed), n_colours=6)
    assert len(steps) == 8
    assert steps[0] == LightStep(LightColour.WHITE, 400) and steps[-1] == LightStep(LightColour.WHITE, 400)
    middle = steps[1:-1]
    assert all(s.colour is not LightColour.WHITE for s in middle)
    assert all(a.colour is not b.colour for a, b in itertools.pairwise(middle))
    assert len({s.colour for s in middle}) >= 4
    assert all(300 <= s.ms <= 450 and s.ms % 10 == 0 for s in middle)


def test_draw_light_refuses_silly_lengths() -> None:
    with pytest.raises(ValueError):
        draw_light(random.Random(0), n_colours=2)


def test_expected_shifts_point_where_the_light_pushes_the_skin() -> None:
    assert expected_shift(LightColour.WHITE) == (0.0, 0.0)
    assert expected_shift(LightColour.RED) == (1.0, 0.0)  # redder: log R/G up
    assert expected_shift(LightColour.BLUE) == (0.0, 1.0)  # bluer: log B/G up
    assert expected_shift(LightColour.GREEN) == (-1.0, -1.0)
    steps = (LightStep(LightColour.WHITE, 400), LightStep(LightColour.RED, 300))
    assert light_starts(steps).tolist() == pytest.approx([0.0, 0.4, 0.7])


def test_light_is_signed_and_travels_in_the_token() -> None:
    ch = new_challenge(KEY, now=1000.0, seed=3, light_colours=6)
    assert len(ch.light) == 8
    back = Challenge.from_token(ch.to_token())
    assert back == ch
    verify_challenge(back, KEY, now=1001.0)
    forged = replace(back, light=(LightStep(LightColour.WHITE, 400), *back.light[2:]))
    with pytest.raises(LivenessError) as exc:
        verify_challenge(forged, KEY, now=1001.0)
    assert exc.value.reason is Reason.CHALLENGE_INVALID
    stripped = replace(back, light=())
    with pytest.raises(LivenessError):
        verify_challenge(stripped, KEY, now=1001.0)


def test_waiver_is_signed_and_only_without_light() -> None:
    waived = new_challenge(KEY, now=1000.0, seed=3, light_waived=True)
    assert waived.light == () and waived.light_waived
    verify_challenge(Challenge.from_token(waived.to_token()), KEY, now=1000.5)
    with pytest.raises(LivenessError):
        verify_challenge(replace(waived, light_waived=False), KEY, now=1000.5)
    both = new_challenge(KEY, now=1000.0, seed=3, light_colours=6, light_waived=True)
    assert both.light and not both.light_waived


def test_light_leaves_the_seeded_actions_alone() -> None:
    """Tests pin a challenge by seed (17: turn right then turn left); drawing light comes after."""
    plain = new_challenge(KEY, now=0.0, seed=17)
    lit = new_challenge(KEY, now=0.0, seed=17, light_colours=6)
    assert plain.actions == lit.actions == (Action.TURN_RIGHT, Action.TURN_LEFT)
    assert plain.nonce == lit.nonce
    assert lit.light == new_challenge(b"x" * 32, now=99.0, seed=17, light_colours=6).light


def test_old_tokens_without_light_still_parse() -> None:
    ch = new_challenge(KEY, now=1000.0, seed=1)
    assert b"light" not in ch.message()  # the MAC of a challenge without light is what it always was
    back = Challenge.from_token(ch.to_token())
    assert back.light == () and not back.light_waived
    verify_challenge(back, KEY, now=1000.0)
