"""1:N search at scale: build time, memory, latency and recall of each index backend.

    nice .venv/bin/python benchmarks/search_scale.py                    # 10k, 100k, 1M
    nice .venv/bin/python benchmarks/search_scale.py --sizes 10000 --queries 100   # quick look

Galleries: the REAL part is one production template per identity-labelled dev image
(../shared/data/faces/identities.csv without the NUAA print attacks; the default
pipeline `bootstrap.face_pipeline()`: BlazeFace, 5-point chips, dlib ResNet adapted
and flip-averaged; cached with the dev embeddings); one photo of every identity with
two or more is held out as a probe. The SYNTHETIC
top-up is drawn from a Gaussian with the real templates' mean and covariance (one
template per identity, as the store keeps one per subscriber) and L2-normalised;
the script prints real and synthetic impostor-score quantiles side by side so the
match can be judged.

Per backend and size: build time, memory (resident-set growth, milvus-lite's
server process included), p50/p99 latency of one `search(probe, k=10)` (the keyed
transform included), recall@1 and recall@10 against the exact numpy index, and
the ratio of p50 latency to the exact index measured in the same run. Then the
false-positive identification rate (FPIR) at the duplicate threshold on real
identities: how many probes would be sent to REVIEW for a face registered under
another identity, on the real gallery alone and on each full gallery.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.config import get_settings
from simkyc.search import HnswIndex, MilvusIndex, NumpyIndex, ProtectedTransform, find_duplicates
from simkyc.search._types import Hit

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SIMKYC_SHARED_DATA", REPO.parent / "shared" / "data")) / "faces"
SKIP_SOURCES = {"nuaa_spoof_print"}  # prints of the NUAA subjects: not a separate registration
F32 = npt.NDArray[np.float32]


# --- real templates -------------------------------------------------------------------------------


def real_templates() -> tuple[F32, npt.NDArray[np.str_]]:
    """The production templates (`bootstrap.face_pipeline()`) of every identity-labelled dev image.

    Computed once with the dev-embedding cache of `simkyc eval embed-dev` (about 3 minutes), so
    the gallery holds exactly what registration stores: adapted, flip-averaged templates.
    """
    from simkyc import bootstrap
    from simkyc.eval.devset import compute_dev_embeddings

    cache = get_settings().model_cache / "eval"
    dev = compute_dev_embeddings(DATA, bootstrap.face_pipeline(), cache_dir=cache)
    keep = dev.ok & np.array([im.source not in SKIP_SOURCES for im in dev.images])
    return dev.plain[keep], np.asarray([im.identity for im in dev.images])[keep]


# --- gallery --------------------------------------------------------------------------------------


@dataclass
class Data:
    gallery: F32  # real rows first, then synthetic
    gallery_ids: list[str]  # identity keys ("syn-N" for synthetic)
    n_real: int
    probes: F32  # held-out real photos, one per identity with >= 2 photos
    probe_ids: list[str]


def split_real(templates: F32, identities: npt.NDArray[np.str_]) -> tuple[F32, list[str], F32, list[str]]:
    seen: dict[str, int] = {}
    for who in identities.tolist():
        seen[who] = seen.get(who, 0) + 1
    held: set[str] = set()
    gal_rows, probe_rows = [], []
    for i, who in enumerate(identities.tolist()):
        if seen[who] >= 2 and who not in held:
            held.add(who)
            probe_rows.append(i)
        else:
            gal_rows.append(i)
    return (
        templates[gal_rows],
        identities[gal_rows].tolist(),
        templates[probe_rows],
        identities[probe_rows].tolist(),
    )


def synthetic(real: F32, identities: list[str], n: int, *, seed: int = 0) -> F32:
    """`n` unit vectors from a Gaussian fitted to the real templates (one per identity)."""
    first: dict[str, int] = {}
    for i, who in enumerate(identities):
        first.setdefault(who, i)
    sample = real[list(first.values())].astype(np.float64)
    mean, cov = sample.mean(axis=0), np.cov(sample, rowvar=False)
    chol = np.linalg.cholesky(cov + 1e-9 * np.eye(len(mean)))
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = mean + rng.standard_normal((m, len(mean))) @ chol.T
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def impostor_quantiles(a: F32, a_ids: list[str], b: F32, b_ids: list[str]) -> list[float]:
    scores = a @ b.T
    mask = np.asarray(a_ids)[:, None] != np.asarray(b_ids)[None, :]
    vals = scores[mask]
    return [float(np.mean(vals)), *np.quantile(vals, [0.5, 0.99, 0.9999]).tolist(), float(vals.max())]


# --- measuring ------------------------------------------------------------------------------------


def rss_mb() -> float:
    """Resident memory of this process and its children (milvus-lite runs a server process)."""
    me = os.getpid()
    pids = [me]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                pids.append(int(entry))
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@dataclass
class Row:
    backend: str
    size: int
    build_s: float
    memory_mb: float
    p50_ms: float
    p99_ms: float
    recall1: float
    recall10: float
    note: str = ""


def run_queries(search: Callable[[F32, int], list[Hit]], probes: F32) -> tuple[list[list[str]], float, float]:
    keys: list[list[str]] = []
    lat = np.empty(len(probes), dtype=np.float64)
    for i, probe in enumerate(probes):
        t0 = time.perf_counter()
        hits = search(probe, 10)
        lat[i] = time.perf_counter() - t0
        keys.append([h.key for h in hits])
    p50, p99 = np.percentile(lat * 1e3, [50, 99])
    return keys, float(p50), float(p99)


def recall(found: list[list[str]], exact: list[list[str]]) -> tuple[float, float]:
    r1 = np.mean([f[:1] == e[:1] for f, e in zip(found, exact, strict=True)])
    r10 = np.mean([len(set(f) & set(e)) / max(1, len(e)) for f, e in zip(found, exact, strict=True)])
    return float(r1), float(r10)


def bench_size(
    data: Data,
    size: int,
    transform: ProtectedTransform,
    queries: F32,
    args: argparse.Namespace,
    workdir: Path,
) -> list[Row]:
    ids = [f"t{i}" for i in range(size)]
    who = data.gallery_ids[:size]
    vecs = data.gallery[:size]
    rows: list[Row] = []

    gc.collect()
    m0, t0 = rss_mb(), time.perf_counter()
    exact = NumpyIndex(transform)
    exact.add_arrays(ids, who, vecs)
    build, mem = time.perf_counter() - t0, rss_mb() - m0
    truth, p50, p99 = run_queries(exact.search, queries)
    rows.append(Row("numpy (exact)", size, build, mem, p50, p99, 1.0, 1.0))
    print(f"  {rows[-1]}", file=sys.stderr)

    if "hnsw" in args.backends:
        gc.collect()
        m0, t0 = rss_mb(), time.perf_counter()
        ann = HnswIndex(
            transform, exact_below=0, connectivity=args.connectivity, expansion_add=args.ef_construction
        )
        ann.add_arrays(ids, who, vecs)
        build, mem = time.perf_counter() - t0, rss_mb() - m0
        for setting in args.hnsw:
            ef, cand = (int(v) for v in setting.split(":"))
            ann.expansion_search, ann.candidates = ef, cand
            found, p50, p99 = run_queries(ann.search, queries)
            note = f"centred L2, M={args.connectivity} efC={args.ef_construction}, ef={ef}, {cand} re-ranked"
            rows.append(
                Row("hnsw (usearch i8 + re-rank)", size, build, mem, p50, p99, *recall(found, truth), note)
            )
            print(f"  {rows[-1]}", file=sys.stderr)
        del ann
    del exact

    if "milvus" in args.backends and size <= args.milvus_max:
        gc.collect()
        m0, t0 = rss_mb(), time.perf_counter()
        nlist = max(64, int(4 * np.sqrt(size)))
        mil = MilvusIndex(
            str(workdir / f"milvus-{size}.db"),
            transform,
            index_params={"nlist": nlist},
            search_params={"nprobe": args.nprobe},
        )
        mil.add_arrays(ids, who, vecs)
        mil.save()
        mil.search(queries[0], 10)  # the first search waits for the index to be built
        build, mem = time.perf_counter() - t0, rss_mb() - m0
        few = queries[: args.milvus_queries]
        found, p50, p99 = run_queries(mil.search, few)
        rows.append(
            Row(
                "milvus-lite (IVF_FLAT + re-rank)",
                size,
                build,
                mem,
                p50,
                p99,
                *recall(found, truth[: len(few)]),
                f"nlist={nlist} nprobe={args.nprobe}, {len(few)} queries",
            )
        )
        print(f"  {rows[-1]}", file=sys.stderr)
        mil.close()
    elif "milvus" in args.backends:
        rows.append(
            Row(
                "milvus-lite (IVF_FLAT + re-rank)",
                size,
                float("nan"),
                float("nan"),
                float("nan"),
                float("nan"),
                float("nan"),
                float("nan"),
                f"not run: size > --milvus-max {args.milvus_max}",
            )
        )
    return rows


# --- FPIR -----------------------------------------------------------------------------------------


def best_other_identity(probes: F32, probe_ids: list[str], gallery: F32, gallery_ids: list[str]) -> F32:
    """For each probe, the best score among templates of OTHER identities (exact, chunked)."""
    best = np.full(len(probes), -np.inf, dtype=np.float32)
    gid = np.asarray(gallery_ids)
    pid = np.asarray(probe_ids)
    for start in range(0, len(gallery), 200_000):
        block = probes @ gallery[start : start + 200_000].T
        block[pid[:, None] == gid[None, start : start + 200_000]] = -np.inf
        np.maximum(best, block.max(axis=1), out=best)
    return best


def duplicate_threshold(real: F32, identities: list[str]) -> tuple[float, str]:
    """The registration's 1:N threshold (policy `duplicate`), or FMR 1e-4 measured here."""
    try:
        from simkyc import bootstrap

        point = bootstrap.policy().duplicate_operating_point
        return bootstrap.registration_thresholds().duplicate, f"policy duplicate = fused FMR {point}"
    except Exception as exc:  # calibration missing or for another model: measure it here
        reason = type(exc).__name__
    scores = real @ real.T
    ids = np.asarray(identities)
    iu = np.triu_indices(len(real), 1)
    impostors = scores[iu][(ids[:, None] != ids[None, :])[iu]]
    return float(
        np.quantile(impostors, 1 - 1e-4)
    ), f"FMR 1e-4 of {len(impostors):,} real impostor pairs ({reason})"


# --- ANN engine comparison ------------------------------------------------------------------------


def compare_ann(data: Data, size: int, queries: F32) -> None:
    """usearch vs faiss on the same gallery (why HnswIndex uses usearch)."""
    import faiss
    from usearch.index import Index

    gal = data.gallery[:size]
    truth = np.argsort(-(queries @ gal.T), axis=1)[:, :10]

    def measure(
        name: str, build: Callable[[], Any], search: Callable[[Any, F32], npt.NDArray[np.int64]]
    ) -> None:
        t0 = time.perf_counter()
        idx = build()
        bt = time.perf_counter() - t0
        lat, r1 = [], 0
        for i, q in enumerate(queries):
            t = time.perf_counter()
            cand = search(idx, q)
            cand = cand[cand >= 0]
            top = cand[np.argsort(-(gal[cand] @ q))[:10]]
            lat.append(time.perf_counter() - t)
            r1 += int(top[0] == truth[i, 0])
        ms = np.asarray(lat) * 1e3
        print(
            f"| {name} | {size:,} | {bt:.1f} | {np.percentile(ms, 50):.2f} | {np.percentile(ms, 99):.2f} "
            f"| {r1 / len(queries):.3f} |"
        )

    print("\n### ANN engines (32 candidates re-ranked exactly)\n")
    print("| engine | gallery | build s | p50 ms | p99 ms | recall@1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    keys = np.arange(size, dtype=np.uint64)
    centre = gal.mean(axis=0)
    scale = 1.0 / (4.0 * float((gal - centre).std()))

    def centred(v: F32) -> F32:
        return np.ascontiguousarray(np.clip((v - centre) * scale, -1, 1), dtype=np.float32)

    def us(metric: str, data: F32) -> Any:
        ix = Index(
            ndim=gal.shape[1],
            metric=metric,
            dtype="i8",
            connectivity=16,
            expansion_add=128,
            expansion_search=128,
        )
        ix.add(keys, data)
        return ix

    measure(
        "usearch HNSW i8, raw cosine",
        lambda: us("ip", gal),
        lambda ix, q: ix.search(q, 32).keys.astype(np.int64),
    )
    measure(
        "usearch HNSW i8, centred L2 (HnswIndex)",
        lambda: us("l2sq", centred(gal)),
        lambda ix, q: ix.search(centred(q), 32).keys.astype(np.int64),
    )

    def fh() -> Any:
        ix = faiss.IndexHNSWFlat(gal.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
        ix.hnsw.efConstruction = 128
        ix.add(gal)
        ix.hnsw.efSearch = 128
        return ix

    measure("faiss HNSWFlat", fh, lambda ix, q: ix.search(q[None], 32)[1][0])

    def fi() -> Any:
        nl = int(4 * np.sqrt(size))
        ix = faiss.IndexIVFFlat(faiss.IndexFlatIP(gal.shape[1]), gal.shape[1], nl, faiss.METRIC_INNER_PRODUCT)
        ix.train(gal[: min(size, 50 * nl)])
        ix.add(gal)
        ix.nprobe = max(8, nl // 32)
        return ix

    measure("faiss IVFFlat (nprobe=nlist/32)", fi, lambda ix, q: ix.search(q[None], 32)[1][0])


def _ratio(exact_ms: float, ms: float) -> str:
    """The exact index's p50 over this one's, worded so that a slower backend reads as slower."""
    return f"{exact_ms / ms:.1f}x faster" if ms <= exact_ms else f"{ms / exact_ms:.1f}x slower"


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500, help="real probes used for latency and recall")
    parser.add_argument(
        "--hnsw",
        nargs="+",
        default=["128:128", "256:128", "384:128", "512:128"],
        metavar="EF:CANDIDATES",
        help="HnswIndex search settings measured on the same graph",
    )
    parser.add_argument("--connectivity", type=int, default=32, help="HnswIndex connectivity (M)")
    parser.add_argument("--ef-construction", type=int, default=200, help="HnswIndex expansion_add")
    parser.add_argument(
        "--milvus-queries", type=int, default=50, help="queries timed on milvus-lite (it is slow)"
    )
    parser.add_argument("--skip-fpir", action="store_true", help="timing table only")
    parser.add_argument("--backends", nargs="+", default=["hnsw", "milvus"], choices=["hnsw", "milvus"])
    parser.add_argument(
        "--milvus-max", type=int, default=1_000_000, help="largest gallery put into milvus-lite"
    )
    parser.add_argument("--nprobe", type=int, default=32, help="milvus-lite IVF_FLAT lists searched")
    parser.add_argument(
        "--compare-ann", type=int, default=0, metavar="N", help="also compare ANN engines at N"
    )
    parser.add_argument("--templates-only", action="store_true", help="compute and cache the real templates")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # partial results survive a kill

    templates, identities = real_templates()
    print(f"real templates: {len(templates)} of {len(set(identities.tolist()))} identities", file=sys.stderr)
    if args.templates_only:
        return
    gal_real, gal_ids, probes, probe_ids = split_real(templates, identities)
    n_syn = max(0, max(args.sizes) - len(gal_real))
    syn = synthetic(gal_real, gal_ids, n_syn)
    data = Data(
        np.concatenate([gal_real, syn]),
        gal_ids + [f"syn-{i}" for i in range(n_syn)],
        len(gal_real),
        probes,
        probe_ids,
    )
    rng = np.random.default_rng(1)
    queries = probes[rng.choice(len(probes), size=min(args.queries, len(probes)), replace=False)]
    transform = ProtectedTransform.from_key(os.urandom(32), dim=templates.shape[1])

    print("# 1:N search benchmark\n")
    print(
        f"Real: {len(gal_real):,} gallery templates of {len(set(gal_ids)):,} identities + {len(probes):,} "
        f"held-out probes (the default pipeline's templates of the dev images). Synthetic: {n_syn:,} "
        f"Gaussian draws fitted to the real templates. Queries: {len(queries)} real probes, k=10, "
        "keyed transform on. "
        f"CPU cores: {os.cpu_count()}.\n"
    )
    real_q = impostor_quantiles(gal_real[:3000], gal_ids[:3000], gal_real[:3000], gal_ids[:3000])
    syn_q = (
        impostor_quantiles(
            syn[:3000], [f"s{i}" for i in range(3000)], syn[3000:6000], [f"t{i}" for i in range(3000)]
        )
        if n_syn >= 6000
        else [float("nan")] * 5
    )
    print(
        "| impostor scores | mean | median | p99 | p99.99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    for name, q in (("real vs real (other identities)", real_q), ("synthetic vs synthetic", syn_q)):
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in q) + " |")

    if not args.skip_fpir:
        threshold, source = duplicate_threshold(gal_real, gal_ids)
        print(
            "\n### False-positive identification rate on real identities "
            f"(threshold {threshold:.4f}: {source})\n"
        )
        print(
            f"{len(probes)} real probes, each searched with its own identity key (its own photos are not"
            " duplicates); a probe is a false positive when another identity scores >= the threshold."
            " Detection: the probe's own identity scores >= the threshold (the same face under a new ID).\n"
        )
        print("| gallery | FPIR | detection rate (real mates) |\n| --- | ---: | ---: |")
        own = best_other_identity(
            probes, [f"not-{p}" for p in probe_ids], gal_real, gal_ids
        )  # includes mates
        mates = np.isin(probe_ids, gal_ids)
        for size in [len(gal_real), *sorted(args.sizes)]:
            best = best_other_identity(probes, probe_ids, data.gallery[:size], data.gallery_ids[:size])
            print(
                f"| {size:,}{' (real only)' if size == len(gal_real) else ''} "
                f"| {np.mean(best >= threshold):.4f} "
                f"| {np.mean(own[mates] >= threshold):.3f} |"
            )
        # the same check through the public API, on the real gallery with the exact index
        check = NumpyIndex(transform)
        check.add_arrays([f"r{i}" for i in range(len(gal_real))], gal_ids, gal_real)
        flagged = sum(
            bool(find_duplicates(check, p, threshold=threshold, identity_key=w, k=1))
            for p, w in zip(probes, probe_ids, strict=True)
        )
        print(
            f"\nfind_duplicates on the real gallery flags {flagged} of {len(probes)} probes (FPIR "
            f"{flagged / len(probes):.4f})."
        )
    print(
        "\n| backend | gallery | build s | memory MB | p50 ms | p99 ms | p50 vs exact | recall@1 "
        "| recall@10 | notes |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="simkyc-search-bench-") as tmp:
        for size in sorted(args.sizes):
            print(f"gallery {size:,}", file=sys.stderr)
            rows = bench_size(data, size, transform, queries, args, Path(tmp))
            exact_p50 = rows[0].p50_ms
            for r in rows:
                print(
                    f"| {r.backend} | {r.size:,} | {r.build_s:.1f} | {r.memory_mb:.0f} | {r.p50_ms:.2f} | "
                    f"{r.p99_ms:.2f} | {_ratio(exact_p50, r.p50_ms)} | {r.recall1:.3f} "
                    f"| {r.recall10:.3f} | {r.note} |",
                    flush=True,
                )
    if args.compare_ann:
        compare_ann(data, args.compare_ann, queries)


if __name__ == "__main__":
    main()
