"""Synthetic presentation attacks for measuring liveness (benchmarks/liveness_eval.py and the tests).

Every builder returns the frames an attacker would make the capture page send
(`Frame`s with capture timestamps inside the challenge window). Photo attacks
put a still photo, with a white paper margin, in a 640x480 scene with camera
noise, then move it as a hand would (under a light challenge the paper reflects
the flashes, margin and face alike); clip attacks tamper with a real clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image
from simkyc.core.liveness import Action, Challenge, Frame
from simkyc.core.liveness.light import colour_rgb, light_starts

__all__ = [
    "PHOTO_SPECIES",
    "cut_and_join",
    "duplicated_frames",
    "photo_attack",
    "reordered_frames",
    "reused_timestamps",
    "spliced_frames",
]

PHOTO_SPECIES = ("photo_still", "photo_inplane", "photo_tilt")
_W, _H = 640, 480


def _scene(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A plain indoor-ish background: a soft gradient with some texture."""
    base = rng.uniform(90, 200, size=3).astype(np.float32)
    yy, xx = np.mgrid[0:_H, 0:_W].astype(np.float32)
    grad = (xx / _W - 0.5) * rng.uniform(-40, 40) + (yy / _H - 0.5) * rng.uniform(-40, 40)
    tex = cv2.GaussianBlur(rng.normal(0, 12, size=(_H, _W)).astype(np.float32), (0, 0), 6)
    out: npt.NDArray[np.float32] = np.clip(base[None, None, :] + (grad + tex)[..., None], 0, 255).astype(
        np.float32
    )
    return out


def _printed(photo: Image, face_iod: float, rng: np.random.Generator) -> tuple[Image, float]:
    """The photo scaled so the eyes are ~70 px apart, with a white margin (the paper)."""
    scale = float(np.clip(70.0 / max(face_iod, 1.0), 0.3, 4.0))
    h, w = photo.shape[:2]
    img = cv2.resize(
        photo, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_LINEAR
    )
    m = int(rng.integers(6, 20))
    img = cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=(245, 245, 240))
    return np.asarray(img, dtype=np.uint8), scale


def _homography_3d(
    w: int, h: int, yaw: float, pitch: float, roll: float, scale: float, cx: float, cy: float
) -> npt.NDArray[np.float64]:
    """Homography of a flat picture (w x h) rotated in 3-D and placed at (cx, cy) in a 640-wide camera."""
    f = float(_W)
    dist = f / max(scale, 1e-3)  # a picture `scale` times its pixel size at distance f
    ry, rx, rz = math.radians(yaw), math.radians(pitch), math.radians(roll)
    r_y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    r_x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    r_z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    rot = r_z @ r_x @ r_y
    # picture pixel (u, v) -> 3-D point (u - w/2, v - h/2, 0) rotated, then pushed to `dist`
    t = np.array([(cx - _W / 2) * dist / f, (cy - _H / 2) * dist / f, dist])
    k = np.array([[f, 0, _W / 2], [0, f, _H / 2], [0, 0, 1]])
    m = np.column_stack([rot[:, 0], rot[:, 1], t])
    centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    hom: npt.NDArray[np.float64] = k @ m @ centre
    return hom


def _trajectory(
    species: str, actions: Sequence[Action], fps: float, rng: np.random.Generator, lead_s: float = 0.7
) -> list[tuple[float, float, float, float, float, float]]:
    """Per frame (yaw, pitch, roll, scale, dx, dy) of the picture."""
    out: list[tuple[float, float, float, float, float, float]] = []
    lead = int(fps * lead_s)
    seg = int(fps * 1.0)
    phase = rng.uniform(0, 2 * math.pi)
    n = lead + seg * len(actions)
    tremor = np.zeros(2)
    for i in range(n):
        tremor = 0.8 * tremor + rng.normal(0, 0.4, size=2)  # a hand's tremor is smooth, not white noise
        if species == "photo_still":
            out.append((0.0, 0.0, 0.0, 1.0, float(tremor[0]), float(tremor[1])))
            continue
        if species == "photo_inplane":
            s = i / fps
            out.append(
                (
                    0.0,
                    0.0,
                    20.0 * math.sin(1.3 * s + phase),
                    1.0 + 0.2 * math.sin(0.9 * s + 2 * phase),
                    60.0 * math.sin(1.1 * s + phase) + float(tremor[0]),
                    35.0 * math.sin(1.7 * s) + float(tremor[1]),
                )
            )
            continue
        # photo_tilt: the picture is tilted to act out each action of the challenge in turn
        yaw = pitch = 0.0
        if i >= lead:
            k, j = divmod(i - lead, seg)
            bump = math.sin(math.pi * j / seg)  # 0 -> 1 -> 0 over the segment
            act = actions[min(k, len(actions) - 1)]
            if act is Action.TURN_LEFT:
                yaw = -40.0 * bump  # the far side of the picture is the customer's left
            elif act is Action.TURN_RIGHT:
                yaw = 40.0 * bump
            elif act is Action.NOD:
                pitch = 30.0 * bump
            else:  # a "blink": a quick forward tip squashes the eyes for a frame or two
                pitch = 45.0 if seg // 2 - 1 <= j <= seg // 2 else 0.0
        out.append((yaw, pitch, 0.0, 1.0, float(tremor[0]), float(tremor[1])))
    return out


def photo_attack(
    photo: Image,
    face_iod: float,
    challenge: Challenge,
    species: str,
    *,
    seed: int,
    fps: float = 15.0,
    start_delay_s: float = 0.3,
    light_onset: float | None = None,
    paper_gain: float = 0.3,
) -> list[Frame]:
    """A still photo shown to the camera: held still, moved in the plane, or tilted to act out a challenge.

    With `light_onset` (the challenge must carry a light sequence), the page flashes the sequence
    from then on: frames are stamped as the page stamps them, and the paper (face and margin
    alike) reflects each colour with `paper_gain`, 0.1 s late; the room behind gets nothing.
    """
    if species not in PHOTO_SPECIES:
        raise ValueError(f"unknown species {species!r}")
    rng = np.random.default_rng(seed)
    scene = _scene(rng)
    pic, _ = _printed(photo, face_iod, rng)
    ph, pw = pic.shape[:2]
    frames: list[Frame] = []
    t0 = challenge.issued_at + start_delay_s
    lead_s = 0.7  # under a light challenge the picture is held up through the flashes first
    if light_onset is not None and challenge.light:
        lead_s = max(lead_s, light_onset - t0 + float(light_starts(challenge.light)[-1]) + 0.3)
    path = _trajectory(species, challenge.actions, fps, rng, lead_s)
    for i, (yaw, pitch, roll, scale, dx, dy) in enumerate(path):
        hom = _homography_3d(pw, ph, yaw, pitch, roll, scale, _W / 2 + dx, _H / 2 + dy)
        warped = cv2.warpPerspective(pic, hom, (_W, _H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), hom, (_W, _H), flags=cv2.INTER_LINEAR)[
            ..., None
        ]
        light = 1.0 + 0.01 * math.sin(0.7 * i / fps + seed)  # slow exposure drift
        t = t0 + i / fps
        paper = np.asarray(warped, dtype=np.float32) * light
        step = -1
        if light_onset is not None and challenge.light:
            starts = light_starts(challenge.light)
            step = _step_at(starts, t - light_onset)
            shown = _step_at(starts, t - 0.1 - light_onset)
            if shown >= 0:
                rgb = np.asarray(_colour(challenge, shown), dtype=np.float32)
                lin = (paper / 255.0) ** 2.2 * (1.0 + paper_gain * rgb[None, None, :])
                paper = 255.0 * np.clip(lin, 0, 1) ** (1 / 2.2)
        frame = scene * (1 - mask) + paper * mask
        frame = frame + np.asarray(rng.normal(0, 2.0, size=(_H, _W, 3)), dtype=np.float32)  # sensor noise
        frames.append(Frame(np.clip(frame, 0, 255).astype(np.uint8), t, step))
    return frames


def _step_at(starts: npt.NDArray[np.float64], rel: float) -> int:
    return int(np.searchsorted(starts, rel, side="right") - 1) if 0 <= rel < starts[-1] else -1


def _colour(challenge: Challenge, step: int) -> tuple[float, float, float]:
    r, g, b = colour_rgb(challenge.light[step].colour)
    return (r / 255.0, g / 255.0, b / 255.0)


def duplicated_frames(frames: Sequence[Frame], *, start: int, count: int) -> list[Frame]:
    """Stretch a clip: frames start..start+count sent twice, timestamps re-spaced to look regular."""
    out: list[Frame] = []
    for i, f in enumerate(frames):
        out.append(f)
        if start <= i < start + count:
            out.append(f)
    t0 = frames[0].timestamp
    dt = (frames[-1].timestamp - t0) / max(1, len(out) - 1)
    return [Frame(f.image, t0 + i * dt) for i, f in enumerate(out)]


def reordered_frames(
    frames: Sequence[Frame], *, start: int, count: int, seed: int, restamp: bool
) -> list[Frame]:
    """Shuffle a run of frames; `restamp` rewrites timestamps in order, else they travel with the frames."""
    rng = np.random.default_rng(seed)
    idx = list(range(len(frames)))
    run = idx[start : start + count]
    rng.shuffle(run)
    idx[start : start + count] = run
    moved = [frames[i] for i in idx]
    if restamp:
        return [Frame(f.image, frames[i].timestamp) for i, f in enumerate(moved)]
    return moved


def reused_timestamps(frames: Sequence[Frame], *, every: int) -> list[Frame]:
    """Every `every`-th frame carries the previous frame's timestamp (frames glued in from elsewhere)."""
    out = list(frames)
    for i in range(every, len(out), every):
        out[i] = Frame(out[i].image, out[i - 1].timestamp)
    return out


def spliced_frames(frames: Sequence[Frame], other: Sequence[Image], *, at: int) -> list[Frame]:
    """Another person's frames (resized to the clip's size) put in at index `at`, timestamps kept regular."""
    h, w = frames[0].image.shape[:2]
    inserted = [np.asarray(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), np.uint8) for img in other]
    images = [f.image for f in frames[:at]] + inserted + [f.image for f in frames[at:]]
    t0 = frames[0].timestamp
    dt = (frames[-1].timestamp - t0) / max(1, len(frames) - 1)
    return [Frame(img, t0 + i * dt) for i, img in enumerate(images)]


def cut_and_join(
    frames: Sequence[Frame], segments: Sequence[tuple[float, float]], *, fps: float
) -> list[Frame]:
    """Two or more trims of a clip joined (as ffmpeg `trim` + `concat`), re-timed at `fps` from the first
    frame's time; segments are (start, end) seconds from the clip's first frame."""
    t0 = frames[0].timestamp
    images = [f.image for a, b in segments for f in frames if a <= f.timestamp - t0 < b]
    return [Frame(img, t0 + i / fps) for i, img in enumerate(images)]
