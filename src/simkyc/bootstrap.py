"""The composition root: builds the heavy objects (models, pipeline, stores) on first use, never at import.

Each area adds its own factory functions here. Faces: `default_embedder()` is
the one place that picks the embedder (dlib's model on ONNX Runtime, adapted and
flip-augmented), `face_pipeline()` wires detector, aligner and embedder, and
`calibration()` loads the thresholds calibrated for that embedder.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from simkyc.core.faces.calibration import Calibration
from simkyc.core.faces.pipeline import FacePipeline
from simkyc.core.faces.types import Embedder
from simkyc.errors import ModelError, Reason

if TYPE_CHECKING:
    from collections.abc import Sequence

    from simkyc.config import Settings
    from simkyc.core.faces.adapt import Adaptation
    from simkyc.core.policy import Policy, Thresholds
    from simkyc.models.ocr import OcrEngine
    from simkyc.search import TemplateIndex
    from simkyc.service.liveness import LivenessModels
    from simkyc.service.lockout import LockoutConfig
    from simkyc.service.registration import LivenessRunner, RegistrationDeps
    from simkyc.store.crypto import KeyRing
    from simkyc.store.uow import Database, UnitOfWork

__all__ = [
    "base_embedder",
    "base_face_pipeline",
    "calibration",
    "database",
    "default_embedder",
    "face_adaptation",
    "face_pipeline",
    "keyring",
    "liveness_models",
    "load_calibration",
    "lockout_config",
    "ocr_engine",
    "policy",
    "registration_deps",
    "registration_index",
    "registration_liveness",
    "registration_thresholds",
    "uow",
]

CALIBRATION_FILE = "calibration.json"


# --- faces -------------------------------------------------------------------------------------


def base_embedder() -> Embedder:
    """dlib's descriptor network run by ONNX Runtime: raw 128-d templates, before adaptation and TTA.

    The same templates as `DlibEmbedder` (tests/models/test_dlib_onnx.py), about 10x faster.
    The ONNX file is converted from the installed dlib model into the model cache on first
    use (about a second). The liveness same-face check and adaptation training use it raw.
    """
    from simkyc.models.dlib_onnx import OnnxDlibEmbedder

    return OnnxDlibEmbedder()


def default_embedder() -> Embedder:
    """The embedder every stored template is made with (swap here, then run `simkyc eval calibrate`).

    `base_embedder()`, with the shipped adaptation (`simkyc/data/adaptation-NAME.json`, if
    any) applied to each view, and the chip's mirror averaged in (flip TTA): name
    ``dlib-resnet-v1+nap+flip``. Measured in `simkyc eval accuracy` on unseen people:
    East Asian FNMR at FMR 1e-3 43.5% plain -> 28.3% with both, for x1.7 embedding time.
    """
    from simkyc.core.faces.adapt import AdaptedEmbedder
    from simkyc.core.faces.tta import FLIP, AugmentedEmbedder

    base = base_embedder()
    adaptation = face_adaptation(base)
    adapted: Embedder = base if adaptation is None else AdaptedEmbedder(base, adaptation)
    return AugmentedEmbedder(adapted, FLIP)


def _pipeline(embedder: Embedder) -> FacePipeline:
    from simkyc.models.blazeface import BlazeFaceDetector
    from simkyc.models.dlib_models import DlibAligner, DlibHogDetector

    return FacePipeline(
        detector=BlazeFaceDetector(),
        aligner=DlibAligner(),
        embedder=embedder,
        fallback_detector=DlibHogDetector(),
    )


@cache
def face_pipeline() -> FacePipeline:
    """The process-wide face pipeline: BlazeFace (dlib HOG fallback), dlib 5-point chips, default embedder."""
    return _pipeline(default_embedder())


@cache
def base_face_pipeline() -> FacePipeline:
    """`face_pipeline()` with the raw embedder: what adaptations are trained and evaluated on."""
    return _pipeline(base_embedder())


def load_calibration(name: str = CALIBRATION_FILE) -> Calibration:
    """Read a calibration file shipped in `simkyc/data`.

    :raises ModelError: MODEL_MISSING when the file is absent (run `simkyc eval calibrate`).
    """
    try:
        text = resources.files("simkyc").joinpath("data", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(
            Reason.MODEL_MISSING, f"calibration file simkyc/data/{name} missing: run `simkyc eval calibrate`"
        ) from None
    return Calibration.from_dict(json.loads(text))


@cache
def calibration() -> Calibration:
    """The calibration matching the default pipeline's embedder.

    :raises InputError: when the shipped file was made for another embedder.
    """
    cal = load_calibration()
    pipe = face_pipeline()
    cal.check_embedder(pipe.embedder_name, pipe.embedder_version)
    return cal


# --- documents ---------------------------------------------------------------------------------


@cache
def ocr_engine() -> OcrEngine:
    """The process-wide OCR engine (RapidOCR, PP-OCRv4); its ONNX sessions start on the first read."""
    from simkyc.models.ocr import OcrEngine

    return OcrEngine()


# --- registration, storage, keys, policy (issue 5) ---------------------------------------------


@cache
def keyring() -> KeyRing:
    """The key ring: SIMKYC_KEYS, else the key file (created 0600 on first use)."""
    from simkyc.config import get_settings
    from simkyc.store.crypto import load_keyring

    settings = get_settings()
    return load_keyring(env_json=settings.keys, key_file=settings.resolved_key_file)


@cache
def database() -> Database:
    """The process-wide database (SQLite under SIMKYC_HOME unless SIMKYC_DATABASE_URL), migrated to head."""
    from simkyc.config import get_settings
    from simkyc.store.uow import open_database

    return open_database(get_settings().resolved_database_url, keyring())


def uow() -> UnitOfWork:
    """A fresh unit of work (one transaction) on `database()`."""
    return database().uow()


@cache
def policy() -> Policy:
    """The registration policy: SIMKYC_POLICY_FILE, else the shipped simkyc/data/policy.toml."""
    from simkyc.config import get_settings
    from simkyc.core.policy import Policy

    path = get_settings().policy_file
    if path is not None:
        return Policy.from_toml(path.read_text(encoding="utf-8"))
    text = resources.files("simkyc").joinpath("data", "policy.toml").read_text(encoding="utf-8")
    return Policy.from_toml(text)


def registration_thresholds() -> Thresholds:
    """The policy's operating points resolved by the calibration's fused points.

    A registration compares the ID photo with the live session's best frames averaged into one
    template (and 1:N compares such averaged templates): the calibration's `fused_points`
    measure exactly that comparison; single-image points would let more impostors through.
    """
    from simkyc.core.policy import Thresholds

    pol, cal = policy(), calibration()
    return Thresholds(
        accept=cal.threshold(pol.match_operating_point, fused=True),
        review=cal.threshold(pol.review_operating_point, fused=True),
        duplicate=cal.threshold(pol.duplicate_operating_point, fused=True),
    )


@cache
def registration_liveness() -> LivenessRunner:
    """Runs a liveness session over captured frames with the process-wide liveness models."""
    from simkyc.core.liveness.challenge import Challenge
    from simkyc.core.liveness.types import Frame, LivenessResult
    from simkyc.service import liveness as live

    models = liveness_models()

    def run(challenge: Challenge, frames: Sequence[Frame]) -> LivenessResult:
        return live.run_liveness(frames, challenge, models=models)

    return run


@cache
def registration_index() -> TemplateIndex:
    """The 1:N index, reconciled with the database's templates (the database is the truth)."""
    from simkyc.search import open_index, reconcile
    from simkyc.service.registration import template_records

    index = open_index()
    ids, fetch = template_records(database())
    reconcile(index, ids, fetch)
    return index


def lockout_config(settings: Settings) -> LockoutConfig:
    """The liveness lockout from SIMKYC_LOCKOUT_* (its state lives in the database)."""
    from simkyc.service.lockout import LockoutConfig

    return LockoutConfig(
        max_failures=settings.lockout_failures,
        window=settings.lockout_window_minutes * 60.0,
        lock_for=settings.lockout_minutes * 60.0,
    )


@cache
def registration_deps() -> RegistrationDeps:
    """Collaborators of the registration use cases; models load only when a capture is decided."""
    from simkyc.config import get_settings
    from simkyc.service.registration import RegistrationDeps

    return RegistrationDeps(
        db=database(),
        policy=policy(),
        thresholds=registration_thresholds,
        faces=face_pipeline,
        liveness=registration_liveness,
        index=registration_index,
        lockout=lockout_config(get_settings()),
    )


# --- liveness ----------------------------------------------------------------------------------


@cache
def liveness_models() -> LivenessModels:
    """BlazeFace, FaceMesh and the iris model for liveness sessions.

    Comes with the raw `base_embedder()` for the same-face check (its threshold was set on raw
    dlib templates; the check compares frames of one session with each other, never with the ID).

    Not thread-safe (LiteRT interpreters): one per worker process.
    """
    from simkyc.service.liveness import LivenessModels

    return LivenessModels.load(embedder=base_embedder())


# --- accuracy: template adaptation (issue 9) -------------------------------------------------


def face_adaptation(embedder: Embedder) -> Adaptation | None:
    """The adaptation shipped for `embedder` (`simkyc/data/adaptation-NAME.json`), or None if there is none.

    :raises ModelError: MODEL_CORRUPT when the file does not hash to its version, MODEL_MISSING when
        it was trained for another version of the embedder (re-run `simkyc eval adapt`).
    """
    from simkyc.core.faces.adapt import Adaptation

    try:
        path = resources.files("simkyc").joinpath("data", f"adaptation-{embedder.name}.json")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    adaptation = Adaptation.from_dict(json.loads(text))
    adaptation.check_embedder(embedder.name, embedder.version)
    return adaptation
