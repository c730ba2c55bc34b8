"""Worker process of the duplicate race test: one "worker" with its own followed index decides one
registration of a face that another worker decides under another ID at the same moment.

Usage: dedup_worker.py DB_URL WORKDIR WORKER_NO REG_ID N_WORKERS   (keys in SIMKYC_KEYS)
The index is loaded before the race; each search waits until every worker has searched, so no search
can see the other's template: only the re-check inside the decision transaction can.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from regkit import FakeFaces, make_deps, portrait, unit

from simkyc.core.liveness.types import LivenessResult
from simkyc.errors import SimkycError
from simkyc.search import FollowedIndex, NumpyIndex, ProtectedTransform
from simkyc.service.registration import submit_liveness
from simkyc.store import KeyRing, feed, open_database


class BarrierIndex(FollowedIndex):
    """Searches, then waits until every worker has searched (the race window, made certain)."""

    def __init__(self, *args: object, work: Path, worker: str, workers: int, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.work, self.worker, self.workers = work, worker, workers

    def search(self, template: np.ndarray, k: int = 10):  # type: ignore[no-untyped-def]
        hits = super().search(template, k)
        (self.work / f"searched_{self.worker}").touch()
        while len(list(self.work.glob("searched_*"))) < self.workers:
            time.sleep(0.001)
        return hits


def main() -> None:
    url, work, worker, reg_id, workers = sys.argv[1:]
    wd = Path(work)
    db = open_database(url, KeyRing.from_json(os.environ["SIMKYC_KEYS"]), run_migrations=False)
    faces = FakeFaces()
    face = unit(7)
    for n in (500, 501):  # the two ID photos (two people's cards, one face in front of the camera)
        faces.learn(portrait(n), face)
    faces.learn(portrait(42), face)  # the live frame
    index = BarrierIndex(
        NumpyIndex(ProtectedTransform.from_key(b"k" * 32, dim=128)),
        changes=lambda after: feed.changes_after(db.engine, after),
        fetch=lambda ids: feed.fetch_templates(db, ids),
        applied_seq=feed.feed_head(db.engine),
        persist=False,
        work=wd,
        worker=worker,
        workers=int(workers),
    )
    deps = make_deps(db, faces=faces, index=index)
    live = LivenessResult(passed=True, reasons=(), action_times={}, best_frames=[portrait(42)], scores={})
    (wd / f"ready_{worker}").touch()
    while not (wd / "go").exists():
        time.sleep(0.001)
    try:
        res = submit_liveness(reg_id, live, deps=deps, actor=f"worker:{worker}")
        out = res.outcome.value + ":" + ",".join(res.reasons)
    except SimkycError as exc:
        out = f"ERROR:{exc.reason}"
    (wd / f"out_{worker}").write_text(out)


if __name__ == "__main__":
    main()
