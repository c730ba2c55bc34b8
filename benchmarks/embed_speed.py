"""Face descriptors per second: dlib against its ONNX port, measured in one run.

    nice .venv/bin/python benchmarks/embed_speed.py               # ~1 min
    nice .venv/bin/python benchmarks/embed_speed.py --rounds 4    # quicker, noisier
    nice .venv/bin/python benchmarks/embed_speed.py --npm         # the default embedder's networks

Chips: real faces from ../shared/data/faces/lfw (BlazeFace box, dlib 5-point chip,
exactly what the pipeline embeds); random chips when the data is absent (speed does not
depend on content). Configurations: dlib (`DlibEmbedder`) and ONNX Runtime
(`OnnxDlibEmbedder`), 1 and 2 intra-op threads, batches of 1 and 16 chips per call.
The configurations are run in interleaved rounds (one call each per round) so that load
from other processes on the machine hits all of them alike; the table gives the median
call time, latency per face, descriptors per second and the ratio against dlib at the
same batch size. dlib's pip build has no BLAS and no thread setting: it runs on one
thread whatever is asked, so its 2-thread rows measure the same thing again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simkyc.core.faces.types import Aligner, Image, Templates

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SIMKYC_SHARED_DATA", REPO.parent / "shared" / "data")) / "faces"


def real_chips(n: int, aligner: Aligner | None = None, side: int = 150) -> list[Image]:
    """Chips of real LFW faces cut by `aligner` (dlib's 150x150 by default); noise if the data is absent."""
    from PIL import Image as PILImage

    from simkyc.models.blazeface import BlazeFaceDetector
    from simkyc.models.dlib_models import DlibAligner

    files = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))[: 3 * n]
    if not files:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(n)]
    detector, cut = BlazeFaceDetector(), aligner if aligner is not None else DlibAligner()
    chips: list[Image] = []
    for f in files:
        image = np.asarray(PILImage.open(f).convert("RGB"))
        found = detector.detect(image)
        if found:
            chips.append(cut.chip(image, cut.landmarks(image, found[0])))
        if len(chips) == n:
            break
    return chips


@dataclass
class Config:
    engine: str
    threads: int
    batch: int
    run: Callable[[list[Image]], Templates]
    times: list[float] = field(default_factory=list)

    @property
    def call_s(self) -> float:
        return statistics.median(self.times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=8, help="timed calls per configuration")
    parser.add_argument(
        "--npm", action="store_true", help="the default embedder's networks (issue 13) instead of dlib's"
    )
    args = parser.parse_args()
    if args.npm:
        npm_main(args.rounds)
        return

    from simkyc.models.dlib_models import DlibEmbedder
    from simkyc.models.dlib_onnx import OnnxDlibEmbedder, convert

    chips = real_chips(16)
    converted = convert()
    dlib_embedder = DlibEmbedder()
    onnx = {t: OnnxDlibEmbedder(threads=t) for t in (1, 2)}
    configs = [
        Config(engine, threads, batch, run)
        for threads in (1, 2)
        for batch in (1, 16)
        for engine, run in (("dlib", dlib_embedder.embed_batch), ("onnxruntime", onnx[threads].embed_batch))
    ]
    gap = float(np.max(np.abs(dlib_embedder.embed_batch(chips) - onnx[1].embed_batch(chips))))
    for c in configs:  # warm-up
        c.run(chips[: c.batch])
    for r in range(args.rounds):
        for c in configs:
            batch = [chips[(r + i) % len(chips)] for i in range(c.batch)]
            start = time.perf_counter()
            c.run(batch)
            c.times.append(time.perf_counter() - start)

    print(f"ONNX file: {converted.path} (sha256 {converted.sha256[:12]}...)")
    print(
        f"{len(chips)} chips, {args.rounds} interleaved rounds, median call time;"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    print(f"largest |dlib - onnx| template component on these chips: {gap:.2e}\n")
    cols = {"engine": 12, "threads": 7, "batch": 5, "ms/call": 9, "ms/face": 8, "faces/s": 8, "x dlib": 7}
    header = " ".join(f"{c:<{w}}" if c == "engine" else f"{c:>{w}}" for c, w in cols.items())
    print(header)
    print("-" * len(header))
    base = {(c.threads, c.batch): c for c in configs if c.engine == "dlib"}
    for c in configs:
        per_face = c.call_s / c.batch
        ratio = base[(c.threads, c.batch)].call_s / c.call_s
        threads = f"{c.threads}*" if c.engine == "dlib" else str(c.threads)
        print(
            f"{c.engine:<12} {threads:>7} {c.batch:>5} {1000 * c.call_s:>9.1f} {1000 * per_face:>8.2f}"
            f" {1 / per_face:>8.1f} {ratio:>7.2f}"
        )
    print(
        "\n* dlib's build is single-threaded; 'x dlib' compares with dlib at the same thread row"
        " and batch size."
    )


def arcface_chips(n: int) -> list[Image]:
    """112x112 ArcFace chips of real faces (fr-landmark alignment, as the default pipeline cuts them)."""
    from simkyc.models.arcface import ArcFaceAligner

    return real_chips(n, ArcFaceAligner(), side=112)


def npm_main(rounds: int) -> None:
    """Per-face time of the default embedder's networks and of their fusion, beside dlib's ONNX port."""
    from concurrent.futures import ThreadPoolExecutor

    from simkyc.core.faces.ensemble import EnsembleEmbedder
    from simkyc.models.dlib_onnx import OnnxDlibEmbedder
    from simkyc.models.npm_embedders import FrFeatureEmbedder, MobileFaceNetEmbedder

    chips = arcface_chips(16)
    dlib_chips = real_chips(16)
    fr, mfn, dlib = FrFeatureEmbedder(), MobileFaceNetEmbedder(), OnnxDlibEmbedder()
    pool = ThreadPoolExecutor(2)
    fused = EnsembleEmbedder([fr, mfn], [1.0, 1.0], name="fused")
    fused_threads = EnsembleEmbedder([fr, mfn], [1.0, 1.0], name="fused", executor=pool)
    configs = [
        Config("dlib-onnx", 1, 2, lambda c: dlib.embed_batch(c)),
        Config("fr-feature", 1, 1, fr.embed_batch),
        Config("fr-feature", 1, 2, fr.embed_batch),
        Config("fr-feature", 1, 16, fr.embed_batch),
        Config("mobilefacenet", 1, 2, mfn.embed_batch),
        Config("mobilefacenet", 1, 16, mfn.embed_batch),
        Config("fused", 1, 2, fused.embed_batch),
        Config("fused", 2, 2, fused_threads.embed_batch),
    ]
    for c in configs:  # warm-up
        c.run((dlib_chips if c.engine == "dlib-onnx" else chips)[: c.batch])
    for r in range(rounds):
        for c in configs:
            pool_of = dlib_chips if c.engine == "dlib-onnx" else chips
            batch = [pool_of[(r + i) % len(pool_of)] for i in range(c.batch)]
            start = time.perf_counter()
            c.run(batch)
            c.times.append(time.perf_counter() - start)
    pool.shutdown()
    print(f"{len(chips)} chips, {rounds} interleaved rounds, median call time; load {os.getloadavg()[0]:.1f}")
    print("threads = threads of the call (fused, 2: the two networks side by side)\n")
    print(f"{'engine':<14}{'threads':>8}{'batch':>6}{'ms/call':>9}{'ms/face':>9}{'x dlib':>8}")
    base = configs[0].call_s / configs[0].batch
    for c in configs:
        per_face = c.call_s / c.batch
        print(
            f"{c.engine:<14}{c.threads:>8}{c.batch:>6}{1000 * c.call_s:>9.1f}{1000 * per_face:>9.2f}"
            f"{base / per_face:>8.2f}"
        )


if __name__ == "__main__":
    main()
