"""npm-shipped model files: pinned tarballs, extraction, provenance, and clear failures offline."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from simkyc.errors import ModelError, Reason
from simkyc.models import npm
from simkyc.models.npm import NpmError, NpmPackage, fetch, package_dir, read_provenance
from simkyc.models.registry import MODELS, locate


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _package(data: bytes, name: str = "tiny-models") -> NpmPackage:
    return NpmPackage(name, "1.2.3", npm._integrity(data), "MIT", "https://example.invalid/tiny")


def test_registered_npm_models_are_installed_and_verified() -> None:
    names = [name for name, spec in MODELS.items() if spec.npm]
    assert {"fr-feature", "mobilefacenet"} <= set(names)
    for name in names:
        f = locate(name)
        assert f.path.is_file() and f.licence == "MIT"
        assert f.provenance.startswith("https://registry.npmjs.org/")
        record = read_provenance(npm.NPM_PACKAGES[f.spec.package])
        assert record is not None and record["files"][f.spec.resource] == f.sha256  # type: ignore[index]


def test_fetch_extracts_only_named_files_with_provenance(tmp_path: Path) -> None:
    data = _tarball({"model/a.onnx": b"A" * 100, "model/b.onnx": b"B", "LICENSE": b"MIT", "index.js": b"x"})
    pkg = _package(data)
    tgz = tmp_path / pkg.tarball_name
    tgz.write_bytes(data)
    where = fetch(pkg, ["model/a.onnx"], tarball=tgz, root=tmp_path / "root", cache=tmp_path / "cache")
    assert where == package_dir(pkg, tmp_path / "root")
    assert (where / "model/a.onnx").read_bytes() == b"A" * 100
    assert not (where / "model/b.onnx").exists() and not (where / "index.js").exists()
    record = json.loads((where / "provenance.json").read_text())
    assert record["package"] == "tiny-models" and record["licence"] == "MIT"
    assert record["integrity"] == pkg.integrity and set(record["files"]) == {"model/a.onnx", "LICENSE"}


def test_tampered_tarball_is_refused_and_leaves_the_installed_files(tmp_path: Path) -> None:
    good = _tarball({"model/a.onnx": b"good"})
    pkg = _package(good)
    tgz = tmp_path / pkg.tarball_name
    tgz.write_bytes(good)
    root = tmp_path / "root"
    fetch(pkg, ["model/a.onnx"], tarball=tgz, root=root, cache=tmp_path / "cache")
    tgz.write_bytes(_tarball({"model/a.onnx": b"evil"}))
    with pytest.raises(NpmError, match="pinned integrity"):
        fetch(pkg, ["model/a.onnx"], tarball=tgz, root=root, cache=tmp_path / "cache")
    assert (package_dir(pkg, root) / "model/a.onnx").read_bytes() == b"good"


def test_a_file_missing_from_the_tarball_is_named(tmp_path: Path) -> None:
    data = _tarball({"model/a.onnx": b"A"})
    pkg = _package(data)
    (tmp_path / pkg.tarball_name).write_bytes(data)
    with pytest.raises(NpmError, match=r"model/zzz\.onnx"):
        fetch(pkg, ["model/zzz.onnx"], tarball=tmp_path / pkg.tarball_name, root=tmp_path, cache=tmp_path)


def test_without_npm_or_tarball_fetch_fails_with_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = _package(b"never fetched")
    monkeypatch.setattr(npm.shutil, "which", lambda _: None)
    with pytest.raises(NpmError) as info:
        fetch(pkg, ["model/a.onnx"], root=tmp_path / "root", cache=tmp_path / "cache")
    assert "npm is not installed" in str(info.value) and pkg.tarball_url in str(info.value)


def test_missing_npm_model_names_the_package_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMKYC_NPM_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelError) as info:
        locate("fr-feature")
    assert info.value.reason is Reason.MODEL_MISSING
    assert "faceplugin-face-recognition-js@0.0.1" in info.value.message
    assert "simkyc.models.npm fetch" in info.value.message


def test_corrupt_npm_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = npm.NPM_PACKAGES["faceplugin-face-recognition-js"]
    monkeypatch.setenv("SIMKYC_NPM_MODEL_DIR", str(tmp_path))
    bad = package_dir(pkg, tmp_path) / MODELS["fr-feature"].resource
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the model")
    with pytest.raises(ModelError) as info:
        locate("fr-feature")
    assert info.value.reason is Reason.MODEL_CORRUPT
