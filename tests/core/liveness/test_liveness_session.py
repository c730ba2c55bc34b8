"""The session state machine, driven by a scripted analyzer (no models): order, deadline, refusals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from liveness_builders import face_landmarks, noise_image

from simkyc.core.faces.types import Image
from simkyc.core.liveness import (
    Action,
    Challenge,
    EventKind,
    FaceObservation,
    Frame,
    LivenessResult,
    LivenessSession,
    sign_challenge,
)
from simkyc.errors import Reason

T0 = 1000.0


class ScriptedAnalyzer:
    """Returns the prepared observations in turn (None = no face)."""

    def __init__(self, script: Sequence[FaceObservation | None]) -> None:
        self.script = list(script)

    def observe(self, image: Image) -> FaceObservation | None:
        return self.script.pop(0)


def obs(
    lm: npt.NDArray[np.float32], *, faces: int = 1, track: int = 1, detected: bool = False
) -> FaceObservation:
    return FaceObservation(lm, 1.0, faces, detected, track)


def challenge(*actions: Action, ttl: float = 30.0) -> Challenge:
    return sign_challenge(Challenge(tuple(actions), "ab" * 16, T0, T0 + ttl), b"k" * 32)


def run(
    ch: Challenge, script: Sequence[FaceObservation | None], *, fps: float = 15.0, t_start: float = T0 + 0.2
) -> tuple[LivenessResult, list[str]]:
    session = LivenessSession(ch, analyzer=ScriptedAnalyzer(script))
    events = session.start(T0)
    for i in range(len(script)):
        events += session.push(Frame(noise_image(i), t_start + i / fps))
    return session.finish(), [str(e) for e in events]


def still(n: int, **pose: float) -> list[FaceObservation | None]:
    return [obs(face_landmarks(**pose)) for _ in range(n)]


def test_actions_in_order_pass_with_their_times() -> None:
    script = still(8) + still(4, yaw=30) + still(6) + still(2, ear=0.05) + still(6)
    result, events = run(challenge(Action.TURN_LEFT, Action.BLINK), script)
    assert result.passed, result.reasons
    assert list(result.action_times) == [Action.TURN_LEFT, Action.BLINK]
    assert result.action_times[Action.TURN_LEFT] < result.action_times[Action.BLINK]
    assert events[:3] == ["waiting_for: turn_left", "action_done: turn_left", "waiting_for: blink"]
    assert events[-1] == "action_done: blink"
    assert str(result.events[-1]) == "passed"
    assert result.best_frames, "a passed session hands frames to the 1:1 match"


def test_actions_in_the_wrong_order_are_refused() -> None:
    script = still(8) + still(2, ear=0.05) + still(6) + still(4, yaw=30) + still(4)
    result, _ = run(challenge(Action.TURN_LEFT, Action.BLINK), script)
    assert not result.passed
    assert result.reasons == (Reason.LIVENESS_WRONG_ORDER,)
    assert result.best_frames == []


def test_turn_the_other_way_is_not_the_action() -> None:
    script = still(8) + still(5, yaw=-30) + still(5)
    result, _ = run(challenge(Action.TURN_LEFT, Action.NOD), script)
    assert result.reasons == (Reason.LIVENESS_ACTION_MISSING,)


def test_nod() -> None:
    script = still(8) + still(4, pitch=-20) + still(4) + still(4, yaw=-30) + still(3)
    result, _ = run(challenge(Action.NOD, Action.TURN_RIGHT), script)
    assert result.passed, result.reasons


def test_no_face_at_all() -> None:
    result, _ = run(challenge(Action.BLINK, Action.NOD), [None] * 10)
    assert result.reasons == (Reason.NO_FACE,)


def test_face_lost_for_too_long() -> None:
    result, events = run(challenge(Action.BLINK, Action.NOD), still(5) + [None] * 60)
    assert result.reasons == (Reason.FACE_LOST,)
    assert events[-1] == "failed: FACE_LOST"


def test_two_faces() -> None:
    script = [*still(3), obs(face_landmarks(), faces=2, detected=True), *still(3)]
    result, _ = run(challenge(Action.BLINK, Action.NOD), script)
    assert result.reasons == (Reason.MULTIPLE_FACES,)


def test_restarted_track_without_embedder_is_a_changed_face() -> None:
    second = [obs(face_landmarks(), track=2, detected=True)] + [obs(face_landmarks(yaw=-30), track=2)] * 3
    script = [*still(8), *still(4, yaw=30), *still(2), *second]
    result, _ = run(challenge(Action.TURN_LEFT, Action.TURN_RIGHT), script)
    assert Reason.FACE_CHANGED in result.reasons


def test_frames_after_the_deadline_time_out() -> None:
    result, events = run(challenge(Action.BLINK, Action.NOD, ttl=1.0), still(30))
    assert result.reasons == (Reason.LIVENESS_TIMEOUT,)
    assert events[-1] == "failed: LIVENESS_TIMEOUT"


def test_frames_from_before_the_challenge_are_stale() -> None:
    result, _ = run(challenge(Action.BLINK, Action.NOD), still(5), t_start=T0 - 1.0)
    assert result.reasons == (Reason.STALE_OR_REPLAYED_FRAMES,)
    assert result.scores["stale_before_challenge"] == 1


def test_a_repeated_frame_fails_at_once() -> None:
    session = LivenessSession(challenge(Action.BLINK, Action.NOD), analyzer=ScriptedAnalyzer(still(10)))
    img = noise_image(1)
    assert session.push(Frame(noise_image(0), T0 + 0.5)) == []
    assert session.push(Frame(img, T0 + 0.6)) == []
    events = session.push(Frame(img.copy(), T0 + 0.7))
    assert [e.kind for e in events] == [EventKind.FAILED]
    assert events[0].reason is Reason.STALE_OR_REPLAYED_FRAMES
    assert session.push(Frame(noise_image(5), T0 + 0.8)) == []  # a failed session takes nothing more
    assert session.finish().reasons == (Reason.STALE_OR_REPLAYED_FRAMES,)


def test_signals_trace_covers_every_frame() -> None:
    result, _ = run(challenge(Action.BLINK, Action.NOD), [*still(4), None, *still(4)])
    assert len(result.signals) == 9
    assert [s.face_ok for s in result.signals].count(False) == 1
