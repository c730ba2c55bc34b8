"""Stream continuity: a live camera has no cuts; an edited recording does, wherever it was joined.

Two signs of a cut between frames i and i+1, each judged against the frames on either side (a
head moves smoothly: it cannot accelerate and stop again within one frame interval):

- the face jumps: its motion from i to i+1 (translation of the rigid landmarks and change of
  size, in inter-ocular distances, and change of yaw/pitch, per 30 degrees) differs from the mean
  of its motion just before and just after by more than `jump_floor` plus `jump_slack` times that
  neighbouring motion; judged only where the face is near frontal (FaceMesh is jittery in profile);
- the whole picture jumps: the frame-to-frame grey change at i -> i+1 is `spike_ratio` times the
  change just before and just after (and at least `spike_min` grey levels), as at a cut between
  two moments of one static scene; not judged from `light_settle_s` before the light challenge's
  first stamped frame to as long after its last (each new colour changes the lit face's
  brightness at once, as a cut would).

A cut between two moments where the head sits in nearly the same place, pose and expression
leaves neither sign; the light challenge is what refuses recordings (see README, Liveness).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simkyc.core.liveness.checks import RIGID_POINTS
from simkyc.core.liveness.signals import inter_ocular

__all__ = ["Cut", "StreamContinuity"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Cut:
    """A discontinuity between the frames at `before` and `after` (capture times), and its score (> 1)."""

    before: float
    after: float
    kind: str  # "face_jump" or "frame_jump"
    score: float


@dataclass(slots=True)
class _Step:
    """One accepted frame: its time, grey change from the previous frame, and the face's motion since."""

    t: float
    change: float
    motion: tuple[float, float, float, float] | None  # (dx, dy, 2*dlog(scale), dpose/30) from the previous
    yaw: float
    pitch: float
    lit: bool  # shown while the light challenge flashed


@dataclass(slots=True)
class StreamContinuity:
    """Online record of the stream's motion; `cuts()` judges it once the session ends."""

    jump_floor: float = 0.6
    jump_slack: float = 0.8
    frontal_yaw: float = 25.0
    frontal_pitch: float = 20.0
    spike_ratio: float = 4.5
    spike_min: float = 5.0
    max_gap_s: float = 0.3  # longer intervals between frames are not judged by the frame jump
    light_settle_s: float = 0.5
    _steps: list[_Step] = field(default_factory=list)
    _prev_points: FloatArray | None = None
    _prev_iod: float = 0.0
    _prev_pose: tuple[float, float] = (0.0, 0.0)

    def update(
        self,
        t: float,
        change: float,
        landmarks: FloatArray | None,
        yaw: float,
        pitch: float,
        *,
        lit: bool = False,
    ) -> None:
        """Record one accepted frame (`change`: grey MAD of its thumbnail to the previous frame's;
        `lit`: stamped with a light-challenge step)."""
        motion = None
        if landmarks is None:
            self._prev_points = None
        else:
            pts = landmarks[list(RIGID_POINTS), :2].astype(np.float32)
            iod = max(inter_ocular(landmarks), 1.0)
            if self._prev_points is not None:
                scale = (iod + self._prev_iod) / 2
                d = np.median(pts - self._prev_points, axis=0) / scale
                dpose = float(np.hypot(yaw - self._prev_pose[0], pitch - self._prev_pose[1]))
                motion = (float(d[0]), float(d[1]), 2 * float(np.log(iod / self._prev_iod)), dpose / 30)
            self._prev_points, self._prev_iod, self._prev_pose = pts, iod, (yaw, pitch)
        self._steps.append(_Step(t, change, motion, yaw, pitch, lit))

    def cuts(self, yaw_base: float, pitch_base: float) -> list[Cut]:
        """Every discontinuity found; `yaw_base`/`pitch_base` are the session's frontal pose."""
        out: list[Cut] = []
        s = self._steps
        lit = [st.t for st in s if st.lit]
        lit_from = lit[0] - self.light_settle_s if lit else np.inf
        lit_to = lit[-1] + self.light_settle_s if lit else -np.inf
        for i in range(1, len(s) - 2):
            a, b, c, d = s[i - 1], s[i], s[i + 1], s[i + 2]  # the pair judged is b -> c
            dt = c.t - b.t
            if dt <= 0:
                continue
            if dt <= self.max_gap_s and not (lit_from <= c.t and a.t <= lit_to):
                around = max(b.change, d.change, 1.0)
                if c.change >= self.spike_min and c.change >= self.spike_ratio * around:
                    out.append(Cut(b.t, c.t, "frame_jump", c.change / (self.spike_ratio * around)))
            score = self._jump(a, b, c, d, yaw_base, pitch_base)
            if score > 1.0:
                out.append(Cut(b.t, c.t, "face_jump", score))
        return out

    def _jump(self, a: _Step, b: _Step, c: _Step, d: _Step, yaw_base: float, pitch_base: float) -> float:
        """How far the face's motion b -> c departs from its motion a -> b and c -> d (> 1: a jump)."""
        if b.motion is None or c.motion is None or d.motion is None:
            return 0.0
        for st in (b, c):
            if abs(st.yaw - yaw_base) > self.frontal_yaw or abs(st.pitch - pitch_base) > self.frontal_pitch:
                return 0.0
        dt_in, dt, dt_out = b.t - a.t, c.t - b.t, d.t - c.t
        if min(dt_in, dt, dt_out) <= 0:
            return 0.0
        v_in = np.asarray(b.motion) / dt_in  # per second
        v = np.asarray(c.motion) / dt
        v_out = np.asarray(d.motion) / dt_out
        excess = float(np.linalg.norm(v - (v_in + v_out) / 2)) * dt
        around = max(float(np.linalg.norm(v_in)), float(np.linalg.norm(v_out))) * dt
        return excess / (self.jump_floor + self.jump_slack * around)

    @property
    def frames(self) -> int:
        return len(self._steps)
