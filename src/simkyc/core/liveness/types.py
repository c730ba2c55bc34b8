"""Value types of a liveness session and the per-frame analyzer port it is written against.

Clock: every time here (challenge issue time and deadline, frame capture
timestamps, action times) is in seconds on one clock, Unix time in practice;
the shell anchors a video's frame offsets to the challenge window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image
from simkyc.errors import Reason

__all__ = [
    "Action",
    "EventKind",
    "FaceObservation",
    "Frame",
    "FrameAnalyzer",
    "FrameSignals",
    "LivenessResult",
    "ProgressEvent",
]

FloatArray = npt.NDArray[np.float32]


class Action(StrEnum):
    """What the customer is asked to do. Turns are to the customer's own left or right."""

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: RGB image, its capture timestamp in seconds, and its light stamp.

    `light` is the index of the light-challenge step the page had on screen when it
    grabbed the frame (`Challenge.light`), or -1 (`light.LIGHT_NONE`) when none was shown.
    """

    image: Image
    timestamp: float
    light: int = -1


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """What the analyzer saw in one frame.

    `landmarks` are FaceMesh's 468 points (x, y in pixels, z in the same scale).
    `detected` is True when the detector ran on this frame (track start or
    periodic re-check), and `faces_seen` is then the number of faces it found;
    `track_id` changes whenever the track had to be restarted from a detection.
    """

    landmarks: FloatArray
    score: float
    faces_seen: int
    detected: bool
    track_id: int


@runtime_checkable
class FrameAnalyzer(Protocol):
    """Finds and tracks the face from frame to frame (stateful: one per session)."""

    def observe(self, image: Image) -> FaceObservation | None: ...


@dataclass(frozen=True, slots=True)
class FrameSignals:
    """The per-frame figures the decision is made from (also what `--plot` draws)."""

    timestamp: float
    ear: float  # mean eye aspect ratio of both eyes
    yaw: float  # degrees, positive = the customer's own left
    pitch: float  # degrees, positive = chin up
    roll: float  # degrees
    sharpness: float  # variance of the Laplacian on the face, 0..
    brightness: float  # mean grey level of the face, 0..255
    face_px: float  # inter-ocular distance in pixels
    face_ok: bool  # a face was tracked in this frame


class EventKind(StrEnum):
    """Progress events sent to the capture page."""

    WAITING_FOR = "waiting_for"
    ACTION_DONE = "action_done"
    FAILED = "failed"
    PASSED = "passed"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """`waiting_for: turn_left`, `action_done: blink`, `failed: FACE_LOST`, `passed`."""

    kind: EventKind
    timestamp: float
    action: Action | None = None
    reason: Reason | None = None

    def __str__(self) -> str:
        if self.action is not None:
            return f"{self.kind}: {self.action}"
        if self.reason is not None:
            return f"{self.kind}: {self.reason}"
        return str(self.kind)


@dataclass(frozen=True, slots=True)
class LivenessResult:
    """The decision: passed, or refused with reason codes; never holds templates.

    `action_times` maps each action seen in order to the capture time it was
    seen; `best_frames` are frontal, eyes-open, sharp frames for the 1:1 match;
    `scores` are named figures for the record (planar residual, passive scores,
    same-face similarity, frame counts); `signals` is the per-frame trace.
    """

    passed: bool
    reasons: tuple[Reason, ...]
    action_times: dict[Action, float]
    best_frames: list[Image]
    scores: dict[str, float]
    signals: tuple[FrameSignals, ...] = field(default=(), repr=False)
    events: tuple[ProgressEvent, ...] = field(default=(), repr=False)
