"""The same face under two IDs, decided at the same moment by two workers: at least one REVIEW.

Two OS processes, each a "worker" with its own followed index loaded before the race, decide one
registration each (two people's ID cards, one face in front of the camera). Each search is held
until both have searched, so neither search can see the other's template; the re-check inside the
decision transaction (`simkyc.service.dedup`) must catch it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from regkit import document, make_deps, seed

from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.store import Database

WORKER = Path(__file__).with_name("dedup_worker.py")


def test_one_face_under_two_ids_at_once_goes_to_review(db: Database, db_url: str, tmp_path: Path) -> None:
    s, deps = seed(db), make_deps(db)
    regs = [
        reg.open_registration(
            reg.OpenRegistration(
                document=document(n),
                phone=f"1390000{n:04d}",
                outlet_id=s.outlet_id,
                clerk_id=s.clerk_id,
                consent=True,
            ),
            deps=deps,
        ).registration_id
        for n in (500, 501)
    ]
    env = {**os.environ, "SIMKYC_KEYS": db.keys.to_json()}
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), db_url, str(tmp_path), str(w), rid, "2"], env=env)
        for w, rid in enumerate(regs)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready_{w}").exists() for w in range(2)):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), (
                "workers did not start"
            )
            time.sleep(0.01)
        (tmp_path / "go").touch()
        for p in procs:
            assert p.wait(timeout=120) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    outs = sorted((tmp_path / f"out_{w}").read_text() for w in range(2))
    assert len(list(tmp_path.glob("searched_*"))) == 2  # both searched before either decided
    assert outs[0].startswith("APPROVED"), outs
    assert outs[1].startswith("REVIEW") and "DUPLICATE_FACE_OTHER_ID" in outs[1], outs
    assert verify_audit(db).ok
    print(f"\nduplicate race [{db.dialect}]: {outs}")
