"""SIGKILL a process at random points of a stream of registrations; the database stays consistent.

After every kill: no half-written registration, no number bound without an APPROVED decision,
every decision has its audit entry, the audit chain and its signed checkpoints verify (and
SQLite's own integrity check passes). Bounded: a fixed number of kills at seeded random times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from regkit import seed
from sqlalchemy import select, text

from simkyc.service.audit import verify_audit
from simkyc.store import Database
from simkyc.store.schema import audit_entry, phone_number, registration, review_case

WORKER = Path(__file__).with_name("crash_worker.py")
KILLS = 6


def check_invariants(db: Database) -> list[str]:
    """Every way the database could be half-written after a crash; empty list = consistent."""
    bad: list[str] = []
    with db.engine.connect() as c:
        regs = {r.id: r for r in c.execute(select(registration))}
        numbers = c.execute(select(phone_number)).all()
        cases = {r.registration_id: r for r in c.execute(select(review_case))}
        audited = {
            (a.action, a.object) for a in c.execute(select(audit_entry.c.action, audit_entry.c.object))
        }
        if db.dialect == "sqlite":
            ok = c.execute(text("PRAGMA integrity_check")).scalar()
            if ok != "ok":
                bad.append(f"sqlite integrity: {ok}")
    for n in numbers:
        r = regs.get(n.registration_id)
        if n.status in ("active", "suspended") and (
            r is None or r.status != "APPROVED" or r.decision != "APPROVED"
        ):
            bad.append(f"number {n.number} bound without an approved decision")
    for r in regs.values():
        obj = f"registration:{r.id}"
        if ("registration.open", obj) not in audited:
            bad.append(f"{r.id}: no open audit entry")
        if r.status in ("APPROVED", "REJECTED", "REVIEW"):
            if r.decision is None or r.decided_at is None or not r.reasons:
                bad.append(f"{r.id}: decided without decision fields")
            if ("registration.decide", obj) not in audited:
                bad.append(f"{r.id}: decision without audit entry")
        if (
            r.status == "APPROVED"
            and r.kind == "new"
            and not any(n.number == r.phone_number for n in numbers)
        ):
            bad.append(f"{r.id}: approved but number never bound")
        if r.status == "REVIEW" and (r.id not in cases or cases[r.id].evidence_enc is None):
            bad.append(f"{r.id}: REVIEW without its encrypted evidence")
        if r.status not in ("OPEN", "RETRY", "REVIEW") and r.id_photo_enc is not None:
            bad.append(f"{r.id}: ID photo kept after the decision")
    return bad


def test_sigkill_during_registrations_leaves_no_half_written_state(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    seed(db)
    rng = random.Random(20261122)
    env = {**os.environ, "SIMKYC_KEYS": db.keys.to_json()}
    runs = violations = 0
    for k in range(KILLS):
        ready = tmp_path / f"ready_{k}"
        proc = subprocess.Popen([sys.executable, str(WORKER), db_url, str(k), str(ready)], env=env)
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the worker did not start"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 1.5))  # a random point in the stream
        assert proc.poll() is None, "the worker stopped on its own"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        runs += 1
        bad = check_invariants(db)
        rep = verify_audit(db)
        violations += len(bad) + len(rep.problems)
        assert not bad, bad
        assert rep.ok, rep.problems
    with db.engine.connect() as c:
        n_regs = len(c.execute(select(registration.c.id)).all())
    assert n_regs > KILLS  # the workers did get work done between kills
    print(f"\ncrash test [{db.dialect}]: {runs} SIGKILLs, {n_regs} registrations, {violations} violations")
