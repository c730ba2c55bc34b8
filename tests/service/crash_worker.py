"""Worker process of the crash test: an endless stream of registrations until it is SIGKILLed.

Usage: crash_worker.py DB_URL SEED READY_FILE   (keys in SIMKYC_KEYS)
Opens registrations for a small pool of IDs (so quotas bite), decides them APPROVED, REJECTED,
REVIEW or RETRY at random, closes some reviews and cancels some numbers.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from regkit import THRESHOLDS, assessment, document, make_deps, seed

from simkyc.core.policy import Policy
from simkyc.errors import SimkycError
from simkyc.service import registration as reg
from simkyc.store import KeyRing, open_database


def main() -> None:
    url, seed_s, ready = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    rng = random.Random(seed_s)
    db = open_database(url, KeyRing.from_json(os.environ["SIMKYC_KEYS"]), run_migrations=False)
    db.checkpoint_every = 7
    pol = Policy.from_dict({"version": "crash", "quota": {"per_operator": 3, "new_number_window_hours": 0}})
    deps = make_deps(db, policy=pol)
    s = seed(db)
    ready.touch()
    i = 0
    while True:
        i += 1
        n = rng.randrange(12)
        phone = f"15{seed_s % 100:02d}{i:07d}"
        try:
            o = reg.open_registration(
                reg.OpenRegistration(
                    document=document(n),
                    phone=phone,
                    outlet_id=s.outlet_id,
                    clerk_id=s.clerk_id,
                    consent=True,
                    test_seed=i,
                ),
                deps=deps,
            )
            score = rng.choice([0.95, 0.95, 0.85, 0.5])
            res = reg.record_decision(
                o.registration_id,
                assessment(score=score, frames=[]),
                deps=deps,
                actor="crash",
                thresholds=THRESHOLDS,
            )
            if res.outcome.value == "REVIEW" and rng.random() < 0.7:
                reg.review(
                    o.registration_id, approve=rng.random() < 0.5, supervisor_id=s.supervisor_id, deps=deps
                )
            if rng.random() < 0.3:
                reg.cancel_number(phone, staff_id=s.supervisor_id, deps=deps)
        except SimkycError:
            pass


if __name__ == "__main__":
    main()
