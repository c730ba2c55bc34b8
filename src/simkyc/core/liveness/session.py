"""The liveness session: frames in one at a time, progress events out, then one decision.

A session follows one issued challenge. Each pushed frame is checked for
freshness, handed to the injected `FrameAnalyzer` (face found and tracked),
turned into `FrameSignals`, and fed to the detector of the action currently
awaited; actions count only in the issued order. Hard failures (stale or
repeated frames, several faces, face lost, deadline passed) end the session at
once with a `failed` event. `finish()` then runs the whole-session checks:
every action seen, one continuous face (track continuity and, with an
`Embedder`, agreeing templates at start, middle, end and every track restart),
a head that is not a plane (homography residual between the frontal and the
turned frames), a stream without cuts (`continuity`), the passive screen and
print cues, and, when the challenge carries one, the face's answer to the light
sequence (`light_check`). Everything the session keeps is plain data (numbers,
arrays, dataclasses) besides its two injected collaborators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from hashlib import sha256

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Embedder, Image
from simkyc.core.liveness.challenge import Challenge
from simkyc.core.liveness.checks import FrameFreshness, PlanarFlow, planar_residual
from simkyc.core.liveness.continuity import StreamContinuity
from simkyc.core.liveness.light import LightColour
from simkyc.core.liveness.light_check import LightConfig, LightSample, light_check, light_sample
from simkyc.core.liveness.passive import PassiveCues, passive_cues
from simkyc.core.liveness.signals import (
    eye_aspect_ratio,
    face_aspect,
    face_chip,
    face_crop_grey,
    frame_thumbnail,
    head_pose,
    inter_ocular,
    sharpness_exposure,
)
from simkyc.core.liveness.types import (
    Action,
    EventKind,
    FaceObservation,
    Frame,
    FrameAnalyzer,
    FrameSignals,
    LivenessResult,
    ProgressEvent,
)
from simkyc.errors import Reason

__all__ = ["LivenessConfig", "LivenessSession"]

FloatArray = npt.NDArray[np.float32]
_MOVES = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD)


@dataclass(frozen=True, slots=True)
class LivenessConfig:
    """Thresholds of a session. Defaults were set on the real clips in ../shared/data/videos."""

    turn_deg: float = 18.0  # yaw away from the session's own baseline
    nod_deg: float = 12.0  # pitch away from baseline, with yaw under turn_deg
    min_action_frames: int = 2  # consecutive frames past the threshold
    blink_close_ratio: float = 0.72  # EAR below this share of the open-eye baseline: closed
    blink_open_ratio: float = 0.85  # back above this share: reopened
    blink_max_s: float = 0.7
    blink_max_pose_deg: float = 25.0
    blink_max_aspect_change: float = 0.10  # face height/width change allowed during a blink
    min_baseline_frames: int = 5
    baseline_window: int = 150
    max_face_lost_s: float = 3.0  # a turn to full profile loses the face for a second or two
    min_face_px: float = 30.0  # inter-ocular distance
    min_interval_s: float = 0.008
    max_interval_s: float = 1.5
    repeat_mad: float = 0.05
    embed_interval_s: float = 0.5
    max_keyframes: int = (
        8  # periodic embeddings per session (start, middle, end...), plus as many restarts or cuts
    )
    cut_mad: float = 20.0  # whole-frame grey change between consecutive frames that marks a cut
    # cosine between any two keyframes; for dlib-resnet-v1 on these clips: same person >= 0.89, the man
    # and the woman of ../shared/data/videos 0.83-0.87. The shell should set it from the embedder's
    # calibration.
    same_face_min_similarity: float = 0.88
    planar_min_pose_deg: float = 12.0  # pose change needed before the planar test says anything
    planar_max_pose_deg: float = 40.0  # frames turned further are not used by the planar test
    planar_max_residual: float = 0.012  # below this share of the inter-ocular distance: a plane
    passive_every_s: float = 1.0
    # median passive log-odds above this refuses; set above the bona fide clips' 2.7 (see passive.py: the
    # image-level model does not separate this webcam's live frames from its replay, so it decides little)
    passive_max_score: float = 4.0
    best_frames: int = 5  # averaged into one template for the 1:1 match (K=5 measured in eval accuracy)
    continuity: bool = True  # refuse a stream with cuts (STREAM_DISCONTINUITY)
    light: LightConfig = field(default_factory=LightConfig)  # used when the challenge carries a sequence


@dataclass(slots=True)
class _Blink:
    """Open -> closed -> open within `blink_max_s`, with the face's shape steady."""

    closed_at: float | None = None
    aspect_at_close: float = 0.0

    def update(
        self, s: FrameSignals, aspect: float, ear_base: float, pose_ok: bool, cfg: LivenessConfig
    ) -> bool:
        if not s.face_ok or ear_base <= 0 or not pose_ok:
            self.closed_at = None
            return False
        if self.closed_at is None:
            if s.ear < cfg.blink_close_ratio * ear_base:
                self.closed_at = s.timestamp
                self.aspect_at_close = aspect
            return False
        if s.timestamp - self.closed_at > cfg.blink_max_s:
            self.closed_at = None
            return False
        if abs(aspect - self.aspect_at_close) > cfg.blink_max_aspect_change * max(self.aspect_at_close, 1e-6):
            self.closed_at = None  # the whole face changed shape: a tilted picture, not a blink
            return False
        if s.ear >= cfg.blink_open_ratio * ear_base:
            self.closed_at = None
            return True
        return False


@dataclass(slots=True)
class _Pose:
    """Yaw or pitch past a threshold for `min_action_frames` consecutive frames."""

    action: Action
    run: int = 0
    first_t: float = 0.0

    def update(self, s: FrameSignals, dyaw: float, dpitch: float, cfg: LivenessConfig) -> bool:
        if not s.face_ok:
            self.run = 0
            return False
        if self.action is Action.TURN_LEFT:
            hit = dyaw > cfg.turn_deg
        elif self.action is Action.TURN_RIGHT:
            hit = dyaw < -cfg.turn_deg
        else:
            hit = abs(dpitch) > cfg.nod_deg and abs(dyaw) < cfg.turn_deg
        if not hit:
            self.run = 0
            return False
        if self.run == 0:
            self.first_t = s.timestamp
        self.run += 1
        return self.run >= cfg.min_action_frames


@dataclass(slots=True)
class _Detector:
    blink: _Blink = field(default_factory=_Blink)
    poses: dict[Action, _Pose] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.poses = {a: _Pose(a) for a in _MOVES}

    def update(
        self,
        action: Action,
        s: FrameSignals,
        aspect: float,
        base: tuple[float, float, float],
        cfg: LivenessConfig,
    ) -> bool:
        ear_base, yaw_base, pitch_base = base
        dyaw, dpitch = s.yaw - yaw_base, s.pitch - pitch_base
        if action is Action.BLINK:
            pose_ok = abs(dyaw) < cfg.blink_max_pose_deg and abs(dpitch) < cfg.blink_max_pose_deg
            return self.blink.update(s, aspect, ear_base, pose_ok, cfg)
        return self.poses[action].update(s, dyaw, dpitch, cfg)


@dataclass(slots=True)
class _Tracked:
    """What is kept of a frame with a face, for the whole-session checks."""

    timestamp: float
    landmarks: FloatArray
    signals: FrameSignals
    track_id: int


class LivenessSession:
    """One challenge, frames pushed in capture order, then `finish()`.

    Collaborators are injected: `analyzer` (finds and tracks the face; one per
    session, it keeps state) and optionally `embedder` (a core `Embedder`) for the
    same-face check; without an embedder a restarted track is refused as FACE_CHANGED,
    since nothing can show it is the same person.
    """

    def __init__(
        self,
        challenge: Challenge,
        *,
        analyzer: FrameAnalyzer,
        embedder: Embedder | None = None,
        config: LivenessConfig | None = None,
    ) -> None:
        self.challenge = challenge
        self.config = config or LivenessConfig()
        self._analyzer = analyzer
        self._embedder = embedder
        self._fresh = FrameFreshness(
            issued_at=challenge.issued_at,
            deadline=challenge.deadline,
            min_interval_s=self.config.min_interval_s,
            max_interval_s=self.config.max_interval_s,
            repeat_mad=self.config.repeat_mad,
        )
        self._next = 0  # index of the awaited action
        self._ordered = _Detector()
        self._free = {a: _Detector() for a in challenge.actions}  # any order, for LIVENESS_WRONG_ORDER
        self._seen_any: dict[Action, float] = {}
        self.action_times: dict[Action, float] = {}
        self._failed: Reason | None = None
        self._finished: LivenessResult | None = None
        self._events: list[ProgressEvent] = []
        self._signals: list[FrameSignals] = []
        self._tracked: list[_Tracked] = []
        self._yaws: list[float] = []
        self._pitches: list[float] = []
        self._ears: list[float] = []
        self._aspects: list[float] = []
        self._last_face_t: float | None = None
        self._small_since: float | None = None  # a face is seen but too small since then
        self._first_t: float | None = None
        self._track_ids: set[int] = set()
        self._keyframes: list[tuple[float, bool, Image]] = []  # (time, forced, chip)
        self._key_pending = False
        self._last_key_t = -math.inf
        self._last_passive_t = -math.inf
        self._passive: list[PassiveCues] = []
        self._best: list[tuple[float, float, Image]] = []  # (score, time, image)
        self._stale: dict[str, int] = {}  # freshness problems and cuts, by kind
        self._frames = 0
        self._flow = PlanarFlow()
        self._parallax: list[tuple[float, float]] = []  # (pose deviation, flow homography residual)
        self._continuity = StreamContinuity()
        self._light: list[LightSample] = []  # one per frame stamped with a step of challenge.light

    # -- public ------------------------------------------------------------------------------

    @property
    def waiting_for(self) -> Action | None:
        return self.challenge.actions[self._next] if self._next < len(self.challenge.actions) else None

    @property
    def done(self) -> bool:
        """Failed, or every action seen and (with a light challenge) its white tail reached: the
        frames after that cannot change the decision."""
        if self._failed is not None:
            return True
        tail = len(self.challenge.light) - 1
        return self.waiting_for is None and (tail < 0 or any(s.step == tail for s in self._light))

    @property
    def face_in_view(self) -> bool:
        """Whether the last frame pushed showed a usable face (the page's "face not found" hint)."""
        return bool(self._signals) and bool(self._signals[-1].face_ok)

    def start(self, now: float) -> list[ProgressEvent]:
        """The first event for the page: what to do first."""
        return self._emit([ProgressEvent(EventKind.WAITING_FOR, now, action=self.waiting_for)])

    def push(self, frame: Frame) -> list[ProgressEvent]:
        """Consume one frame; returns the events it caused (often none)."""
        if self._failed is not None or self._finished is not None:
            return []
        self._frames += 1
        t = frame.timestamp
        if self._first_t is None:
            self._first_t = t
        if t > self.challenge.deadline and self.waiting_for is not None:
            return self._fail(Reason.LIVENESS_TIMEOUT, t)
        problem = self._fresh.check(t, frame_thumbnail(frame.image))
        if problem is not None:
            self._stale[problem] = self._stale.get(problem, 0) + 1
            return self._fail(Reason.STALE_OR_REPLAYED_FRAMES, t)
        obs = self._analyzer.observe(frame.image)
        if obs is None:
            self._unmeasured(frame)
            return self._no_face(t)
        if obs.detected and obs.faces_seen > 1:
            return self._fail(Reason.MULTIPLE_FACES, t)
        return self._with_face(frame, obs)

    def finish(self) -> LivenessResult:
        """The decision. Safe to call more than once (the result is kept)."""
        if self._finished is None:
            self._finished = self._decide()
        return self._finished

    # -- per frame ---------------------------------------------------------------------------

    def _emit(self, events: list[ProgressEvent]) -> list[ProgressEvent]:
        self._events.extend(events)
        return events

    def _fail(self, reason: Reason, t: float) -> list[ProgressEvent]:
        self._failed = reason
        return self._emit([ProgressEvent(EventKind.FAILED, t, reason=reason)])

    def _blank(self, t: float) -> FrameSignals:
        return FrameSignals(t, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0.0, False)

    def _no_face(self, t: float) -> list[ProgressEvent]:
        self._signals.append(self._blank(t))
        lost = self._last_face_t is not None and t - self._last_face_t > self.config.max_face_lost_s
        if lost and self.waiting_for is not None:  # once every action is seen, leaving is no failure
            small = self._small_since is not None and t - self._small_since > self.config.max_face_lost_s
            return self._fail(Reason.FACE_TOO_SMALL if small else Reason.FACE_LOST, t)
        return []

    def _baselines(self) -> tuple[float, float, float]:
        w = self.config.baseline_window
        yaw = float(np.median(self._yaws[-w:]))
        pitch = float(np.median(self._pitches[-w:]))
        # open-eye EAR: a high percentile over near-frontal frames, so blinks do not drag it down
        ears = self._ears[-w:]
        ear = float(np.percentile(ears, 80)) if ears else 0.0
        return ear, yaw, pitch

    def _stamp(self, frame: Frame) -> int | None:
        """The frame's light step when the challenge has a light sequence and the stamp is one of it."""
        return frame.light if 0 <= frame.light < len(self.challenge.light) else None

    def _unmeasured(self, frame: Frame) -> None:
        """A frame without a usable face: continuity loses the face; a stamped frame counts, unmeasured."""
        step = self._stamp(frame)
        self._continuity.update(
            frame.timestamp, self._fresh.last_change, None, math.nan, math.nan, lit=step is not None
        )
        if step is not None:
            self._light.append(LightSample(frame.timestamp, step, None, None))

    def _with_face(self, frame: Frame, obs: FaceObservation) -> list[ProgressEvent]:
        cfg = self.config
        t, image, lm = frame.timestamp, frame.image, obs.landmarks
        iod = inter_ocular(lm)
        if iod < cfg.min_face_px:
            self._small_since = t if self._small_since is None else self._small_since
            self._unmeasured(frame)
            return self._no_face(t)
        self._small_since = None
        pose = head_pose(lm, (image.shape[0], image.shape[1]))
        er, el = eye_aspect_ratio(lm)
        grey = face_crop_grey(image, lm)
        sharp, bright = sharpness_exposure(grey)
        s = FrameSignals(t, (er + el) / 2, pose.yaw, pose.pitch, pose.roll, sharp, bright, iod, True)
        aspect = face_aspect(lm)
        step = self._stamp(frame)
        self._continuity.update(t, self._fresh.last_change, lm, pose.yaw, pose.pitch, lit=step is not None)
        if step is not None:
            self._light.append(light_sample(image, lm, timestamp=t, step=step))
        self._signals.append(s)
        self._last_face_t = t
        self._tracked.append(_Tracked(t, lm, s, obs.track_id))
        self._yaws.append(s.yaw)
        self._pitches.append(s.pitch)
        self._aspects.append(aspect)

        events: list[ProgressEvent] = []
        ear_base, yaw_base, pitch_base = self._baselines() if self._yaws else (0.0, 0.0, 0.0)
        frontal = abs(s.yaw - yaw_base) < 15 and abs(s.pitch - pitch_base) < 15
        if frontal:
            self._ears.append(s.ear)
        new_track = obs.track_id not in self._track_ids
        self._track_ids.add(obs.track_id)
        if self._fresh.last_change > cfg.cut_mad:
            self._stale["cuts"] = self._stale.get("cuts", 0) + 1
        if new_track or self._fresh.last_change > cfg.cut_mad:
            self._key_pending = True
        # keyframes for the same-face check: after each track start or cut (forced, at the first
        # fairly frontal frame) and every embed_interval_s while frontal
        near = abs(s.yaw - yaw_base) < 25 and abs(s.pitch - pitch_base) < 20
        forced = self._key_pending and near
        if self._embedder is not None and (
            forced or (frontal and t - self._last_key_t >= cfg.embed_interval_s)
        ):
            self._keyframes.append((t, forced, face_chip(image, lm, size=self._embedder.chip_size)))
            self._last_key_t = t
            self._key_pending = self._key_pending and not forced
        if t - self._last_passive_t >= cfg.passive_every_s:
            self._passive.append(passive_cues(image, lm))
            self._last_passive_t = t
        if step is None or self.challenge.light[step].colour is LightColour.WHITE:  # no tinted face to match
            self._consider_best(image, s, ear_base, yaw_base, pitch_base)
        if len(self._yaws) >= cfg.min_baseline_frames:
            dev = math.hypot(s.yaw - yaw_base, s.pitch - pitch_base)
            residual = self._flow.update(image, lm, dev)
            if residual is not None:
                self._parallax.append((dev, residual))

        if len(self._yaws) < cfg.min_baseline_frames:
            return events
        base = (ear_base, yaw_base, pitch_base)
        for action, det in self._free.items():
            if action not in self._seen_any and det.update(action, s, aspect, base, cfg):
                self._seen_any[action] = t
        awaited = self.waiting_for
        if awaited is not None and self._ordered.update(awaited, s, aspect, base, cfg):
            self.action_times[awaited] = t
            events.append(ProgressEvent(EventKind.ACTION_DONE, t, action=awaited))
            self._next += 1
            self._ordered = _Detector()  # the next action must start after this one
            nxt = self.waiting_for
            if nxt is not None:
                events.append(ProgressEvent(EventKind.WAITING_FOR, t, action=nxt))
        return self._emit(events)

    def _consider_best(
        self, image: Image, s: FrameSignals, ear_base: float, yaw_b: float, pitch_b: float
    ) -> None:
        """Keep the few frames best for a 1:1 match: frontal, eyes open, sharp."""
        pose_pen = math.hypot(s.yaw - yaw_b, s.pitch - pitch_b)
        if pose_pen > 12 or (ear_base > 0 and s.ear < 0.85 * ear_base):
            return
        score = math.log1p(s.sharpness) - pose_pen / 6.0
        self._best.append((score, s.timestamp, image))
        self._best.sort(key=lambda x: -x[0])
        del self._best[self.config.best_frames :]

    # -- whole session -----------------------------------------------------------------------

    def _decide(self) -> LivenessResult:
        reasons: list[Reason] = []
        scores: dict[str, float] = {
            "frames": float(self._frames),
            "frames_with_face": float(len(self._tracked)),
            "track_restarts": float(max(0, len(self._track_ids) - 1)),
        }
        for k, v in self._stale.items():
            scores[f"stale_{k}"] = float(v)
        if self._failed is not None:
            reasons.append(self._failed)
        elif not self._tracked:
            reasons.append(Reason.FACE_TOO_SMALL if self._small_since is not None else Reason.NO_FACE)
        if self._tracked and self._failed is None:
            if self.waiting_for is not None:
                all_seen = all(a in self._seen_any for a in self.challenge.actions)
                reasons.append(Reason.LIVENESS_WRONG_ORDER if all_seen else Reason.LIVENESS_ACTION_MISSING)
            reasons.extend(self._same_face(scores))
            reasons.extend(self._planar(scores, challenge_done=self.waiting_for is None))
            reasons.extend(self._passive_decision(scores))
            reasons.extend(self._continuous(scores))
            reasons.extend(self._light_decision(scores))
        ear_base, _, _ = self._baselines() if self._yaws else (0.0, 0.0, 0.0)
        scores["ear_baseline"] = ear_base
        passed = not reasons
        if passed and self.challenge.light_waived:
            reasons.append(Reason.LIGHT_CHALLENGE_WAIVED)  # passed, but a supervisor must confirm
        final = ProgressEvent(
            EventKind.PASSED if passed else EventKind.FAILED,
            self._tracked[-1].timestamp if self._tracked else (self._first_t or 0.0),
            reason=None if passed else reasons[0],
        )
        if self._failed is None:
            self._events.append(final)
        return LivenessResult(
            passed=passed,
            reasons=tuple(dict.fromkeys(reasons)),
            action_times=dict(self.action_times),
            best_frames=[img for _, _, img in self._best] if passed else [],
            scores=scores,
            signals=tuple(self._signals),
            events=tuple(self._events),
        )

    def _same_face(self, scores: dict[str, float]) -> list[Reason]:
        restarts = len(self._track_ids) - 1
        if self._embedder is None:
            return [Reason.FACE_CHANGED] if restarts > 0 else []
        keys = self._keyframes
        cap = self.config.max_keyframes
        if len(keys) > cap:
            # every track start and cut (latest, up to `cap`), plus start, middle, end and an even spread
            forced = [i for i, k in enumerate(keys) if k[1]][-cap:]
            chosen = set(forced) | {0, len(keys) // 2, len(keys) - 1}
            for i in np.linspace(0, len(keys) - 1, cap).round().astype(int):
                if len(chosen) >= cap + len(forced):
                    break
                chosen.add(int(i))
            keys = [keys[i] for i in sorted(chosen)]
        if len(keys) < 2:
            return []
        templates = self._embedder.embed_batch([chip for _, _, chip in keys])
        sims = templates @ templates.T
        worst = float(sims.min())
        scores["same_face_min_similarity"] = worst
        scores["keyframes"] = float(len(keys))
        return [Reason.FACE_CHANGED] if worst < self.config.same_face_min_similarity else []

    def _planar(self, scores: dict[str, float], *, challenge_done: bool) -> list[Reason]:
        """A flat picture: the face's pixels followed from the frontal to the turned poses fit one homography.

        Decided on the optical-flow residuals measured at pose deviations between
        `planar_min_pose_deg` and `planar_max_pose_deg` (the median of the three
        most turned, so one slipping frame decides nothing). The landmark residual
        is reported alongside; FaceMesh bends a tilted picture's mesh too much for
        it to decide.

        A spoof verdict is a rejection, so it needs the evidence of a whole challenge: the
        residual decides once every action was seen, or once the face turned as far as a turn
        action (`turn_deg`). A capture cut short early in a turn (12-15 deg: real.mov's own
        residual there is 0.015-0.017, and JPEG frames push it under 0.012) is then refused for
        the missing action, a retry, not as a picture.
        """
        cfg = self.config
        usable = [
            (d, r) for d, r in self._parallax if cfg.planar_min_pose_deg <= d <= cfg.planar_max_pose_deg
        ]
        if self._parallax:
            scores["pose_span_deg"] = max(d for d, _ in self._parallax)
        if len(self._tracked) >= 2:
            _, yaw_b, pitch_b = self._baselines()
            dev = [math.hypot(k.signals.yaw - yaw_b, k.signals.pitch - pitch_b) for k in self._tracked]
            ok = [i for i, d in enumerate(dev) if d <= cfg.planar_max_pose_deg]
            if ok:
                f = min(ok, key=lambda i: dev[i])
                t = max(ok, key=lambda i: dev[i])
                scores["landmark_planar_residual"] = planar_residual(
                    self._tracked[f].landmarks, self._tracked[t].landmarks
                )
        if not usable:
            return []
        usable.sort(key=lambda x: -x[0])
        residual = float(np.median([r for _, r in usable[:3]]))
        scores["planar_residual"] = residual
        enough = challenge_done or usable[0][0] >= cfg.turn_deg
        return [Reason.SPOOF_PLANAR_MOTION] if enough and residual < cfg.planar_max_residual else []

    def _continuous(self, scores: dict[str, float]) -> list[Reason]:
        """STREAM_DISCONTINUITY when the stream jumps where a live camera cannot (see `continuity`)."""
        _, yaw_b, pitch_b = self._baselines() if self._yaws else (0.0, 0.0, 0.0)
        cuts = self._continuity.cuts(yaw_b, pitch_b)
        scores["stream_cuts"] = float(len(cuts))
        if cuts:
            scores["stream_cut_at"] = cuts[0].after
        if cuts and self.config.continuity:
            return [Reason.STREAM_DISCONTINUITY]
        return []

    def _light_decision(self, scores: dict[str, float]) -> list[Reason]:
        """The face's answer to the challenge's light sequence (nothing when it has none)."""
        if not self.challenge.light:
            return []
        seed = int.from_bytes(sha256(self.challenge.nonce.encode()).digest()[:8], "big")
        result = light_check(self._light, self.challenge.light, config=self.config.light, seed=seed)
        scores["light_frames"] = float(result.stamped)
        scores["light_frames_measured"] = float(result.measured)
        for name in ("corr", "lag_s", "p_value", "gain", "ring_share", "dark_ratio"):
            value = float(getattr(result, name))
            if math.isfinite(value):
                scores[f"light_{name}"] = value
        return [] if result.reason is None else [result.reason]

    def _passive_decision(self, scores: dict[str, float]) -> list[Reason]:
        if not self._passive:
            return []
        score = float(np.median([p.score for p in self._passive]))
        screen = float(np.median([p.screen for p in self._passive]))
        printed = float(np.median([p.printed for p in self._passive]))
        scores["passive_score"] = score
        scores["passive_screen_share"] = screen
        scores["passive_print_share"] = printed
        if score <= self.config.passive_max_score:
            return []
        return [Reason.SPOOF_SCREEN if screen >= printed else Reason.SPOOF_PRINT]
