"""Convert the installed dlib descriptor model to ONNX once, into the user's model cache.

The source of truth stays the `.dat` file shipped by `face-recognition-models`; the
converted file is a cache entry: `<model_cache>/dlib_face_recognition_resnet_model_v1.onnx`
plus a JSON record beside it (`.onnx.json`) holding the source's SHA-256 and the ONNX
file's SHA-256. It is rebuilt whenever the source checksum, the converter version or the
ONNX file itself no longer match the record. Both files are written atomically (temporary
file in the same directory, then `os.replace`), so concurrent first uses are safe.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from simkyc.config import Settings
from simkyc.errors import ModelError, Reason
from simkyc.models.dlib_onnx._stream import DlibFormatError
from simkyc.models.dlib_onnx.graph import build_onnx
from simkyc.models.dlib_onnx.parser import parse_dlib_net
from simkyc.models.registry import ModelFile, locate, sha256_file

__all__ = ["CONVERTER_VERSION", "SOURCE_MODEL", "TEMPLATE_TAG", "ConvertedModel", "convert"]

SOURCE_MODEL = "dlib-resnet-v1"
CONVERTER_VERSION = 2  # bump when the file changes (layout, operators): cached files are then rebuilt
TEMPLATE_TAG = "onnx1"  # bump only if the numbers the graph computes change: it is part of `version`
ONNX_NAME = "dlib_face_recognition_resnet_model_v1.onnx"


@dataclass(frozen=True, slots=True)
class ConvertedModel:
    """A converted ONNX file in the cache and where it came from."""

    path: Path
    sha256: str
    source: ModelFile
    converted: bool  # True when this call (re)built the file, False when the cache was reused

    @property
    def version(self) -> str:
        """Version string for templates: the source package's version, marked as the ONNX port."""
        return f"{self.source.version}+{TEMPLATE_TAG}"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # a cache entry, readable by the service user like the source package
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _record_ok(record_path: Path, onnx_path: Path, source: ModelFile) -> str | None:
    """The recorded ONNX SHA-256 when the cache entry is valid for this source, else None."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if (
            record.get("source_sha256") != source.sha256
            or record.get("converter_version") != CONVERTER_VERSION
            or not onnx_path.is_file()
        ):
            return None
        recorded = str(record["onnx_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded if sha256_file(onnx_path) == recorded else None


def convert(*, cache_dir: Path | None = None, force: bool = False) -> ConvertedModel:
    """Return the cached ONNX port of dlib's descriptor network, converting it first if needed.

    :raises ModelError: MODEL_MISSING / MODEL_CORRUPT from the registry when the source is absent
        or altered, MODEL_CORRUPT when the source does not parse as the expected network.
    """
    source = locate(SOURCE_MODEL)  # verifies the source SHA-256
    directory = cache_dir if cache_dir is not None else Settings().model_cache
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / ONNX_NAME
    record_path = directory / (ONNX_NAME + ".json")
    if not force:
        recorded = _record_ok(record_path, onnx_path, source)
        if recorded is not None:
            return ConvertedModel(path=onnx_path, sha256=recorded, source=source, converted=False)
    try:
        net = parse_dlib_net(source.path.read_bytes())
    except DlibFormatError as exc:
        raise ModelError(Reason.MODEL_CORRUPT, f"cannot convert {source.path}: {exc}") from exc
    data = build_onnx(net).SerializeToString()
    _atomic_write(onnx_path, data)
    digest = sha256_file(onnx_path)
    record = {
        "onnx_sha256": digest,
        "source": SOURCE_MODEL,
        "source_path": str(source.path),
        "source_sha256": source.sha256,
        "source_package_version": source.version,
        "converter_version": CONVERTER_VERSION,
        "template_version": f"{source.version}+{TEMPLATE_TAG}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _atomic_write(record_path, (json.dumps(record, indent=2) + "\n").encode())
    return ConvertedModel(path=onnx_path, sha256=digest, source=source, converted=True)
