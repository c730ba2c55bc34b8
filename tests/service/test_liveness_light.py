"""The light challenge and stream continuity on sessions built from the real clips (eval.liveness_light).

The bona fide is synthetic (the clip's face lit by the issued colours); the attacks use the same
machinery, so these tests show which treatment the session refuses and for what reason.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from simkyc.core.liveness import Action, Frame, LivenessConfig, LivenessResult, new_challenge
from simkyc.errors import Reason
from simkyc.eval.light_media import reencode
from simkyc.eval.liveness_attacks import cut_and_join, photo_attack
from simkyc.eval.liveness_light import ISSUE_SPLICES, SPLICE_ACTIONS, SourceClip, light_session, source_clips
from simkyc.service.liveness import LivenessModels, adhoc_challenge, run_liveness

KEY = secrets.token_bytes(32)
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg not installed (install.sh --dev)"
)


@cache
def _models() -> LivenessModels:
    from simkyc.bootstrap import base_embedder

    return LivenessModels.load(embedder=base_embedder())


@pytest.fixture(scope="module")
def models() -> LivenessModels:
    return _models()


@pytest.fixture(scope="module")
def real(videos_dir: Path, models: LivenessModels) -> SourceClip:
    return source_clips(models, videos_dir)[0]


def _run(
    src: SourceClip, species: str, models: LivenessModels, seed: int = 100, **kw: float
) -> LivenessResult:
    ch, frames = light_session(src, species, seed=seed, key=KEY, now=time.time(), **kw)
    return run_liveness(frames, ch, models=models)


def test_a_face_lit_by_the_issued_colours_passes(real: SourceClip, models: LivenessModels) -> None:
    r = _run(real, "light_bona_fide", models)
    assert r.passed, (r.reasons, r.scores)
    assert r.scores["light_corr"] > 0.9 and r.scores["light_p_value"] <= 0.02
    assert 0.0 <= r.scores["light_lag_s"] <= 0.25  # the synthetic latency is 0.03-0.2 s
    assert r.scores["stream_cuts"] == 0


@needs_ffmpeg
@pytest.mark.parametrize("species", ["light_untinted", "light_reencoded", "light_whole_frame", "light_late"])
def test_recordings_and_filters_do_not_answer_the_light(
    real: SourceClip, models: LivenessModels, species: str
) -> None:
    r = _run(real, species, models)
    assert not r.passed
    assert Reason.SPOOF_NO_LIGHT_RESPONSE in r.reasons, (r.reasons, r.scores)


def test_a_replay_on_a_phone_reflects_the_flash_off_its_glass(
    real: SourceClip, models: LivenessModels
) -> None:
    r = _run(real, "light_screen_replay", models)
    assert Reason.SPOOF_SCREEN in r.reasons, (r.reasons, r.scores)
    assert r.scores["light_corr"] > 0.6  # the reflection follows the sequence: its shape gives it away


@needs_ffmpeg
def test_a_lit_but_spliced_stream_is_refused_for_its_cuts(real: SourceClip, models: LivenessModels) -> None:
    r = _run(real, "light_spliced_lit", models, seed=1)
    assert r.reasons == (Reason.STREAM_DISCONTINUITY,), (r.reasons, r.scores)
    assert r.scores["light_corr"] > 0.9  # the light alone would have passed it


@needs_ffmpeg
def test_the_issues_splice_passes_the_actions_and_is_refused_as_cut(
    real: SourceClip, models: LivenessModels
) -> None:
    """real.mov's left-turn part then its right-turn part, re-encoded: it answers turn_left,turn_right."""
    ch = adhoc_challenge(SPLICE_ACTIONS)
    frames = [
        Frame(img, ch.issued_at + 0.2 + off) for img, off in zip(real.frames, real.offsets, strict=True)
    ]
    spliced = reencode(cut_and_join(frames, ISSUE_SPLICES[1], fps=15.0), fps=15.0)
    blind = run_liveness(spliced, ch, models=models, config=LivenessConfig(continuity=False))
    assert blind.passed, blind.reasons  # the attack of the issue: without continuity it passes
    r = run_liveness(spliced, ch, models=models)
    assert r.reasons == (Reason.STREAM_DISCONTINUITY,)


def test_unstamped_frames_cannot_answer_and_ask_for_a_retry(real: SourceClip, models: LivenessModels) -> None:
    ch, frames = light_session(real, "light_bona_fide", seed=100, key=KEY, now=time.time())
    r = run_liveness([Frame(f.image, f.timestamp) for f in frames], ch, models=models)
    assert r.reasons == (Reason.LIGHT_CHALLENGE_INCOMPLETE,)


def test_a_waived_light_challenge_passes_with_its_note(real: SourceClip, models: LivenessModels) -> None:
    ch = new_challenge(KEY, now=time.time(), seed=5, light_waived=True)
    ch = replace(ch, actions=(Action.BLINK,))  # not verified here: the session only reads it
    frames = [
        Frame(img, ch.issued_at + 0.2 + off) for img, off in zip(real.frames, real.offsets, strict=True)
    ]
    r = run_liveness(frames, ch, models=models)
    assert r.passed and r.reasons == (Reason.LIGHT_CHALLENGE_WAIVED,)


def test_a_photo_under_the_flashes_is_refused(faces_dir: Path, models: LivenessModels) -> None:
    import cv2

    bgr = cv2.imread(str(sorted((faces_dir / "lfw" / "images" / "Donald_Rumsfeld").glob("*.jpg"))[0]))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    ch = new_challenge(KEY, now=time.time(), seed=2, light_colours=6)
    frames = photo_attack(rgb, 40.0, ch, "photo_tilt", seed=2, light_onset=ch.issued_at + 0.9)
    assert any(f.light >= 0 for f in frames)
    r = run_liveness(frames, ch, models=LivenessModels(models.detector, models.landmarker, models.eyes, None))
    assert not r.passed
