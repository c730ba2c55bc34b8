"""Light-challenge sessions built from the real clips: the synthetic bona fide and the attacks.

Every session is what the capture page would send: a signed challenge with the clip's own
actions and a light sequence drawn from `seed`, the clip's frames anchored in its window,
stamped as the page stamps them (the sequence starts 0.3-0.8 s into the capture, after the
readiness pause), then the species' treatment, then the same camera noise (1.5 grey levels) and
JPEG quality 85 as the page's canvas for every species alike, so nothing but the treatment
tells the species apart. Species:

    light_bona_fide          face lit by the issued colours, `gain` 0.3, 0.03-0.2 s latency
    light_bona_fide_bg       the same, the background lit too (15% of the face's gain)
    light_untinted           the recording as it is (a virtual camera playing it)
    light_reencoded          the recording through H.264 (crf 23), as a virtual camera delivers it
    light_other_sequence     lit by another sequence with the same timing
    light_late               lit by the issued sequence 0.8 s late (real-time re-rendering lag)
    light_whole_frame        the whole picture tinted by the issued colours (a colour filter)
    light_screen_replay      played on a phone held up to the camera; the glass reflects the flashes
    light_spliced            real.mov cut and joined (re-encoded) to answer turn_left, turn_right
    light_spliced_lit        the same cut, then lit for the issued sequence (a re-renderer's splice)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from simkyc.core.faces.types import Image
from simkyc.core.liveness import Action, Challenge, Frame, new_challenge
from simkyc.core.liveness.challenge import sign_challenge
from simkyc.core.liveness.light import draw_light
from simkyc.eval.light_media import Landmarks, page_stamps, reencode, screen_replay, tint_frames
from simkyc.eval.liveness_attacks import cut_and_join
from simkyc.service.liveness import LivenessModels, read_video

__all__ = [
    "ISSUE_SPLICES",
    "LIGHT_ATTACKS",
    "LIGHT_BONA_FIDE",
    "LIGHT_SOURCES",
    "SPLICES",
    "SourceClip",
    "finish_like_page",
    "light_session",
    "source_clip",
    "source_clips",
]

LIGHT_BONA_FIDE = ("light_bona_fide", "light_bona_fide_bg")
LIGHT_ATTACKS = (
    "light_untinted",
    "light_reencoded",
    "light_other_sequence",
    "light_late",
    "light_whole_frame",
    "light_screen_replay",
    "light_spliced",
    "light_spliced_lit",
)
# real.mov cut as the issue's attacker cut it (two trims and a concat, re-encoded): its left-turn part,
# then its right-turn part; seconds from the clip's start; the seams fall at different poses. For light
# sessions the clip's calm first seconds go first, where a light sequence can be answered.
ISSUE_SPLICES: tuple[tuple[tuple[float, float], ...], ...] = tuple(
    ((9.0, end), (start, 8.8)) for end in (11.9, 12.3, 12.7, 13.2) for start in (6.3, 6.6, 6.9)
)
SPLICES: tuple[tuple[tuple[float, float], ...], ...] = tuple(((0.0, 4.6), *cut) for cut in ISSUE_SPLICES)
SPLICE_ACTIONS = (Action.TURN_LEFT, Action.TURN_RIGHT)


@dataclass(frozen=True)
class SourceClip:
    """A continuous real take: frames, offsets from its first frame, FaceMesh landmarks, its actions."""

    name: str
    frames: list[Image]
    offsets: list[float]
    landmarks: list[Landmarks]
    actions: tuple[Action, ...]
    fps: float


def _challenge(actions: Sequence[Action], *, seed: int, now: float, key: bytes) -> Challenge:
    ch = new_challenge(key, now=now, n_actions=2, ttl_s=120.0, seed=seed, light_colours=6)
    return sign_challenge(replace(ch, actions=tuple(actions)), key)


def finish_like_page(frames: Sequence[Frame], *, seed: int) -> list[Frame]:
    """Camera noise (1.5 grey levels, fresh per frame) and the page's JPEG (quality 85) round trip."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        noisy = np.clip(f.image.astype(np.float32) + rng.normal(0, 1.5, f.image.shape), 0, 255).astype(
            np.uint8
        )
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        assert ok and decoded is not None
        img = np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), np.uint8)
        out.append(Frame(img, f.timestamp, f.light))
    return out


def light_session(
    src: SourceClip,
    species: str,
    *,
    seed: int,
    key: bytes,
    now: float,
    gain: float = 0.3,
    late_s: float = 0.8,
) -> tuple[Challenge, list[Frame]]:
    """One session of `species` from `src` (see the module docstring); `now` is the issue time."""
    rng = random.Random(seed)
    spliced = species.startswith("light_spliced")
    ch = _challenge(SPLICE_ACTIONS if spliced else src.actions, seed=seed, now=now, key=key)
    t0 = ch.issued_at + 0.2
    frames = [Frame(img, t0 + off) for img, off in zip(src.frames, src.offsets, strict=True)]
    landmarks = list(src.landmarks)
    if spliced:
        segments = SPLICES[seed % len(SPLICES)]
        keep = [i for lo, hi in segments for i, off in enumerate(src.offsets) if lo <= off < hi]
        frames = reencode(
            cut_and_join(frames, segments, fps=src.fps), fps=src.fps
        )  # ffmpeg concat re-encodes
        landmarks = [src.landmarks[i] for i in keep]
    onset = frames[0].timestamp + rng.uniform(0.3, 0.8)
    delay = rng.uniform(0.03, 0.2)
    frames = page_stamps(frames, ch.light, onset)
    steps = ch.light
    if species in ("light_bona_fide", "light_spliced_lit"):
        frames = tint_frames(frames, landmarks, steps, onset, gain=gain, delay_s=delay)
    elif species == "light_bona_fide_bg":
        frames = tint_frames(frames, landmarks, steps, onset, gain=gain, delay_s=delay, background_gain=0.15)
    elif species == "light_other_sequence":
        other = tuple(
            replace(o, ms=s.ms) for o, s in zip(draw_light(rng, n_colours=len(steps) - 2), steps, strict=True)
        )
        frames = tint_frames(frames, landmarks, other, onset, gain=gain, delay_s=delay)
    elif species == "light_late":
        frames = tint_frames(frames, landmarks, steps, onset, gain=gain, delay_s=late_s)
    elif species == "light_whole_frame":
        frames = tint_frames(frames, landmarks, steps, onset, gain=gain, delay_s=delay, whole_frame=True)
    elif species == "light_screen_replay":
        frames = screen_replay(frames, steps, onset, seed=seed, delay_s=delay)
    elif species == "light_reencoded":
        frames = reencode(frames, fps=src.fps)
    elif species not in ("light_untinted", "light_spliced"):
        raise ValueError(f"unknown species {species!r}")
    return ch, finish_like_page(frames, seed=seed)


REAL = "liveness_pyimagesearch_demo_ZubairCracksCode/real.mov"
WOMAN = "blink_r4onlyrishabh/default1.mp4"
# default1.mp4 is an edited video with jump cuts at 3.37 s and 7.93 s: its three continuous takes
# are three bona fide sources, each with a blink
WOMAN_TAKES = ((0.0, 3.37), (3.39, 7.92), (7.95, 11.0))
LIGHT_SOURCES = ("real.mov", "default1.mp4 take 2")


def source_clips(models: LivenessModels, videos: Path) -> list[SourceClip]:
    """real.mov (blink, turn right, turn left) and default1.mp4's three takes (blink), with landmarks.

    Takes 1 and 3 (3.4 s, 3 s) are shorter than a light session (readiness plus a 3-3.5 s
    sequence): `LIGHT_SOURCES` names the sources light sessions are built from.
    """
    out = []
    clip = read_video(videos / REAL)
    out.append(source_clip("real.mov", clip.frames, clip.offsets, models, SPLICE_ACTIONS[::-1], clip.fps))
    woman = read_video(videos / WOMAN)
    for k, (a, b) in enumerate(WOMAN_TAKES, 1):
        idx = [i for i, off in enumerate(woman.offsets) if a <= off < b]
        offs = [woman.offsets[i] - woman.offsets[idx[0]] for i in idx]
        out.append(
            source_clip(
                f"default1.mp4 take {k}",
                [woman.frames[i] for i in idx],
                offs,
                models,
                (Action.BLINK,),
                woman.fps,
            )
        )
    return out


def source_clip(
    name: str,
    frames: list[Image],
    offsets: list[float],
    models: LivenessModels,
    actions: tuple[Action, ...],
    fps: float,
) -> SourceClip:
    """A continuous take with the landmarks the session's tracker finds on each frame."""
    analyzer = models.analyzer()
    landmarks: list[Landmarks] = []
    for img in frames:
        obs = analyzer.observe(img)
        landmarks.append(None if obs is None else obs.landmarks)
    return SourceClip(name, frames, offsets, landmarks, actions, fps)
