"""Value types of the face pipeline and the model ports it is written against.

The core never imports dlib, LiteRT or ONNX Runtime: model wrappers in
`simkyc.models` implement these protocols and are injected by `simkyc.bootstrap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "Aligner",
    "Box",
    "Detection",
    "Detector",
    "Embedder",
    "Image",
    "Template",
    "Templates",
]

Image = npt.NDArray[np.uint8]
"""An RGB image, shape (H, W, 3), dtype uint8."""

Template = npt.NDArray[np.float32]
"""One L2-normalised face descriptor, shape (D,)."""

Templates = npt.NDArray[np.float32]
"""N L2-normalised descriptors, shape (N, D)."""


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixel coordinates of the image it was found in."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected face: box, keypoints (K, 2) in pixels and the detector's score in [0, 1]."""

    box: Box
    keypoints: npt.NDArray[np.float32]
    score: float


@runtime_checkable
class Detector(Protocol):
    """Finds faces in an RGB image."""

    name: str

    def detect(self, image: Image) -> list[Detection]: ...


@runtime_checkable
class Aligner(Protocol):
    """Places facial landmarks for a detection and cuts the chip an embedder expects.

    An aligner may name its landmark layout in a `landmark_layout` attribute ("dlib5", the default
    when absent, or "arcface5"), which the quality checks read (`simkyc.core.faces.quality.LAYOUTS`).
    """

    name: str

    def landmarks(self, image: Image, detection: Detection) -> npt.NDArray[np.float32]: ...

    def chip(self, image: Image, landmarks: npt.NDArray[np.float32]) -> Image: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns aligned face chips into L2-normalised templates.

    `name` and `version` are stored with every decision, so a template is never
    compared with one from another model.
    """

    name: str
    version: str
    dim: int
    chip_size: int

    def embed(self, chip: Image) -> Template: ...

    def embed_batch(self, chips: list[Image]) -> Templates: ...
