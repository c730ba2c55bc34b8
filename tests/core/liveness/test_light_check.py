"""The light check on constructed measurements: what it passes, what it refuses and why.

Samples are built from a known schedule: the skin's chromaticity moves by `gain` times each colour's
expected shift, `lag` seconds after the colour is stamped, plus noise and a slow drift (a head
turning in and out of shadow); the ring around the head moves by `ring` times as much.
"""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from simkyc.core.liveness.light import LightStep, draw_light, expected_shift, light_starts
from simkyc.core.liveness.light_check import (
    FACE_OVAL,
    LightConfig,
    LightSample,
    light_check,
    light_sample,
)
from simkyc.errors import Reason

CFG = LightConfig()
FPS = 12.0


def _steps(seed: int) -> tuple[LightStep, ...]:
    return draw_light(random.Random(seed))


def _shift_at(steps: tuple[LightStep, ...], rel: float) -> np.ndarray:
    starts = light_starts(steps)
    if rel < 0 or rel >= starts[-1]:
        return np.zeros(2)
    k = int(np.searchsorted(starts, rel, side="right") - 1)
    return np.array(expected_shift(steps[k].colour))


def _samples(
    steps: tuple[LightStep, ...],
    *,
    answer: tuple[LightStep, ...] | None = None,
    gain: float = 0.25,
    lag: float = 0.1,
    ring: float = 0.0,
    dark: float = 1.0,
    noise: float = 0.005,
    seed: int = 0,
    onset: float = 100.0,
    drop: int = 0,
) -> list[LightSample]:
    """One sample per frame at FPS over the sequence; the face answers `answer` (default: `steps`)."""
    rng = np.random.default_rng(seed)
    answer = steps if answer is None else answer
    total = float(light_starts(steps)[-1])
    out = []
    for i in range(int(total * FPS)):
        t = onset + i / FPS
        k = int(np.searchsorted(light_starts(steps), t - onset, side="right") - 1)
        base = np.array([0.35, -0.4]) + 0.02 * (t - onset)  # skin chromaticity, drifting slowly
        lit = gain * _shift_at(answer, t - onset - lag)
        face = base + lit + rng.normal(0, noise, 2)
        wall = np.array([0.05, 0.02]) + ring * lit + rng.normal(0, noise, 2)
        bright = face + rng.normal(0, noise, 2)
        darker = base + dark * lit + rng.normal(0, noise, 2)
        if i < drop:
            out.append(LightSample(t, k, None, None))
            continue
        out.append(LightSample(t, k, tuple(face), tuple(wall), tuple(bright), tuple(darker)))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_face_that_follows_the_sequence_passes(seed: int) -> None:
    steps = _steps(seed)
    r = light_check(_samples(steps, seed=seed, lag=0.03 * seed), steps, config=CFG, seed=99)
    assert r.passed, r
    assert r.corr > 0.9 and r.p_value <= 0.01
    assert r.gain == pytest.approx(0.25, rel=0.2)
    assert r.lag_s == pytest.approx(0.03 * seed, abs=0.05)


def test_no_response_is_refused() -> None:
    steps = _steps(1)
    r = light_check(_samples(steps, gain=0.0), steps, config=CFG, seed=99)
    assert r.reason is Reason.SPOOF_NO_LIGHT_RESPONSE


def test_answering_another_sequence_is_refused() -> None:
    steps = _steps(1)
    other = tuple(LightStep(o.colour, s.ms) for o, s in zip(_steps(2), steps, strict=True))
    assert [s.colour for s in other] != [s.colour for s in steps]
    r = light_check(_samples(steps, answer=other), steps, config=CFG, seed=99)
    assert r.reason is Reason.SPOOF_NO_LIGHT_RESPONSE


def test_answering_late_is_refused() -> None:
    steps = _steps(3)
    assert light_check(_samples(steps, lag=0.3), steps, config=CFG, seed=99).passed
    r = light_check(_samples(steps, lag=0.8), steps, config=CFG, seed=99)
    assert r.reason is Reason.SPOOF_NO_LIGHT_RESPONSE


def test_a_tint_of_the_whole_picture_cancels_and_is_refused() -> None:
    steps = _steps(4)
    r = light_check(_samples(steps, ring=1.0), steps, config=CFG, seed=99)
    assert r.reason is Reason.SPOOF_NO_LIGHT_RESPONSE  # skin minus ring: nothing left


def test_a_slightly_lit_background_still_passes() -> None:
    steps = _steps(4)
    r = light_check(_samples(steps, ring=0.15), steps, config=CFG, seed=99)
    assert r.passed and r.ring_share == pytest.approx(0.15, abs=0.05)


def test_a_reflection_off_glass_is_a_screen() -> None:
    """Light added on a phone's glass moves dark pixels more than bright ones, and the surroundings too."""
    steps = _steps(5)
    r = light_check(_samples(steps, dark=2.8), steps, config=CFG, seed=99)
    assert r.reason is Reason.SPOOF_SCREEN and r.dark_ratio > 2
    r = light_check(_samples(steps, ring=0.5, gain=0.5), steps, config=CFG, seed=99)
    assert r.reason is Reason.SPOOF_SCREEN and r.ring_share > 0.3


def test_too_weak_a_response_is_refused() -> None:
    """Bright rooms: the screen's light is a small share of the face's; below `min_gain` nothing passes."""
    steps = _steps(6)
    r = light_check(_samples(steps, gain=0.015, noise=0.0005), steps, config=CFG, seed=99)
    assert r.corr > 0.9 and r.reason is Reason.SPOOF_NO_LIGHT_RESPONSE


def test_frames_that_cannot_show_the_answer_ask_for_a_retry() -> None:
    steps = _steps(7)
    full = _samples(steps)
    assert light_check([], steps, config=CFG, seed=1).reason is Reason.LIGHT_CHALLENGE_INCOMPLETE
    unstamped = [LightSample(s.timestamp, -1, s.face, s.ring) for s in full]
    assert light_check(unstamped, steps, config=CFG, seed=1).reason is Reason.LIGHT_CHALLENGE_INCOMPLETE
    missing_colour = [s for s in full if s.step != 3]
    r = light_check(missing_colour, steps, config=CFG, seed=1)
    assert r.reason is Reason.LIGHT_CHALLENGE_INCOMPLETE and "colour" in r.detail
    backwards = [LightSample(s.timestamp, len(steps) - 1 - s.step, s.face, s.ring) for s in full]
    r = light_check(backwards, steps, config=CFG, seed=1)
    assert r.reason is Reason.LIGHT_CHALLENGE_INCOMPLETE and "order" in r.detail
    stretched = [LightSample(100 + 2 * (s.timestamp - 100), s.step, s.face, s.ring) for s in full]
    r = light_check(stretched, steps, config=CFG, seed=1)
    assert r.reason is Reason.LIGHT_CHALLENGE_INCOMPLETE and "timing" in r.detail
    faceless = _samples(steps, drop=len(full) // 2)
    r = light_check(faceless, steps, config=CFG, seed=1)
    assert r.reason is Reason.LIGHT_CHALLENGE_INCOMPLETE and "face" in r.detail


def _face_image(
    tint: tuple[float, float, float] = (0, 0, 0), ring_tint: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A flat 'face' (an ellipse of skin) on a wall, and FaceMesh-like landmarks placed on it."""
    img = np.zeros((360, 480, 3), np.float32)
    img[:] = (200, 200, 190)
    lm = np.zeros((468, 3), np.float32)
    ang = np.linspace(0, 2 * np.pi, len(FACE_OVAL), endpoint=False)
    lm[list(FACE_OVAL), 0] = 240 + 70 * np.sin(ang)
    lm[list(FACE_OVAL), 1] = 180 - 95 * np.cos(ang)
    lm[152] = (240, 275, 0)  # chin
    for idx, (cx, cy) in (((33, 133, 159, 145), (210, 160)), ((362, 263, 386, 374), (270, 160))):
        for j, i in enumerate(idx):
            lm[i] = (cx + 8 * np.cos(j * np.pi / 2), cy + 4 * np.sin(j * np.pi / 2), 0)
    for i in range(468):
        if not lm[i].any():
            lm[i] = (240, 200, 0)
    mask = np.zeros((360, 480), np.uint8)
    cv2.fillPoly(mask, [lm[list(FACE_OVAL), :2].astype(np.int32)], 1)
    skin = np.array([190, 140, 120], np.float32)
    img[mask.astype(bool)] = skin
    lin = (img / 255.0) ** 2.2
    lin[mask.astype(bool)] *= 1 + np.array(tint, np.float32)
    lin[~mask.astype(bool)] *= 1 + ring_tint * np.array(tint, np.float32)
    return np.clip(255 * np.clip(lin, 0, 1) ** (1 / 2.2), 0, 255).astype(np.uint8), lm


def test_light_sample_sees_skin_against_its_surroundings() -> None:
    plain, lm = _face_image()
    red, _ = _face_image((0.3, 0.0, 0.0))
    a = light_sample(plain, lm, timestamp=1.0, step=1)
    b = light_sample(red, lm, timestamp=1.1, step=2)
    assert a.face is not None and a.ring is not None and b.face is not None and b.ring is not None
    assert b.face[0] - a.face[0] == pytest.approx(np.log(1.3), abs=0.02)  # log R/G up by log(1 + gain)
    assert b.face[1] == pytest.approx(a.face[1], abs=0.01)
    assert b.ring == pytest.approx(a.ring, abs=0.01)  # the wall did not change
    whole, _ = _face_image((0.3, 0.0, 0.0), ring_tint=1.0)
    c = light_sample(whole, lm, timestamp=1.2, step=2)
    assert c.face is not None and c.ring is not None
    assert (c.face[0] - c.ring[0]) == pytest.approx(a.face[0] - a.ring[0], abs=0.02)  # cancels


def test_light_sample_of_a_face_off_the_picture_measures_nothing() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    lm = np.full((468, 3), -500.0, np.float32)
    s = light_sample(img, lm, timestamp=0.0, step=0)
    assert s.face is None and s.ring is None
