"""Privacy by design, checked on the bytes: register real faces, then scan the database files and
the data folder byte by byte. No JPEG/PNG data, no raw pixels, no plain ID number or name, no
plain template may appear. A control file holding those patterns proves the scanner finds them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from regkit import Clock, MemoLiveness, document, real_deps, seed
from sqlalchemy import select

from simkyc import bootstrap
from simkyc.core.faces.types import Image
from simkyc.search import NumpyIndex, ProtectedTransform
from simkyc.service import liveness as live
from simkyc.service import registration as reg
from simkyc.store import KeyRing, open_database
from simkyc.store.fields import aad_template, template_from_bytes, template_to_bytes
from simkyc.store.schema import face_template

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("calibrated")]

# JPEG start-of-image + the usual first segments (JFIF, Exif, quantisation table, Adobe), and PNG.
MAGIC = {f"jpeg-{m:02x}": b"\xff\xd8\xff" + bytes([m]) for m in (0xE0, 0xE1, 0xDB, 0xEE)}
MAGIC["png"] = b"\x89PNG\r\n\x1a\n"


def scan(root: Path, patterns: dict[str, bytes]) -> list[str]:
    """Every (file, pattern name) where the pattern's bytes occur under `root`."""
    found = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes()
        found += [f"{f.name}: {name}" for name, pat in patterns.items() if pat in data]
    return found


def _windows(img: Image, n: int = 4, size: int = 48) -> dict[str, bytes]:
    raw = np.ascontiguousarray(img).tobytes()
    step = (len(raw) - size) // n
    return {f"pixels@{i * step}": raw[i * step : i * step + size] for i in range(n)}


def test_no_image_id_number_or_template_bytes_at_rest(
    tmp_path: Path,
    clip: live.VideoClip,
    holder_photo: Image,
    impostor_photo: Image,
    memo_liveness: MemoLiveness,
    clip_seed: int,
) -> None:
    home = tmp_path / "home"
    keys = KeyRing.generate()
    db = open_database(f"sqlite:///{home / 'simkyc.db'}", keys)
    s = seed(db)
    index = NumpyIndex(
        ProtectedTransform.from_key(
            b"scan-index-key-32-bytes-long!!!!", dim=bootstrap.current_generation()[1]
        ),
        path=home / "index" / "t.npz",
    )
    deps = real_deps(db, clock=Clock(), liveness=memo_liveness, index=index)
    docs = {
        1: holder_photo,
        2: impostor_photo,
        3: holder_photo,
    }  # approved, rejected, REVIEW (kept as evidence)
    outcomes = []
    for n, photo in docs.items():
        doc = document(n, name=f"测试{n}", photo=photo)
        opened = reg.open_registration(
            reg.OpenRegistration(
                document=doc,
                phone=f"1380000000{n}",
                outlet_id=s.outlet_id,
                clerk_id=s.clerk_id,
                consent=True,
                test_seed=clip_seed,
            ),
            deps=deps,
        )
        res = reg.submit_frames(
            opened.registration_id, live.anchor_frames(clip, opened.challenge), deps=deps, actor="c"
        )
        outcomes.append(res.outcome.value)
    assert outcomes == ["APPROVED", "REJECTED", "REVIEW"]
    with db.engine.connect() as c:
        t = c.execute(select(face_template)).one()
    template = template_from_bytes(
        keys.decrypt(t.key_id, t.template_enc, aad=aad_template(t.identity_id, t.model_name))
    )
    tb = template_to_bytes(template)

    patterns: dict[str, bytes] = dict(MAGIC)
    for n in docs:
        number = document(n).id_number
        patterns[f"id{n}"] = number.encode()
        patterns[f"id{n}-utf16"] = number.encode("utf-16-le")
        patterns[f"name{n}"] = f"测试{n}".encode()
    patterns |= {"template": tb, "template-head": tb[:16], "template-mid": tb[256:272]}
    patterns |= {f"holder-{k}": v for k, v in _windows(holder_photo).items()}
    patterns |= {f"frame-{k}": v for k, v in _windows(clip.frames[100]).items()}

    control = tmp_path / "control"
    control.mkdir()
    (control / "leak.bin").write_bytes(b"..".join(patterns.values()))
    assert len(scan(control, patterns)) == len(patterns)  # the scanner finds every pattern

    leaks_open = scan(home, patterns)  # WAL and shared memory files included
    db.dispose()
    leaks_closed = scan(home, patterns)
    files = sorted(p.name for p in home.rglob("*") if p.is_file())
    assert "simkyc.db" in files and any(f.endswith(".npz") for f in files)
    assert leaks_open == [] and leaks_closed == [], (leaks_open, leaks_closed)
    print(f"\nbyte scan: {len(files)} files, {len(patterns)} patterns, 0 found")
