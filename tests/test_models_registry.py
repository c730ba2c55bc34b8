from __future__ import annotations

from pathlib import Path

import pytest

from simkyc.errors import ModelError, Reason
from simkyc.models import registry
from simkyc.models.registry import MODELS, ModelSpec, locate, model_files


def test_every_model_is_found_and_verified() -> None:
    files = model_files()
    assert {f.name for f in files} == set(MODELS)
    for f in files:
        assert f.path.is_file()
        assert f.version


def test_missing_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ModelSpec(
        "ghost", "ghost-models", "ghost_models_pkg", "m.bin", "0" * 64, "pip install ghost-models", ""
    )
    monkeypatch.setitem(MODELS, "ghost", fake)
    with pytest.raises(ModelError) as info:
        locate("ghost")
    assert info.value.reason is Reason.MODEL_MISSING
    assert "ghost-models" in info.value.message and "pip install ghost-models" in info.value.message


def test_corrupt_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = MODELS["dlib-shape5"]
    monkeypatch.setitem(MODELS, "dlib-shape5", ModelSpec(**{**_fields(real), "sha256": "f" * 64}))
    with pytest.raises(ModelError) as info:
        locate("dlib-shape5")
    assert info.value.reason is Reason.MODEL_CORRUPT
    assert "face-recognition-models" in info.value.message


def test_checksum_matches_file_bytes(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    assert registry.sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _fields(spec: ModelSpec) -> dict[str, str]:
    return {
        k: getattr(spec, k)
        for k in ("name", "package", "module", "resource", "sha256", "install", "description")
    }
