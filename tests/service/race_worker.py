"""Worker process of the quota race test: decide one registration per round, all workers at once.

Usage: race_worker.py DB_URL WORKDIR WORKER_NO REG_ID [REG_ID ...]   (keys in SIMKYC_KEYS)
For each round r it writes WORKDIR/ready_r_WORKER, waits for WORKDIR/go_r, records an approving
capture for its registration and writes the outcome to WORKDIR/out_r_WORKER.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from regkit import THRESHOLDS, assessment, make_deps

from simkyc.errors import SimkycError
from simkyc.service.registration import record_decision
from simkyc.store import KeyRing, open_database


def main() -> None:
    url, work, worker, *regs = sys.argv[1:]
    wd = Path(work)
    db = open_database(url, KeyRing.from_json(os.environ["SIMKYC_KEYS"]), run_migrations=False)
    deps = make_deps(db)
    for r, reg_id in enumerate(regs):
        (wd / f"ready_{r}_{worker}").touch()
        while not (wd / f"go_{r}").exists():
            time.sleep(0.001)
        try:
            res = record_decision(
                reg_id, assessment(), deps=deps, actor=f"worker:{worker}", thresholds=THRESHOLDS
            )
            out = res.outcome.value + ":" + ",".join(res.reasons)
        except SimkycError as exc:
            out = f"ERROR:{exc.reason}"
        (wd / f"out_{r}_{worker}").write_text(out)


if __name__ == "__main__":
    main()
