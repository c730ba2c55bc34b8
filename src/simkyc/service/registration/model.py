"""What the registration use cases take and give: collaborators, commands, results, small helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from simkyc.core.documents.document import IdDocument
from simkyc.core.faces.types import Image
from simkyc.core.liveness.challenge import Challenge
from simkyc.core.liveness.types import Frame, LivenessResult
from simkyc.core.policy import Evidence, Outcome, Policy, Thresholds
from simkyc.errors import Reason
from simkyc.service.lockout import LockoutConfig
from simkyc.store import Database
from simkyc.store.registrations import HELD, aware, identity_key, template_key

__all__ = [
    "EVIDENCE_MAX_SIDE",
    "HELD",
    "Candidate",
    "CaptureAssessment",
    "CaptureLimits",
    "DuplicateIndex",
    "FaceAnalyzer",
    "FaceGeneration",
    "LivenessRunner",
    "NumberRecord",
    "OpenRegistration",
    "Opened",
    "PlatformAnswer",
    "RegistrationDeps",
    "RegistrationResult",
    "ReviewEvidence",
    "aware",
    "identity_key",
    "mask_phone",
    "open_portrait",
    "portrait_jpeg",
    "template_key",
]

PlatformAnswer = Literal["consistent", "inconsistent", "no_record"]
EVIDENCE_MAX_SIDE = 320  # px; REVIEW evidence frames are shrunk to this


class FaceAnalyzer(Protocol):
    """The slice of `simkyc.core.faces.pipeline.FacePipeline` the service uses."""

    @property
    def embedder_name(self) -> str: ...

    @property
    def embedder_version(self) -> str: ...

    def analyze(self, image: Image, *, kind: Literal["live", "id_photo"] = "live") -> Any: ...


class LivenessRunner(Protocol):
    """Runs a whole liveness session over captured frames (`simkyc.service.liveness`)."""

    def __call__(self, challenge: Challenge, frames: Sequence[Frame]) -> LivenessResult: ...


class DuplicateIndex(Protocol):
    """The slice of `simkyc.search.TemplateIndex` the service uses."""

    def add(self, template_id: str, identity_key: str, template: npt.NDArray[np.float32]) -> None: ...

    def remove(self, template_id: str) -> bool: ...

    def save(self) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FaceGeneration:
    """An earlier embedder whose templates are still stored (issue 13: raw images are never kept, so
    templates cannot be recomputed). A re-verification against such a template embeds the live frames
    the same way and holds them to that embedder's `thresholds`, then re-enrols the customer with the
    current embedder; a new registration also searches that embedder's `index` while it holds any."""

    model_name: str
    faces: Callable[[], FaceAnalyzer]
    thresholds: Callable[[], Thresholds]
    index: Callable[[], DuplicateIndex | None] | None = None


@dataclass(frozen=True, slots=True)
class CaptureLimits:
    """At most `per_clerk` / `per_outlet` captures open at once (counted in the database).

    A capture is open from its challenge until the decision, or until its deadline plus `grace_s`
    when abandoned, so an abandoned capture frees its slot by itself.
    """

    per_clerk: int = 3
    per_outlet: int = 12
    grace_s: float = 60.0


@dataclass
class RegistrationDeps:
    """Everything the use cases need; built by `simkyc.bootstrap.registration_deps()` or by tests.

    `faces`, `liveness` and `index` are factories so that opening a registration or answering a
    platform check never loads a model. `lockout` turns the liveness lockout on (None: off).
    `limits` caps open captures per clerk and per outlet (None: off). `older` are the earlier
    embedders whose templates may still be stored (`FaceGeneration`), newest first.
    """

    db: Database
    policy: Policy
    thresholds: Callable[[], Thresholds]
    faces: Callable[[], FaceAnalyzer] | None = None
    liveness: Callable[[], LivenessRunner] | None = None
    index: Callable[[], DuplicateIndex | None] | None = None
    clock: Callable[[], datetime] = _utcnow
    review_days: int = 30
    lockout: LockoutConfig | None = None
    limits: CaptureLimits | None = None
    older: tuple[FaceGeneration, ...] = ()


@dataclass(frozen=True, slots=True)
class OpenRegistration:
    """What the clerk submits to start a registration. `test_seed` fixes the challenge (tests only);
    `light_fallback`: the customer is sensitive to flashing light, so no light challenge is flashed
    and a passed check goes to a supervisor (REVIEW, LIGHT_CHALLENGE_WAIVED)."""

    document: IdDocument
    phone: str
    outlet_id: int
    clerk_id: int
    consent: bool
    consent_text_version: str | None = None
    test_seed: int | None = None
    light_fallback: bool = False


@dataclass(frozen=True, slots=True)
class Opened:
    registration_id: str
    challenge: Challenge
    id_masked: str
    phone: str
    policy_version: str
    kind: str = "new"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A duplicate-search hit as a supervisor sees it: another identity's masked ID and the score."""

    identity_key: str
    id_masked: str
    score: float


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    registration_id: str
    outcome: Outcome
    reasons: tuple[Reason, ...]
    scores: dict[str, float]
    thresholds: dict[str, float]
    policy_version: str
    candidates: tuple[Candidate, ...] = ()
    next_challenge: Challenge | None = None  # RETRY: the fresh challenge for the next capture
    kind: str = "new"


@dataclass(frozen=True, slots=True)
class NumberRecord:
    """A number in a customer report; `number` is masked unless the customer was present."""

    number: str
    operator_id: str
    status: str
    bound_at: datetime
    outlet_code: str


@dataclass(frozen=True, slots=True)
class ReviewEvidence:
    registration_id: str
    id_photo: Image | None
    frames: list[Image]
    candidates: list[dict[str, Any]]
    reasons: list[str]
    scores: dict[str, float]


@dataclass
class CaptureAssessment:
    """What the heavy, transaction-free part measured about one capture."""

    evidence: Evidence
    template: npt.NDArray[np.float32] | None = None
    model_name: str = ""
    model_version: str = ""
    candidates: list[tuple[str, float]] = field(default_factory=list)  # (identity_key, score)
    searched: bool = False
    # a re-enrolment: the current embedder's (template, model, version) of the same frames, stored at
    # APPROVED in place of an earlier embedder's template that `template` was compared with
    enrol: tuple[npt.NDArray[np.float32], str, str] | None = None
    search_seq: int | None = None  # the template feed position the search's index had applied
    frames: list[Image] = field(default_factory=list, repr=False)


def mask_phone(number: str) -> str:
    return number[:3] + "****" + number[-4:] if len(number) >= 7 else "****"


PORTRAIT_MAX_SIDE = 640  # px; an open registration's ID portrait is kept at most this large
PORTRAIT_JPEG_QUALITY = 95


def portrait_jpeg(image: Image) -> npt.NDArray[np.uint8]:
    """The ID portrait as kept while the registration is open: JPEG, at most 640 px a side.

    A chip portrait is 102x126 and a portrait cropped from a card photo rarely exceeds a few hundred
    pixels, so this bounds the stored blob (tens of kB) without touching real portraits' detail.
    """
    import io

    from PIL import Image as PILImage

    pil = PILImage.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    if max(pil.size) > PORTRAIT_MAX_SIDE:
        pil.thumbnail((PORTRAIT_MAX_SIDE, PORTRAIT_MAX_SIDE), PILImage.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=PORTRAIT_JPEG_QUALITY, subsampling=0)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def open_portrait(arrays: dict[str, Any]) -> Image | None:
    """The ID portrait from a stored blob (JPEG since issue 14; raw pixels in older rows)."""
    if "id_photo_jpeg" in arrays:
        from simkyc.core.images import decode_image

        return decode_image(np.asarray(arrays["id_photo_jpeg"], dtype=np.uint8).tobytes(), min_side=1)
    photo = arrays.get("id_photo")
    return None if photo is None else np.asarray(photo, dtype=np.uint8)
