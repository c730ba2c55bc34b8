"""Active liveness decided by the server: challenges, per-frame signals, the session, attack checks.

Pure: arrays and dataclasses in and out; the face tracker and the embedder are injected.
"""

from __future__ import annotations

from simkyc.core.liveness.challenge import (
    DEFAULT_TTL_S,
    Challenge,
    new_challenge,
    sign_challenge,
    verify_challenge,
)
from simkyc.core.liveness.checks import FrameFreshness, planar_residual
from simkyc.core.liveness.passive import PassiveCues, passive_cues, passive_features
from simkyc.core.liveness.session import LivenessConfig, LivenessSession
from simkyc.core.liveness.signals import HeadPose, eye_aspect_ratio, face_chip, head_pose
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

__all__ = [
    "DEFAULT_TTL_S",
    "Action",
    "Challenge",
    "EventKind",
    "FaceObservation",
    "Frame",
    "FrameAnalyzer",
    "FrameFreshness",
    "FrameSignals",
    "HeadPose",
    "LivenessConfig",
    "LivenessResult",
    "LivenessSession",
    "PassiveCues",
    "ProgressEvent",
    "eye_aspect_ratio",
    "face_chip",
    "head_pose",
    "new_challenge",
    "passive_cues",
    "passive_features",
    "planar_residual",
    "sign_challenge",
    "verify_challenge",
]
