"""Speed (and LFW accuracy) of one verification: simkyc against the `face_recognition` package.

    .venv/bin/python benchmarks/verify_speed.py [--pairs 200] [--seed 7] [--skip-accuracy] [--legacy]

One verification = two encoded images (bytes) in, a decision out. Both systems get
the same bytes of the same real pairs from ../shared/data/faces/pairs.csv:

- simkyc: `decode_image` x2, then `FacePipeline.verify` (BlazeFace, dlib HOG fallback,
  ArcFace 112x112 chips from faceplugin's 68 points, `bootstrap.default_embedder()`: two
  networks fused), threshold from the calibration file;
- simkyc-legacy (`--legacy`): the previous default, dlib 5-point chips and
  `bootstrap.legacy_embedder()` (dlib ResNet, NAP, flip TTA), its own calibration;
- face_recognition: `load_image_file` x2, `face_locations` (HOG, upsample 1, its
  default), `face_encodings` (5-point landmarks + the same dlib ResNet), distance <= 0.6.

Single process: median and p95 wall time per verification, after 3 warm-up pairs, the
systems interleaved pair by pair so machine load hits them alike. Throughput: all
pairs through 2 worker processes, per system. Per-stage medians (ms per verification).
Accuracy: FNMR at FMR 1e-3 on the LFW rows of pairs.csv for both, impostors = all
cross-identity pairs among those rows' images (cached embeddings from `simkyc eval`).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SIMKYC_SHARED_DATA", REPO.parent / "shared" / "data")) / "faces"


# --- the two systems: bytes in, (decision, per-stage ms) out --------------------------------------


class Simkyc:
    name = "simkyc"

    def __init__(self) -> None:
        from simkyc import bootstrap

        self.pipeline = bootstrap.face_pipeline()
        self.threshold = bootstrap.calibration().threshold(1e-3)

    def __call__(self, a: bytes, b: bytes) -> tuple[bool | None, dict[str, float]]:
        from simkyc.core.images import decode_image
        from simkyc.errors import SimkycError

        t0 = time.perf_counter()
        ia, ib = decode_image(a), decode_image(b)
        t_decode = (time.perf_counter() - t0) * 1000
        try:
            v = self.pipeline.verify(ia, ib, threshold=self.threshold)
        except SimkycError:
            return None, {"decode": t_decode}
        return v.is_match, {"decode": t_decode, **{k: x for k, x in v.timings.items() if k != "match"}}


class FaceRecognition:
    name = "face_recognition"

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition

    def __call__(self, a: bytes, b: bytes) -> tuple[bool | None, dict[str, float]]:
        fr = self.fr
        t0 = time.perf_counter()
        ia, ib = fr.load_image_file(io.BytesIO(a)), fr.load_image_file(io.BytesIO(b))
        t1 = time.perf_counter()
        la, lb = fr.face_locations(ia), fr.face_locations(ib)
        t2 = time.perf_counter()
        stages = {"decode": (t1 - t0) * 1000, "detect": (t2 - t1) * 1000}
        if not la or not lb:
            return None, stages
        ea, eb = fr.face_encodings(ia, la[:1])[0], fr.face_encodings(ib, lb[:1])[0]
        stages["align+embed"] = (time.perf_counter() - t2) * 1000
        return bool(fr.face_distance([ea], eb)[0] <= 0.6), stages


class SimkycLegacy(Simkyc):
    """The previous default (dlib ResNet via ONNX, NAP, flip TTA: 4 embeddings per verification)."""

    name = "simkyc-legacy"

    def __init__(self) -> None:
        from simkyc import bootstrap

        self.pipeline = bootstrap.legacy_face_pipeline()
        self.threshold = bootstrap.legacy_calibration().threshold(1e-3)


FACTORIES: dict[str, Callable[[], Any]] = {
    "simkyc": Simkyc,
    "face_recognition": FaceRecognition,
    "simkyc-legacy": SimkycLegacy,
}
_WORKER: Any = None


def _init(name: str) -> None:
    global _WORKER
    _WORKER = FACTORIES[name]()


def _work(pair: tuple[bytes, bytes]) -> bool | None:
    return _WORKER(*pair)[0]  # type: ignore[no-any-return]


# --- measurement ----------------------------------------------------------------------------------


def sample_pairs(n: int, seed: int) -> list[tuple[str, str, bool, str]]:
    from simkyc.eval.pairs import load_pairs

    pairs = load_pairs(DATA / "pairs.csv")
    random.Random(seed).shuffle(pairs)
    return [(p.img_a, p.img_b, p.same, p.source) for p in pairs[:n]]


def single_process(blobs: list[tuple[bytes, bytes]], names: list[str]) -> dict[str, dict[str, Any]]:
    systems = [FACTORIES[n]() for n in names]
    for s in systems:  # warm-up: model loading, first-call allocations
        for a, b in blobs[:3]:
            s(a, b)
    out: dict[str, dict[str, Any]] = {s.name: {"total": [], "stages": {}, "fail": 0} for s in systems}
    for n, (a, b) in enumerate(blobs):
        order = systems[n % len(systems) :] + systems[: n % len(systems)]
        for s in order:
            t0 = time.perf_counter()
            decision, stages = s(a, b)
            total = (time.perf_counter() - t0) * 1000
            rec = out[s.name]
            rec["total"].append(total)
            rec["fail"] += decision is None
            for k, v in stages.items():
                rec["stages"].setdefault(k, []).append(v)
    return out


def throughput(name: str, blobs: list[tuple[bytes, bytes]], workers: int = 2) -> float:
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(name,)) as pool:
        list(pool.map(_work, blobs[: 2 * workers]))  # warm up every worker
        t0 = time.perf_counter()
        list(pool.map(_work, blobs, chunksize=2))
        return len(blobs) / (time.perf_counter() - t0)


def lfw_accuracy() -> dict[str, dict[str, float]]:
    """FNMR at FMR 1e-3 on the LFW rows, both systems, from the eval embedding cache (filled if missing)."""
    from rich.progress import track

    from simkyc.config import get_settings
    from simkyc.eval.cache import EmbeddingCache
    from simkyc.eval.metrics import fnmr_at_fmr
    from simkyc.eval.pairs import cross_identity_scores, load_pairs
    from simkyc.eval.run import Job, embed_jobs, jobs_for_pairs, score_pairs
    from simkyc.eval.systems import SYSTEMS

    cache_path = Path(
        os.environ.get("SIMKYC_EVAL_CACHE", get_settings().home / "cache" / "eval-embeddings.sqlite")
    )
    cache = EmbeddingCache(cache_path)
    pairs = [p for p in load_pairs(DATA / "pairs.csv") if p.source.startswith("lfw")]
    jobs = jobs_for_pairs(pairs)
    out = {}
    for name, factory in SYSTEMS.items():
        records = embed_jobs(
            jobs,
            DATA,
            factory=factory,
            system_key=factory().key,
            cache=cache,
            progress=lambda it, n, name=name: track(it, total=n, description=f"LFW embeddings ({name})"),
        )
        scored = score_pairs(pairs, records, condition="original")
        genuine, row_impostors = scored.split()
        images = [j.path for j in jobs]
        valid = np.array([records[Job(p)].ok for p in images])
        dim = next(len(r.template) for r in records.values() if r.template is not None)
        templates = np.stack(
            [records[Job(p)].template if records[Job(p)].ok else np.zeros(dim, np.float32) for p in images]
        )
        identities = [p.split("/")[2] for p in images]  # lfw/images/NAME/NAME_0001.jpg
        impostors = cross_identity_scores(templates, identities, valid=valid)
        r = fnmr_at_fmr(genuine, impostors, 1e-3)
        rows = fnmr_at_fmr(genuine, row_impostors, 1e-3)
        out[name] = {
            "fnmr": r.fnmr,
            "threshold": r.threshold,
            "n_impostor": r.n_impostor,
            "n_genuine": r.n_genuine,
            "fta_genuine": int((scored.failed & scored.same).sum()),
            "fnmr_rows_only": rows.fnmr,
            "n_row_impostors": rows.n_impostor,
        }
    return out


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument(
        "--legacy", action="store_true", help="also time the previous default (dlib-resnet-v1+nap+flip)"
    )
    args = ap.parse_args()
    names = ["simkyc", "face_recognition"] + (["simkyc-legacy"] if args.legacy else [])
    if not (DATA / "pairs.csv").is_file():
        print(f"real data not found at {DATA} (set SIMKYC_SHARED_DATA)", file=sys.stderr)
        return 2
    chosen = sample_pairs(args.pairs, args.seed)
    blobs = [((DATA / a).read_bytes(), (DATA / b).read_bytes()) for a, b, _, _ in chosen]
    sizes = [len(a) + len(b) for a, b in blobs]
    print(
        f"{len(blobs)} real pairs from {DATA}/pairs.csv (seed {args.seed}); "
        f"median {np.median(sizes) / 1024:.0f} KiB per pair"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    single = single_process(blobs, names)
    tput = {name: throughput(name, blobs, args.workers) for name in names}

    print("\nOne verification (two encoded images in, decision out), single process, ms")
    print(
        f"{'system':<18}{'median':>9}{'p95':>9}{'mean':>9}{'no face':>9}"
        f"{'pairs/s (' + str(args.workers) + ' proc)':>20}"
    )
    for name, rec in single.items():
        t = rec["total"]
        print(
            f"{name:<18}{statistics.median(t):>9.1f}{_pct(t, 95):>9.1f}{statistics.fmean(t):>9.1f}"
            f"{rec['fail']:>9}{tput[name]:>20.2f}"
        )
    f = single["face_recognition"]["total"]
    for name in names:
        if name == "face_recognition":
            continue
        s = single[name]["total"]
        print(
            f"\nratio face_recognition / {name}: median {statistics.median(f) / statistics.median(s):.2f}x, "
            f"p95 {_pct(f, 95) / _pct(s, 95):.2f}x, throughput {tput[name] / tput['face_recognition']:.2f}x"
        )
    print("\nPer stage, median ms per verification (both images)")
    for name, rec in single.items():
        parts = "  ".join(f"{k} {statistics.median(v):.1f}" for k, v in rec["stages"].items())
        print(f"  {name:<18}{parts}")

    if not args.skip_accuracy:
        acc = lfw_accuracy()
        print(
            "\nFNMR at FMR 1e-3 on the LFW rows of pairs.csv "
            "(impostors: all cross-identity pairs of their images)"
        )
        for name, r in acc.items():
            print(
                f"  {name:<18}FNMR {r['fnmr']:.4f} at threshold {r['threshold']:.4f} "
                f"({r['n_genuine']} genuine, {r['fta_genuine']} without a face; "
                f"{r['n_impostor']} impostor comparisons)"
                f"  | rows' own {r['n_row_impostors']} impostors: FNMR {r['fnmr_rows_only']:.4f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
