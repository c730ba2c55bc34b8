"""The systems an evaluation compares, behind one call: encoded image bytes in, `EmbedRecord` out.

`SimkycSystem` runs the simkyc face pipeline; `FaceRecognitionSystem` runs the
`face_recognition` package (HOG detector, the same dlib models) as the baseline.
Both see exactly the same bytes, including the degraded ID side of `--condition chip`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from simkyc.core.faces.pipeline import FacePipeline, Kind
from simkyc.core.images import decode_image, encode_jpeg, resize_to
from simkyc.errors import SimkycError
from simkyc.eval.cache import EmbedRecord

__all__ = [
    "CHIP_JPEG_QUALITY",
    "CHIP_SIZE",
    "SYSTEMS",
    "FaceRecognitionSystem",
    "SimkycSystem",
    "System",
    "degrade_to_chip",
    "face_recognition_system",
    "simkyc_system",
]

CHIP_SIZE = (102, 126)
"""Width, height of the portrait stored on a second-generation Chinese ID card chip."""
CHIP_JPEG_QUALITY = 70
PIPELINE_REVISION = "2"
"""Bump when the pipeline's output changes for the same models (invalidates cached embeddings)."""
BASELINE_REVISION = "1"
"""The same for the face_recognition baseline wrapper."""


class System(Protocol):
    name: str
    key: str  # identifies models and settings for the embedding cache

    def embed_bytes(self, data: bytes, *, kind: Kind) -> EmbedRecord: ...


def degrade_to_chip(data: bytes) -> bytes:
    """Make a photo look like a chip portrait: centre crop to 102:126, resize to 102x126, JPEG quality 70."""
    image = decode_image(data)
    h, w = image.shape[:2]
    target = CHIP_SIZE[0] / CHIP_SIZE[1]
    if w / h > target:
        cw = round(h * target)
        x0 = (w - cw) // 2
        image = image[:, x0 : x0 + cw]
    else:
        ch = round(w / target)
        y0 = (h - ch) // 2
        image = image[y0 : y0 + ch]
    small = resize_to(np.ascontiguousarray(image), *CHIP_SIZE)
    return encode_jpeg(small, quality=CHIP_JPEG_QUALITY)


class SimkycSystem:
    """The simkyc pipeline (detector + fallback, dlib 5-point chips, the configured embedder)."""

    name = "simkyc"

    def __init__(self, pipeline: FacePipeline) -> None:
        self.pipeline = pipeline
        fallback = pipeline.fallback_detector.name if pipeline.fallback_detector else "none"
        self.key = (
            f"simkyc/{pipeline.embedder_name}/{pipeline.embedder_version}/"
            f"{pipeline.detector.name}+{fallback}/r{PIPELINE_REVISION}"
        )

    def embed_bytes(self, data: bytes, *, kind: Kind) -> EmbedRecord:
        try:
            face = self.pipeline.analyze(decode_image(data), kind=kind)
        except SimkycError as exc:
            return EmbedRecord(template=None, reason=str(exc.reason))
        return EmbedRecord(
            template=face.template,
            detector=face.detector,
            findings=tuple(str(f) for f in face.quality.findings),
            face_px=face.quality.face_px,
        )


class FaceRecognitionSystem:
    """The `face_recognition` package as its README uses it: HOG (upsample 1), 5 points, 1 jitter.

    Its 128-d encodings are L2-normalised here so both systems are scored by cosine;
    the largest face is used when several are found (as simkyc does).
    """

    name = "face_recognition"

    def __init__(self) -> None:
        import face_recognition

        self._fr = face_recognition
        version = getattr(face_recognition, "__version__", "unknown")
        self.key = f"face_recognition/{version}/hog-up1/5pt/r{BASELINE_REVISION}"

    def embed_bytes(self, data: bytes, *, kind: Kind) -> EmbedRecord:
        try:
            image = decode_image(data)
        except SimkycError as exc:
            return EmbedRecord(template=None, reason=str(exc.reason))
        boxes = self._fr.face_locations(image)  # (top, right, bottom, left)
        if not boxes:
            return EmbedRecord(template=None, reason="NO_FACE", detector="hog")
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        enc = np.asarray(self._fr.face_encodings(image, [box], model="small")[0], dtype=np.float32)
        enc /= max(float(np.linalg.norm(enc)), 1e-12)
        return EmbedRecord(template=enc, detector="hog", face_px=float(box[1] - box[3]))


def simkyc_system() -> SimkycSystem:
    """Factory for worker processes: the default pipeline from `simkyc.bootstrap`."""
    from simkyc import bootstrap

    return SimkycSystem(bootstrap.face_pipeline())


def face_recognition_system() -> FaceRecognitionSystem:
    """Factory for worker processes: the `face_recognition` baseline."""
    return FaceRecognitionSystem()


SYSTEMS: dict[str, Callable[[], System]] = {
    "simkyc": simkyc_system,
    "face_recognition": face_recognition_system,
}
