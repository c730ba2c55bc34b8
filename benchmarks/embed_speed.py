"""Face descriptors per second: dlib against its ONNX port, measured in one run.

    nice .venv/bin/python benchmarks/embed_speed.py               # ~1 min
    nice .venv/bin/python benchmarks/embed_speed.py --rounds 4    # quicker, noisier

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

from simkyc.core.faces.types import Image, Templates

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SIMKYC_SHARED_DATA", REPO.parent / "shared" / "data")) / "faces"


def real_chips(n: int) -> list[Image]:
    from PIL import Image as PILImage

    from simkyc.models.blazeface import BlazeFaceDetector
    from simkyc.models.dlib_models import DlibAligner

    files = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))[: 3 * n]
    if not files:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(n)]
    detector, aligner = BlazeFaceDetector(), DlibAligner()
    chips: list[Image] = []
    for f in files:
        image = np.asarray(PILImage.open(f).convert("RGB"))
        found = detector.detect(image)
        if found:
            chips.append(aligner.chip(image, aligner.landmarks(image, found[0])))
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
