"""The face pipeline: detect -> landmarks -> chip -> template, with quality findings and a 1:1 verify.

Models are injected (core protocols), so this module stays pure: arrays in,
frozen dataclasses out. `verify` embeds both chips in one `embed_batch` call, so
a batched embedder (ONNX) pays its overhead once per verification. Given an
executor and a `twin` (a second detector and aligner: model runtimes are not
thread-safe), `verify` finds and aligns the two faces concurrently; the runtimes
release the GIL, so on an idle two-core box a verification then waits for the
slower face rather than both.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.match import match
from simkyc.core.faces.quality import QualityReport, QualityThresholds, assess_quality
from simkyc.core.faces.types import Aligner, Detection, Detector, Embedder, Image, Template
from simkyc.errors import FaceError, Reason

__all__ = ["FaceAnalysis", "FacePipeline", "Kind", "Located", "Verification"]

Kind = Literal["live", "id_photo"]


@dataclass(frozen=True, slots=True)
class Located:
    """A face found and aligned, not yet embedded."""

    detection: Detection
    landmarks: npt.NDArray[np.float32]
    chip: Image
    quality: QualityReport
    detector: str
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    """Everything the pipeline learnt about the main face of one image. `timings` are in milliseconds."""

    detection: Detection
    landmarks: npt.NDArray[np.float32]
    chip: Image
    template: Template
    quality: QualityReport
    detector: str
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verification:
    """A 1:1 decision between an ID photo and a live capture, with the evidence behind it."""

    score: float
    threshold: float
    is_match: bool
    usable: bool
    reasons: tuple[Reason, ...]
    id_face: FaceAnalysis
    live_face: FaceAnalysis
    timings: dict[str, float]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class FacePipeline:
    """Detector (with optional fallback) + aligner + embedder, wired by `simkyc.bootstrap`."""

    def __init__(
        self,
        detector: Detector,
        aligner: Aligner,
        embedder: Embedder,
        fallback_detector: Detector | None = None,
        *,
        thresholds: dict[str, QualityThresholds] | None = None,
        executor: Executor | None = None,
        twin: FacePipeline | None = None,
    ) -> None:
        self.detector = detector
        self.aligner = aligner
        self.embedder = embedder
        self.fallback_detector = fallback_detector
        self.thresholds = thresholds or {k: QualityThresholds.for_kind(k) for k in ("live", "id_photo")}
        if (executor is None) != (twin is None):
            raise ValueError("concurrent locating needs both an executor and a twin pipeline")
        self._executor = executor
        self._twin = twin

    @property
    def embedder_name(self) -> str:
        return self.embedder.name

    @property
    def embedder_version(self) -> str:
        return self.embedder.version

    def detect(self, image: Image) -> tuple[list[Detection], str]:
        """All faces, largest first, and the name of the detector that found them."""
        found = self.detector.detect(image)
        name = self.detector.name
        if not found and self.fallback_detector is not None:
            found = self.fallback_detector.detect(image)
            name = self.fallback_detector.name
        found.sort(key=lambda d: -(d.box.width * d.box.height))
        return found, name

    def locate(self, image: Image, *, kind: Kind = "live") -> Located:
        """Detect, align and assess the main (largest) face.

        :raises FaceError: NO_FACE when no detector finds a face.
        """
        t0 = time.perf_counter()
        found, name = self.detect(image)
        t_detect = _ms(t0)
        if not found:
            raise FaceError(Reason.NO_FACE, detail={"kind": kind})
        main, others = found[0], found[1:]
        t1 = time.perf_counter()
        landmarks = self.aligner.landmarks(image, main)
        chip = self.aligner.chip(image, landmarks)
        t_align = _ms(t1)
        t2 = time.perf_counter()
        quality = assess_quality(
            image,
            main,
            landmarks,
            chip,
            others=others,
            thresholds=self.thresholds.get(kind),
            layout=getattr(self.aligner, "landmark_layout", "dlib5"),
        )
        t_quality = _ms(t2)
        return Located(
            detection=main,
            landmarks=landmarks,
            chip=chip,
            quality=quality,
            detector=name,
            timings={"detect": t_detect, "align": t_align, "quality": t_quality},
        )

    def analyze(self, image: Image, *, kind: Kind = "live") -> FaceAnalysis:
        """The main face of `image`, embedded. :raises FaceError: NO_FACE."""
        loc = self.locate(image, kind=kind)
        t0 = time.perf_counter()
        template = self.embedder.embed(loc.chip)
        return _with_template(loc, template, _ms(t0))

    def verify(self, id_image: Image, live_image: Image, *, threshold: float) -> Verification:
        """Is the live face the ID photo's holder, at `threshold` (from the calibration file)?

        Findings in `quality.BLOCKING` make the result unusable (`is_match` False, `usable` False).

        :raises FaceError: NO_FACE (detail `kind` says which side).
        """
        if self._executor is not None and self._twin is not None:
            live_job = self._executor.submit(self._twin.locate, live_image, kind="live")
            try:
                id_loc = self.locate(id_image, kind="id_photo")
            finally:
                live_err = live_job.exception()
            if live_err is not None:
                raise live_err
            live_loc = live_job.result()
        else:
            id_loc = self.locate(id_image, kind="id_photo")
            live_loc = self.locate(live_image, kind="live")
        t0 = time.perf_counter()
        templates = self.embedder.embed_batch([id_loc.chip, live_loc.chip])
        t_embed = _ms(t0) / 2
        id_face = _with_template(id_loc, templates[0], t_embed)
        live_face = _with_template(live_loc, templates[1], t_embed)
        result = match(live_face.template, id_face.template, threshold=threshold)
        findings: list[Reason] = []
        for f in (*id_face.quality.findings, *live_face.quality.findings):
            if f not in findings:
                findings.append(f)
        usable = id_face.quality.usable and live_face.quality.usable
        is_match = usable and result.is_match
        if usable:
            findings.append(Reason.FACE_MATCH if is_match else Reason.FACE_MISMATCH)
        stages = ("detect", "align", "quality", "embed")
        timings = {s: id_face.timings.get(s, 0.0) + live_face.timings.get(s, 0.0) for s in stages}
        timings["match"] = 0.0
        return Verification(
            score=result.score,
            threshold=threshold,
            is_match=is_match,
            usable=usable,
            reasons=tuple(findings),
            id_face=id_face,
            live_face=live_face,
            timings=timings,
        )


def _with_template(loc: Located, template: Template, t_embed: float) -> FaceAnalysis:
    return FaceAnalysis(
        detection=loc.detection,
        landmarks=loc.landmarks,
        chip=loc.chip,
        template=np.asarray(template, dtype=np.float32),
        quality=loc.quality,
        detector=loc.detector,
        timings={**loc.timings, "embed": t_embed},
    )
