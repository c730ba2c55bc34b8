"""Did the face answer the light challenge? Per-frame colour of the skin against its surroundings,
then a correlation in time with the issued colour sequence.

Per frame (`light_sample`): mean linear RGB of the skin (the FaceMesh face oval, shrunk, without
eyes and mouth; also its brighter and its darker half) and of a ring around the head above the
chin (wall, hair), each turned into log-chromaticity (log R/G, log B/G). The response is skin
minus ring: light from a screen a forearm away reaches the face, hardly the wall behind it, while
anything that tints the whole picture (a camera's white balance, a colour filter on injected
video) moves both alike and cancels. Chromaticity, not brightness, so a head turning in and out
of shadow counts little.

Per session (`light_check`): the stamps place the sequence on the frames' clock (the onset that
agrees with every stamp and the issued durations); the response, detrended, is correlated with
each colour's expected shift (`light.expected_shift`) delayed by a lag within
[min_lag_s, max_lag_s] (camera and display latency; nothing can answer before the colour is
shown); the best lag's correlation must reach `min_corr` and beat the same figure for
`alternatives` random sequences with the same timing (a permutation test, p <= `max_p`), and
the response must be large enough to be light at all (`min_gain`).

Then its shape: skin reflects light in proportion to its albedo, so every part of a lit face
shifts by the same chromaticity, dark or bright; a phone's glass held up to the camera reflects
the flash as light *added* to whatever the phone shows, which shifts dark pixels more than bright
ones (by their brightness ratio) and shifts the replayed surroundings too. A response whose darker
skin moves more than `max_dark_ratio` times the brighter skin, or whose ring moves more than
`max_ring_share` of the skin (each by at least `min_gain` too, so noise on a weak response decides
nothing), is refused as SPOOF_SCREEN.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image
from simkyc.core.liveness.light import (
    LightColour,
    LightStep,
    draw_light,
    expected_shift,
    light_starts,
)
from simkyc.errors import Reason

__all__ = ["LightConfig", "LightResult", "LightSample", "light_check", "light_sample"]

FloatArray = npt.NDArray[np.float64]

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
_EYE_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
_EYE_L = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
_CHIN = 152
_WORK_WIDTH = 96  # px: the face and ring are measured on a crop scaled to this width
_MIN_PIXELS = 40
_LINEAR = ((np.arange(256) / 255.0) ** 2.2).astype(np.float32)  # sRGB -> linear light (gamma 2.2)


@dataclass(frozen=True, slots=True)
class LightSample:
    """One frame's light measurement: time, stamp, skin and ring chromaticity (None: not measured)."""

    timestamp: float
    step: int
    face: tuple[float, float] | None
    ring: tuple[float, float] | None
    face_bright: tuple[float, float] | None = None  # the brighter half of the skin pixels
    face_dark: tuple[float, float] | None = None  # the darker half


@dataclass(frozen=True, slots=True)
class LightConfig:
    """Thresholds of the light check; set on the synthetic sessions of `benchmarks/liveness_eval.py`."""

    min_corr: float = 0.6
    max_p: float = 0.02
    min_gain: float = 0.025  # log-chromaticity per unit of expected shift
    max_ring_share: float = 0.3  # the ring's own response over the skin's
    max_dark_ratio: float = 1.6  # the darker skin's response over the brighter skin's
    min_lag_s: float = -0.05
    max_lag_s: float = 0.35
    lag_step_s: float = 1 / 60
    alternatives: int = 200
    min_face_share: float = 0.75  # of the stamped frames, with a measured face
    timing_tolerance_s: float = 0.08  # stamps may disagree with the issued durations by this much


@dataclass(frozen=True, slots=True)
class LightResult:
    """The light check's verdict and figures (reason None = the face followed the sequence)."""

    reason: Reason | None
    detail: str
    corr: float = float("nan")
    lag_s: float = float("nan")
    p_value: float = float("nan")
    gain: float = float("nan")
    ring_share: float = float("nan")
    dark_ratio: float = float("nan")
    stamped: int = 0
    measured: int = 0

    @property
    def passed(self) -> bool:
        return self.reason is None


Chroma = tuple[float, float]
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _log_chroma(px: npt.NDArray[np.float32]) -> Chroma:
    r, g, b = (float(v) + 1e-4 for v in px.mean(axis=0))
    return (float(np.log(r / g)), float(np.log(b / g)))


def _chroma(lin: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]) -> list[Chroma] | None:
    """Log-chromaticity of the mean of the masked pixels, then of their brighter and darker halves."""
    px = lin[mask]
    px = px[(px < 0.97).all(axis=1)]  # clipped pixels cannot answer the light
    if len(px) < _MIN_PIXELS:
        return None
    lum = px @ _LUMA
    bright = lum >= np.median(lum)
    whole = _log_chroma(px)
    if min(int(bright.sum()), int((~bright).sum())) < _MIN_PIXELS // 2:  # flat: no halves to compare
        return [whole, whole, whole]
    return [whole, _log_chroma(px[bright]), _log_chroma(px[~bright])]


def _scaled(pts: FloatArray, centre: FloatArray, k: float) -> npt.NDArray[np.int32]:
    return np.round((pts - centre) * k + centre).astype(np.int32)


def light_sample(
    image: Image, landmarks: npt.NDArray[np.float32], *, timestamp: float, step: int
) -> LightSample:
    """Skin, ring and skin-half chromaticity of one RGB frame with FaceMesh landmarks (None: too few px)."""
    lm = landmarks[:, :2].astype(np.float64)
    oval = lm[list(FACE_OVAL)]
    x0, y0 = oval.min(axis=0)
    x1, y1 = oval.max(axis=0)
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ih, iw = image.shape[:2]
    rx0, rx1 = int(max(0, cx - 1.1 * w)), int(min(iw, cx + 1.1 * w))
    ry0, ry1 = int(max(0, cy - 0.9 * h)), int(min(ih, lm[_CHIN, 1]))
    if rx1 - rx0 < 8 or ry1 - ry0 < 8:
        return LightSample(timestamp, step, None, None)
    scale = min(1.0, _WORK_WIDTH / (rx1 - rx0))
    crop = image[ry0:ry1, rx0:rx1]
    size = (max(1, round((rx1 - rx0) * scale)), max(1, round((ry1 - ry0) * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if scale < 1 else crop
    lin = _LINEAR[small]
    pts = (lm - [rx0, ry0]) * scale
    centre = pts[list(FACE_OVAL)].mean(axis=0)
    skin = np.zeros(small.shape[:2], np.uint8)
    cv2.fillPoly(skin, [_scaled(pts[list(FACE_OVAL)], centre, 0.85)], 1)
    for idx, k in ((_EYE_R, 1.9), (_EYE_L, 1.9), (_LIPS, 1.3)):
        part = pts[list(idx)]
        cv2.fillPoly(skin, [_scaled(part, part.mean(axis=0), k)], 0)
    head = np.zeros(small.shape[:2], np.uint8)
    cv2.fillPoly(head, [_scaled(pts[list(FACE_OVAL)], centre, 1.3)], 1)
    face = _chroma(lin, skin.astype(bool))
    ring = _chroma(lin, ~head.astype(bool))
    if face is None or ring is None:
        return LightSample(timestamp, step, None, None)
    return LightSample(timestamp, step, face[0], ring[0], face[1], face[2])


def _onset(stamps: list[tuple[float, int]], starts: FloatArray, tol: float) -> float | None:
    """The sequence's start time that agrees with every (time, step) stamp, or None if none does."""
    lo, hi = -np.inf, np.inf
    for t, k in stamps:
        lo = max(lo, t - starts[k + 1] - tol)
        hi = min(hi, t - starts[k] + tol)
    return None if lo > hi else float((lo + hi) / 2)


def _step_index(steps: tuple[LightStep, ...], times: FloatArray) -> npt.NDArray[np.intp]:
    """Which step is on screen at each time (seconds from the sequence's start); len(steps) outside it."""
    starts = light_starts(steps)
    idx = np.searchsorted(starts, times, side="right") - 1
    return np.where((idx < 0) | (idx >= len(steps)), len(steps), idx)


def _residual(x: FloatArray, basis: FloatArray) -> FloatArray:
    """`x` (..., n, 2) with the span of `basis` (n, m) removed along n (detrending)."""
    n = basis.shape[0]
    flat = np.moveaxis(x, -2, 0).reshape(n, -1)
    coef = np.linalg.lstsq(basis, flat, rcond=None)[0]
    fitted = np.moveaxis((basis @ coef).reshape((n, *x.shape[:-2], 2)), 0, -2)
    res: FloatArray = x - fitted
    return res


def _best_corr(
    response: FloatArray, index: npt.NDArray[np.intp], shifts: FloatArray, lags: FloatArray, basis: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per sequence (rows of `shifts`, (S, steps+1, 2)): best correlation over the lags, that lag, the gain.

    `index` (L, n) is the step on screen for each lag and frame (the timing all sequences share).
    """
    exp = _residual(shifts[:, index], basis)  # (S, L, n, 2)
    num = np.einsum("slnc,nc->sl", exp, response)
    e2 = np.einsum("slnc,slnc->sl", exp, exp)
    r2 = float(np.sum(response * response))
    corr = num / np.sqrt(np.maximum(e2 * r2, 1e-18))
    best = corr.argmax(axis=1)
    rows = np.arange(len(shifts))
    gain = num[rows, best] / np.maximum(e2[rows, best], 1e-18)
    return corr[rows, best], lags[best], gain


def _shifts(colours: list[LightColour]) -> FloatArray:
    return np.array([expected_shift(c) for c in colours] + [(0.0, 0.0)], dtype=np.float64)


def light_check(
    samples: list[LightSample], steps: tuple[LightStep, ...], *, config: LightConfig, seed: int
) -> LightResult:
    """Decide whether the face's colour followed `steps` (see the module docstring).

    Reasons: LIGHT_CHALLENGE_INCOMPLETE when the frames cannot show it (no or inconsistent
    stamps, a step with no frame, too few frames with a measured face): the capture can be
    retried; SPOOF_NO_LIGHT_RESPONSE when they can and the face did not follow the sequence.
    `seed` fixes the alternative sequences (the caller derives it from the challenge).
    """
    incomplete = Reason.LIGHT_CHALLENGE_INCOMPLETE
    stamped = sorted((s for s in samples if 0 <= s.step < len(steps)), key=lambda s: s.timestamp)
    if not stamped:
        return LightResult(incomplete, "no frame was stamped with the light sequence")
    order = [s.step for s in stamped]
    if any(b < a for a, b in itertools.pairwise(order)):
        return LightResult(incomplete, "light stamps out of order", stamped=len(stamped))
    if not set(range(1, len(steps) - 1)) <= set(order):
        return LightResult(incomplete, "a colour of the sequence was not captured", stamped=len(stamped))
    starts = light_starts(steps)
    onset = _onset([(s.timestamp, s.step) for s in stamped], starts, config.timing_tolerance_s)
    if onset is None:
        return LightResult(incomplete, "light stamps disagree with the issued timing", stamped=len(stamped))
    measured = [s for s in stamped if s.face is not None and s.ring is not None]
    if len(measured) < max(8, config.min_face_share * len(stamped)):
        return LightResult(
            incomplete,
            "the face was not seen through the sequence",
            stamped=len(stamped),
            measured=len(measured),
        )
    t = np.array([s.timestamp for s in measured])
    tc = (t - t.mean()) / max(float(np.ptp(t)), 1e-6)
    basis = np.column_stack([np.ones_like(tc), tc])
    parts = {
        name: _residual(np.array([getattr(s, name) for s in measured], dtype=np.float64), basis)
        for name in ("face", "ring", "face_bright", "face_dark")
    }
    response = parts["face"] - parts["ring"]
    lags = np.arange(config.min_lag_s, config.max_lag_s + 1e-9, config.lag_step_s)
    rng = random.Random(seed)
    colours = [[s.colour for s in steps]]
    for _ in range(config.alternatives):  # same timing, other colours drawn the same way
        colours.append([s.colour for s in draw_light(rng, n_colours=len(steps) - 2)])
    index = np.stack([_step_index(steps, t - onset - lag) for lag in lags])
    shifts = np.stack([_shifts(c) for c in colours])
    corr, lag, gain = _best_corr(response, index, shifts, lags, basis)
    p = float((1 + np.sum(corr[1:] >= corr[0])) / len(colours))
    # the shape of the response at the issued sequence's best lag: each region's own gain
    best = int(np.argmin(np.abs(lags - lag[0])))
    exp = _residual(shifts[0][index[best]], basis)
    own = {k: float(np.sum(v * exp) / max(float(np.sum(exp * exp)), 1e-18)) for k, v in parts.items()}
    ring_share = own["ring"] / own["face"] if own["face"] > 0 else float("inf")
    dark_ratio = own["face_dark"] / own["face_bright"] if own["face_bright"] > 0 else float("inf")
    reason, detail = None, "the face followed the light sequence"
    if corr[0] < config.min_corr or p > config.max_p or gain[0] < config.min_gain:
        reason, detail = Reason.SPOOF_NO_LIGHT_RESPONSE, "the face did not follow the light sequence"
    elif (ring_share > config.max_ring_share and own["ring"] > config.min_gain) or (
        dark_ratio > config.max_dark_ratio and own["face_dark"] - own["face_bright"] > config.min_gain
    ):
        reason, detail = (
            Reason.SPOOF_SCREEN,
            "the colour response is a reflection off glass, not light on skin",
        )
    return LightResult(
        reason,
        detail,
        corr=float(corr[0]),
        lag_s=float(lag[0]),
        p_value=p,
        gain=float(gain[0]),
        ring_share=ring_share,
        dark_ratio=dark_ratio,
        stamped=len(stamped),
        measured=len(measured),
    )
