"""Stream continuity on constructed streams: smooth motion passes, a jump of the face or of the whole
picture between two frames is a cut, flashes of the light challenge are not."""

from __future__ import annotations

import numpy as np

from simkyc.core.liveness.continuity import StreamContinuity

rng = np.random.default_rng(0)
FACE = rng.uniform(-60, 60, size=(468, 3)).astype(np.float32)  # a face-sized cloud of landmarks


def _face(dx: float, dy: float = 0.0, scale: float = 1.0) -> np.ndarray:
    out = FACE * scale
    out[:, 0] += 320 + dx
    out[:, 1] += 240 + dy
    return out


def _run(
    xs: list[float], changes: list[float] | None = None, *, fps: float = 15.0, lit: set[int] | None = None
) -> StreamContinuity:
    c = StreamContinuity()
    changes = changes or [1.5] * len(xs)
    for i, (x, ch) in enumerate(zip(xs, changes, strict=True)):
        c.update(i / fps, ch, _face(x), 0.0, 0.0, lit=i in (lit or set()))
    return c


def test_smooth_motion_and_a_fast_smooth_turn_are_no_cut() -> None:
    still = _run([0.3 * np.sin(i) for i in range(40)])  # tremor
    assert still.cuts(0.0, 0.0) == []
    # a quick sideways move: 0 -> 60 px over 5 frames along a smooth ramp, then back
    ramp = [60 * min(1.0, max(0.0, (i - 10) / 5)) - 60 * min(1.0, max(0.0, (i - 25) / 5)) for i in range(40)]
    assert _run(ramp).cuts(0.0, 0.0) == []


def test_a_face_that_jumps_between_two_frames_is_a_cut() -> None:
    xs = [0.2 * i for i in range(20)] + [70 + 0.2 * i for i in range(20)]
    cuts = _run(xs).cuts(0.0, 0.0)
    assert [c.kind for c in cuts] == ["face_jump"]
    assert cuts[0].before == 19 / 15 and cuts[0].after == 20 / 15


def test_a_jump_in_profile_is_not_judged() -> None:
    c = StreamContinuity()
    xs = [0.2 * i for i in range(20)] + [70 + 0.2 * i for i in range(20)]
    for i, x in enumerate(xs):
        c.update(i / 15, 1.5, _face(x), 60.0, 0.0)  # turned 60 degrees: FaceMesh jitters there
    assert c.cuts(0.0, 0.0) == []


def test_a_picture_that_jumps_is_a_cut_unless_the_screen_was_flashing() -> None:
    changes = [1.5] * 40
    changes[20] = 15.0  # the whole frame changes at once between frames 19 and 20
    xs = [0.0] * 40
    cuts = _run(xs, changes).cuts(0.0, 0.0)
    assert [c.kind for c in cuts] == ["frame_jump"]
    assert _run(xs, changes, lit=set(range(18, 30))).cuts(0.0, 0.0) == []
    assert _run(xs, changes, lit=set(range(30, 36))).cuts(0.0, 0.0) != []  # flashes elsewhere excuse nothing


def test_a_long_gap_is_not_a_frame_jump() -> None:
    c = StreamContinuity()
    t = 0.0
    for i in range(30):
        t += 1.0 if i == 15 else 1 / 15  # the network stalled a second
        c.update(t, 15.0 if i == 15 else 1.5, None, float("nan"), float("nan"))
    assert c.cuts(0.0, 0.0) == []
