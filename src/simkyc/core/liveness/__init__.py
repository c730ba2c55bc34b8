"""Active liveness decided by the server: challenges (actions and a light sequence), per-frame signals,
the session, attack checks (freshness, planar motion, stream continuity, the light response).

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
from simkyc.core.liveness.continuity import Cut, StreamContinuity
from simkyc.core.liveness.light import LIGHT_NONE, LightColour, LightStep, draw_light
from simkyc.core.liveness.light_check import LightConfig, LightResult, LightSample, light_check, light_sample
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
    "LIGHT_NONE",
    "Action",
    "Challenge",
    "Cut",
    "EventKind",
    "FaceObservation",
    "Frame",
    "FrameAnalyzer",
    "FrameFreshness",
    "FrameSignals",
    "HeadPose",
    "LightColour",
    "LightConfig",
    "LightResult",
    "LightSample",
    "LightStep",
    "LivenessConfig",
    "LivenessResult",
    "LivenessSession",
    "PassiveCues",
    "ProgressEvent",
    "StreamContinuity",
    "draw_light",
    "eye_aspect_ratio",
    "face_chip",
    "head_pose",
    "light_check",
    "light_sample",
    "new_challenge",
    "passive_cues",
    "passive_features",
    "planar_residual",
    "sign_challenge",
    "verify_challenge",
]
