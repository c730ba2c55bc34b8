"""Liveness use cases: frames from a video file or uploaded JPEGs, the face tracker, one session run.

The per-frame work is BlazeFace to find the face and FaceMesh to follow it: the
detector runs on the first frame, when the track is lost, and every
`redetect_every` frames to notice a second face or a swapped one; in between,
FaceMesh is fed the region its own previous landmarks give (MediaPipe's
tracking), which is what makes 100+ frames/s on one core possible.

Video files carry no capture timestamps: frame offsets come from the decoder
(`CAP_PROP_POS_MSEC`, or index / fps) and `anchor_frames` places them inside the
challenge window. A file's frame-rate padding (a frame decoded twice in a row,
as a 25 -> 30 fps conversion does) is dropped on decoding; repeats that are not
adjacent, or frames pushed directly, are left to the session's freshness check.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from simkyc.core.faces.types import Detection, Detector, Embedder, Image
from simkyc.core.images import decode_image
from simkyc.core.liveness import (
    Action,
    Challenge,
    FaceObservation,
    Frame,
    LivenessConfig,
    LivenessResult,
    LivenessSession,
    sign_challenge,
)
from simkyc.errors import InputError, Reason
from simkyc.models.facemesh import EyeRefiner, FaceMeshLandmarker

__all__ = [
    "LivenessModels",
    "TrackingAnalyzer",
    "VideoClip",
    "adhoc_challenge",
    "anchor_frames",
    "frames_from_jpegs",
    "read_video",
    "run_liveness",
    "run_liveness_video",
]

_DUPLICATE_MAD = 0.05  # grey levels on a 32x24 thumbnail, as the session's repeat check


def _area(d: Detection) -> float:
    return max(0.0, d.box.width) * max(0.0, d.box.height)


def _iou_with_points(d: Detection, points: np.ndarray) -> float:
    x0, y0 = points[:, 0].min(), points[:, 1].min()
    x1, y1 = points[:, 0].max(), points[:, 1].max()
    ix = max(0.0, min(x1, d.box.right) - max(x0, d.box.left))
    iy = max(0.0, min(y1, d.box.bottom) - max(y0, d.box.top))
    inter = ix * iy
    union = (x1 - x0) * (y1 - y0) + _area(d) - inter
    return float(inter / union) if union > 0 else 0.0


class TrackingAnalyzer:
    """The session's `FrameAnalyzer`: detect, then track with FaceMesh; one per session (it keeps the track).

    A second face counts when the detector finds one at least `other_face_min_ratio`
    of the main face's area (people far behind the customer are ignored).
    """

    def __init__(
        self,
        detector: Detector,
        landmarker: FaceMeshLandmarker,
        eyes: EyeRefiner | None = None,
        *,
        redetect_every: int = 15,
        min_mesh_score: float = 0.5,
        min_detection_score: float = 0.6,
        other_face_min_ratio: float = 0.3,
        min_overlap: float = 0.3,
    ) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.eyes = eyes
        self.redetect_every = redetect_every
        self.min_mesh_score = min_mesh_score
        self.min_detection_score = min_detection_score
        self.other_face_min_ratio = other_face_min_ratio
        self.min_overlap = min_overlap
        self._prev: np.ndarray | None = None
        self._since_detect = 0
        self._track = 0
        self.detector_runs = 0

    def observe(self, image: Image) -> FaceObservation | None:
        obs = self._observe(image)
        if obs is None or self.eyes is None:
            return obs
        refined = self.eyes.refine(image, obs.landmarks)
        return FaceObservation(refined, obs.score, obs.faces_seen, obs.detected, obs.track_id)

    def _observe(self, image: Image) -> FaceObservation | None:
        tracked = None
        if self._prev is not None:
            mesh = self.landmarker.track(image, self._prev)
            if mesh.score >= self.min_mesh_score:
                tracked = mesh
        if tracked is not None and self._since_detect < self.redetect_every:
            self._prev = tracked.points
            self._since_detect += 1
            return FaceObservation(tracked.points, tracked.score, 1, False, self._track)
        return self._detect(image, tracked.points if tracked is not None else None)

    def _detect(self, image: Image, tracked: np.ndarray | None) -> FaceObservation | None:
        self.detector_runs += 1
        self._since_detect = 0
        dets = [d for d in self.detector.detect(image) if d.score >= self.min_detection_score]
        if not dets:
            self._prev = None
            return None
        dets.sort(key=_area, reverse=True)
        main_area = _area(dets[0])
        faces = [d for d in dets if _area(d) >= self.other_face_min_ratio * main_area]
        if tracked is not None:
            best = max(faces, key=lambda d: _iou_with_points(d, tracked))
            if _iou_with_points(best, tracked) >= self.min_overlap:
                self._prev = tracked
                return FaceObservation(tracked, 1.0, len(faces), True, self._track)
        # a new track: the largest face
        mesh = self.landmarker.from_detection(image, dets[0])
        if mesh.score < self.min_mesh_score:
            self._prev = None
            return None
        mesh = self.landmarker.track(image, mesh.points)  # refine from the mesh's own region
        self._track += 1
        self._prev = mesh.points
        return FaceObservation(mesh.points, mesh.score, len(faces), True, self._track)


@dataclass(frozen=True, slots=True)
class LivenessModels:
    """The heavy, shareable parts; `analyzer()` makes the per-session tracker."""

    detector: Detector
    landmarker: FaceMeshLandmarker
    eyes: EyeRefiner | None
    embedder: Embedder | None

    @classmethod
    def load(cls, *, embedder: Embedder | None = None) -> LivenessModels:
        """BlazeFace, FaceMesh and the iris model from their packages (LiteRT, one thread each)."""
        from simkyc.models.blazeface import BlazeFaceDetector

        return cls(BlazeFaceDetector(), FaceMeshLandmarker(), EyeRefiner(), embedder)

    def analyzer(self) -> TrackingAnalyzer:
        return TrackingAnalyzer(self.detector, self.landmarker, self.eyes)


@dataclass(frozen=True, slots=True)
class VideoClip:
    """Decoded RGB frames, their offsets in seconds from the first frame, and what decoding dropped."""

    frames: list[Image]
    offsets: list[float]
    fps: float
    dropped_repeats: int

    @property
    def duration(self) -> float:
        return self.offsets[-1] - self.offsets[0] if self.offsets else 0.0


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _image_kind(head: bytes) -> str | None:
    """The still-image format a file starts with, if any."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _IMAGE_MAGIC if head.startswith(magic)), None)


def read_video(path: Path, *, max_side: int = 640, max_frames: int = 3000) -> VideoClip:
    """Decode a video file to RGB frames no larger than `max_side`, with decoder timestamps.

    :raises InputError: VIDEO_UNREADABLE (missing file, not a video), VIDEO_EMPTY (no frames).
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(Reason.VIDEO_UNREADABLE, f"{p.name} is a directory, not a video")
    if not p.is_file():
        raise InputError(Reason.VIDEO_UNREADABLE, f"no such file: {p.name}")
    if p.stat().st_size == 0:
        raise InputError(Reason.VIDEO_EMPTY, f"{p.name} is an empty file")
    try:
        with p.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(Reason.VIDEO_UNREADABLE, f"cannot read {p.name}: {exc.strerror}") from None
    kind = _image_kind(head)
    if kind is not None:  # OpenCV would read a still image as a one-frame "video"
        raise InputError(Reason.VIDEO_UNREADABLE, f"{p.name} is a {kind} image, not a video")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(Reason.VIDEO_UNREADABLE)
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        frames: list[Image] = []
        offsets: list[float] = []
        last_thumb: np.ndarray | None = None
        dropped = 0
        index = 0
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            pos_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
            offset = pos_ms / 1000.0 if pos_ms > 0 or index == 0 else (index / fps if fps > 0 else math.nan)
            index += 1
            h, w = bgr.shape[:2]
            scale = max_side / max(h, w)
            if scale < 1:
                bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
            thumb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (32, 24), interpolation=cv2.INTER_AREA)
            thumb_f = thumb.astype(np.float32)
            if last_thumb is not None and float(np.abs(thumb_f - last_thumb).mean()) < _DUPLICATE_MAD:
                dropped += 1  # the container repeated the previous frame (frame-rate padding)
                continue
            last_thumb = thumb_f
            frames.append(rgb)
            offsets.append(offset)
    finally:
        cap.release()
    if not frames:
        raise InputError(Reason.VIDEO_EMPTY)
    if any(not math.isfinite(o) for o in offsets):
        step = 1.0 / fps if fps > 0 else 1.0 / 15
        offsets = [i * step for i in range(len(frames))]
    first = offsets[0]
    return VideoClip(frames, [o - first for o in offsets], fps, dropped)


def anchor_frames(clip: VideoClip, challenge: Challenge, *, start_delay_s: float = 0.2) -> list[Frame]:
    """Give a clip's frames capture times inside the challenge window (as a capture page would)."""
    t0 = challenge.issued_at + start_delay_s
    return [Frame(img, t0 + off) for img, off in zip(clip.frames, clip.offsets, strict=True)]


def frames_from_jpegs(parts: Iterable[tuple[bytes, float]]) -> list[Frame]:
    """Uploaded frames (JPEG bytes, capture timestamp in seconds) to `Frame`s.

    :raises InputError: IMAGE_UNREADABLE and friends from `decode_image`.
    """
    return [Frame(decode_image(data), float(ts)) for data, ts in parts]


def adhoc_challenge(actions: Sequence[Action], *, now: float | None = None, ttl_s: float = 60.0) -> Challenge:
    """A challenge for offline checks (CLI, benchmarks): given actions, fresh nonce, a throwaway key."""
    issued = round(time.time() if now is None else now, 3)
    ch = Challenge(tuple(actions), secrets.token_hex(16), issued, round(issued + ttl_s, 3))
    return sign_challenge(ch, secrets.token_bytes(32))


def run_liveness(
    frames: Iterable[Frame],
    challenge: Challenge,
    *,
    models: LivenessModels,
    config: LivenessConfig | None = None,
) -> LivenessResult:
    """Push the frames through a fresh session and decide. The challenge must already be verified."""
    session = LivenessSession(challenge, analyzer=models.analyzer(), embedder=models.embedder, config=config)
    session.start(challenge.issued_at)
    for frame in frames:
        session.push(frame)
        if session.done and session.waiting_for is not None:
            break  # failed: the rest cannot change the decision
    return session.finish()


def run_liveness_video(
    path: Path,
    challenge: Challenge,
    *,
    models: LivenessModels,
    config: LivenessConfig | None = None,
) -> LivenessResult:
    """Decode a video file, anchor it to the challenge window and run a session over it."""
    clip = read_video(path)
    return run_liveness(anchor_frames(clip, challenge), challenge, models=models, config=config)
