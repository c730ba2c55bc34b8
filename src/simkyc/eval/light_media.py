"""Synthetic media for the light challenge (benchmarks/liveness_eval.py, tests, the browser test's clip).

The real clips cannot show a reflection of colours drawn today, so the bona fide is synthesised:
a real clip whose face is lit frame by frame by the issued colours, in linear light, with a gain
that is strongest near the nose (the part nearest the screen), fades to the face's edge and the
neck, and is zero on the background (`tint_frames`). The attacks use the same machinery on purpose:
the untinted clip, the clip tinted for another sequence or too late, the whole frame tinted (a
colour filter over injected video, which also tints the background), and the clip replayed on a
simulated phone screen that reflects the flashes off its glass (`screen_replay`). `page_stamps`
stamps frames as an honest page does: with the step on screen when the frame was grabbed.

`gain` is the screen's light on the face relative to the ambient light, per colour channel: about
E_screen / E_ambient with E_screen ~ 150 lx for a tablet at full brightness 30 cm from the face
(an estimate, not a measurement): 0.3 ~ a 500 lx room, 0.15 ~ 1,000 lx, 0.075 ~ 2,000 lx.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image
from simkyc.core.liveness import Frame
from simkyc.core.liveness.light import LightStep, colour_rgb, light_starts
from simkyc.core.liveness.light_check import FACE_OVAL

__all__ = [
    "Landmarks",
    "colour_at",
    "page_stamps",
    "reencode",
    "screen_replay",
    "tint_frames",
]

Landmarks = npt.NDArray[np.float32] | None
FloatImage = npt.NDArray[np.float32]
_LIN = ((np.arange(256) / 255.0) ** 2.2).astype(np.float32)
_NOSE_TIP = 1


def colour_at(steps: Sequence[LightStep], onset: float, t: float) -> npt.NDArray[np.float32] | None:
    """The RGB (0..1) on screen at time `t` for a sequence shown from `onset`, or None outside it."""
    starts = light_starts(tuple(steps))
    rel = t - onset
    if rel < 0 or rel >= starts[-1]:
        return None
    k = int(np.searchsorted(starts, rel, side="right") - 1)
    return np.asarray(colour_rgb(steps[k].colour), dtype=np.float32) / 255.0


def page_stamps(frames: Sequence[Frame], steps: Sequence[LightStep], onset: float) -> list[Frame]:
    """Frames stamped as the page stamps them: the step on screen at each frame's capture time, else -1."""
    starts = light_starts(tuple(steps))
    out = []
    for f in frames:
        rel = f.timestamp - onset
        k = int(np.searchsorted(starts, rel, side="right") - 1) if 0 <= rel < starts[-1] else -1
        out.append(Frame(f.image, f.timestamp, k))
    return out


def _to_srgb(lin: FloatImage) -> Image:
    return np.asarray(np.clip(255.0 * np.power(np.clip(lin, 0, 1), 1 / 2.2) + 0.5, 0, 255), dtype=np.uint8)


def _face_gain_map(shape: tuple[int, int], lm: npt.NDArray[np.float32]) -> FloatImage:
    """Where the screen's light lands: strongest near the nose tip, fading to the face's edge and the
    neck, zero on the background (feathered)."""
    h, w = shape
    pts = lm[:, :2]
    oval = pts[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    fw = float(np.ptp(oval[:, 0]))
    fh = float(np.ptp(oval[:, 1]))
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.round((oval - centre) * 1.08 + centre).astype(np.int32)], 1.0)
    chin = pts[152]
    neck = (round(float(chin[0])), round(float(chin[1] + 0.25 * fh)))
    cv2.ellipse(mask, neck, (max(1, round(0.32 * fw)), max(1, round(0.3 * fh))), 0, 0, 360, 0.7, -1)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.06 * fw)), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nose = pts[_NOSE_TIP]
    r = np.hypot(xx - nose[0], yy - nose[1]) / max(fw, 1.0)
    near = np.clip(1.25 - 0.6 * r, 0.55, 1.25)  # nearer the screen, more light
    out: FloatImage = (mask * near).astype(np.float32)
    return out


def tint_frames(
    frames: Sequence[Frame],
    landmarks: Sequence[Landmarks],
    steps: Sequence[LightStep],
    onset: float,
    *,
    gain: float,
    delay_s: float = 0.1,
    background_gain: float = 0.0,
    whole_frame: bool = False,
) -> list[Frame]:
    """Light each frame by the colour on screen `delay_s` before its capture time (camera and display
    latency): face by `gain` (shaped by `_face_gain_map`), the rest by `background_gain`; with
    `whole_frame`, every pixel by `gain` alike. Frames keep their timestamps and stamps."""
    out = []
    last_lm: Landmarks = None
    for f, lm in zip(frames, landmarks, strict=True):
        last_lm = lm if lm is not None else last_lm
        c = colour_at(steps, onset, f.timestamp - delay_s)
        if c is None or (last_lm is None and not whole_frame and background_gain == 0):
            out.append(f)
            continue
        h, w = f.image.shape[:2]
        if whole_frame:
            g = np.full((h, w), gain, np.float32)
        else:
            g = np.full((h, w), background_gain * gain, np.float32)
            if last_lm is not None:
                g = g + gain * _face_gain_map((h, w), last_lm)
        lin = _LIN[f.image] * (1.0 + g[..., None] * c[None, None, :])
        out.append(Frame(_to_srgb(lin), f.timestamp, f.light))
    return out


def screen_replay(
    frames: Sequence[Frame],
    steps: Sequence[LightStep],
    onset: float,
    *,
    seed: int,
    reflection: float = 0.04,
    gain: float = 0.3,
    delay_s: float = 0.1,
    size: tuple[int, int] = (640, 480),
) -> list[Frame]:
    """The clip played on a phone held close to the camera (a 640x480 scene): the screen shows it with
    a screen's gamma, colour cast and pixel grid inside a dark bezel; the flashes reflect off the
    glass (`reflection`, added in linear light over the whole screen) and light the bezel and the
    hand holding it (`gain`, as on skin); the room behind gets nothing."""
    rng = np.random.default_rng(seed)
    w, h = size
    wall = rng.uniform(90, 200, 3)[None, None, :] + rng.normal(0, 6, (h, w, 1))
    room = _LIN[np.clip(wall, 0, 255).astype(np.uint8)]
    sw = int(w * rng.uniform(0.78, 0.9))
    sh0, sw0 = frames[0].image.shape[:2]
    sh = round(sw * sh0 / sw0)
    x0, y0 = (w - sw) // 2 + int(rng.integers(-20, 20)), max(20, (h - sh) // 2 + int(rng.integers(-15, 15)))
    bez = int(rng.integers(10, 18))
    grid = 1.0 - 0.06 * ((np.arange(sw)[None, :] % 3 == 0) | (np.arange(sh)[:, None] % 3 == 0))
    cast = np.array([0.96, 1.0, 1.06], np.float32)
    out = []
    for i, f in enumerate(frames):
        lin = room.copy()
        body = np.zeros((h, w), np.float32)
        cv2.rectangle(body, (x0 - bez, y0 - bez), (x0 + sw + bez, min(h - 1, y0 + sh + 4 * bez)), 1.0, -1)
        lin = lin * (1 - body[..., None]) + 0.02 * body[..., None]  # dark phone body
        shown = cv2.resize(f.image, (sw, sh), interpolation=cv2.INTER_AREA)
        screen = (_LIN[shown] * 0.85 + 0.01) * cast * grid[..., None].astype(np.float32)
        dy0, dy1 = y0, min(h, y0 + sh)
        lin[dy0:dy1, x0 : x0 + sw] = screen[: dy1 - dy0]
        c = colour_at(steps, onset, f.timestamp - delay_s)
        if c is not None:
            lit = body.copy()
            lit[dy0:dy1, x0 : x0 + sw] = 0
            lin = lin * (1.0 + gain * lit[..., None] * c)
            glass = np.zeros((h, w), np.float32)
            glass[dy0:dy1, x0 : x0 + sw] = 1.0
            lin = lin + reflection * glass[..., None] * c
        shake = (1.5 * math.sin(0.9 * i + seed), 1.2 * math.sin(1.3 * i))
        m = np.array([[1, 0, shake[0]], [0, 1, shake[1]]], dtype=np.float32)
        img = _to_srgb(lin)
        img = np.asarray(cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.uint8)
        noisy = img.astype(np.float32) + rng.normal(0, 2.0, img.shape).astype(np.float32)
        out.append(Frame(np.clip(noisy, 0, 255).astype(np.uint8), f.timestamp, f.light))
    return out


def reencode(frames: Sequence[Frame], *, fps: float, crf: int = 23) -> list[Frame]:
    """The frames through H.264 (ffmpeg libx264, yuv420p), as a virtual camera's encoder delivers them;
    timestamps and stamps kept.

    :raises RuntimeError: ffmpeg is not installed.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed")
    h, w = frames[0].image.shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        raw = b"".join(np.ascontiguousarray(f.image).tobytes() for f in frames)
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
             "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p",
             str(path)],
            input=raw, check=True, timeout=300,
        )  # fmt: skip
        cap = cv2.VideoCapture(str(path))
        images: list[Image] = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            images.append(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8))
        cap.release()
    return [Frame(img, f.timestamp, f.light) for img, f in zip(images, frames, strict=False)]
