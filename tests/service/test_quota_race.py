"""Two (or eight) registrations for one ID decided at the same moment never exceed the quota.

Separate OS processes decide registrations for the same ID simultaneously (released together by
a file barrier), on SQLite and on PostgreSQL. Rounds: (a) the ID holds 4 of 5 and 6 processes
race for the last slot; (b) none held, 6 race for 5 slots; (c) 3 held, 6 race for 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from regkit import document, make_deps, seed
from sqlalchemy import func, select

from simkyc.service import registration as reg
from simkyc.service.audit import verify_audit
from simkyc.store import Database
from simkyc.store.schema import phone_number

WORKER = Path(__file__).with_name("race_worker.py")
ROUNDS = [(4, 6), (0, 6), (3, 6), (4, 6)]  # (numbers already held, racing processes)
QUOTA = 5


def _prefill(db: Database, deps: reg.RegistrationDeps, s, n: int, held: int, base: str) -> None:  # type: ignore[no-untyped-def]
    from regkit import THRESHOLDS, assessment

    for i in range(held):
        o = reg.open_registration(
            reg.OpenRegistration(
                document=document(n),
                phone=f"{base}{i:02d}",
                outlet_id=s.outlet_id,
                clerk_id=s.clerk_id,
                consent=True,
            ),
            deps=deps,
        )
        reg.record_decision(
            o.registration_id, assessment(), deps=deps, actor="prefill", thresholds=THRESHOLDS
        )


def test_concurrent_processes_never_exceed_the_quota(db: Database, db_url: str, tmp_path: Path) -> None:
    s, deps = seed(db), make_deps(db)
    plan = []
    for r, (held, racers) in enumerate(ROUNDS):
        n = 100 + r
        _prefill(db, deps, s, n, held, base=f"1370{r}0000")
        regs = [
            reg.open_registration(
                reg.OpenRegistration(
                    document=document(n),
                    phone=f"1380{r}0000{i:02d}",
                    outlet_id=s.outlet_id,
                    clerk_id=s.clerk_id,
                    consent=True,
                ),
                deps=deps,
            ).registration_id
            for i in range(racers)
        ]
        plan.append((n, held, regs))
    workers = max(racers for _, racers in ROUNDS)
    env = {**os.environ, "SIMKYC_KEYS": db.keys.to_json()}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                db_url,
                str(tmp_path),
                str(w),
                *[regs[w] if w < len(regs) else "" for _, _, regs in plan],
            ],
            env=env,
        )
        for w in range(workers)
    ]
    attempts = violations = 0
    try:
        for r, (_n, held, regs) in enumerate(plan):
            racing = [w for w in range(workers) if w < len(regs)]
            deadline = time.monotonic() + 120
            while not all((tmp_path / f"ready_{r}_{w}").exists() for w in range(workers)):
                assert time.monotonic() < deadline, "workers did not start"
                time.sleep(0.01)
            (tmp_path / f"go_{r}").touch()
            while not all((tmp_path / f"out_{r}_{w}").exists() for w in racing):
                assert time.monotonic() < deadline, "workers did not finish"
                time.sleep(0.01)
            outs = [(tmp_path / f"out_{r}_{w}").read_text() for w in racing]
            approved = sum(o.startswith("APPROVED") for o in outs)
            with db.engine.connect() as c:
                active = c.execute(
                    select(func.count())
                    .select_from(phone_number)
                    .where(phone_number.c.status == "active", phone_number.c.number.like(f"13_0{r}%"))
                ).scalar_one()
            attempts += len(outs)
            violations += int(active > QUOTA) + int(approved != QUOTA - held)
            assert approved == QUOTA - held, outs
            assert all(o.startswith(("APPROVED", "REJECTED:QUOTA_EXCEEDED")) for o in outs), outs
            assert active == QUOTA
    finally:
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a failed round leaves workers waiting for the next one
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs)
    assert verify_audit(db).ok
    print(
        f"\nquota race [{db.dialect}]: {attempts} concurrent decisions in {len(ROUNDS)} rounds, "
        f"{violations} violations"
    )
