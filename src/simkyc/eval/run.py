"""Running systems over a pair list: embed each image once (cached), score every pair, report.

This is the shell side of evaluation (it reads files); the arithmetic is in
`simkyc.eval.metrics`. Worker processes each build their own system, because
model objects (dlib, LiteRT) cannot be shared across processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.pipeline import Kind
from simkyc.errors import SimkycError
from simkyc.eval.cache import EmbeddingCache, EmbedRecord, cache_key, file_digest
from simkyc.eval.pairs import Pair
from simkyc.eval.systems import System, degrade_to_chip

__all__ = ["Job", "ScoredPairs", "embed_jobs", "jobs_for_pairs", "score_pairs"]


@dataclass(frozen=True, slots=True)
class Job:
    """One image to embed: its path relative to the root, and whether it is an ID side degraded to a chip."""

    path: str
    chip: bool = False

    @property
    def condition(self) -> str:
        return "chip" if self.chip else "original"

    @property
    def kind(self) -> Kind:
        return "id_photo" if self.chip else "live"


def jobs_for_pairs(pairs: Sequence[Pair], *, condition: str = "original") -> list[Job]:
    """Distinct images to embed; with condition "chip" the A side (the ID) is degraded."""
    seen: dict[Job, None] = {}
    for p in pairs:
        seen.setdefault(Job(p.img_a, chip=condition == "chip"))
        seen.setdefault(Job(p.img_b))
    return list(seen)


def _load(root: Path, job: Job) -> tuple[bytes, str]:
    data = (root / job.path).read_bytes()
    digest = file_digest(root / job.path)
    if job.chip:
        data = degrade_to_chip(data)
    return data, digest


_WORKER: System | None = None


def _init_worker(factory: Callable[[], System]) -> None:
    global _WORKER
    _WORKER = factory()


def _embed_in_worker(args: tuple[bytes, Kind]) -> EmbedRecord:
    assert _WORKER is not None
    return _WORKER.embed_bytes(args[0], kind=args[1])


def embed_jobs(
    jobs: Sequence[Job],
    root: Path,
    *,
    factory: Callable[[], System],
    system_key: str,
    cache: EmbeddingCache,
    workers: int = 1,
    progress: Callable[[Iterable[Job], int], Iterable[Job]] | None = None,
) -> dict[Job, EmbedRecord]:
    """Embed every job, reusing cached results; unreadable files are recorded as failures, not raised."""
    results: dict[Job, EmbedRecord] = {}
    todo: list[tuple[Job, str, bytes]] = []
    for job in jobs:
        try:
            data, digest = _load(root, job)
        except (OSError, SimkycError) as exc:
            reason = str(exc.reason) if isinstance(exc, SimkycError) else "IMAGE_UNREADABLE"
            results[job] = EmbedRecord(template=None, reason=reason)
            continue
        key = cache_key(job.path, digest, system_key, job.condition)
        hit = cache.get(key)
        if hit is not None:
            results[job] = hit
        else:
            todo.append((job, key, data))

    def run() -> Iterator[tuple[Job, str, EmbedRecord]]:
        if workers <= 1:
            system = factory()
            for job, key, data in todo:
                yield job, key, system.embed_bytes(data, kind=job.kind)
            return
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(factory,)) as pool:
            records = pool.map(_embed_in_worker, [(d, j.kind) for j, _, d in todo], chunksize=4)
            for (job, key, _), rec in zip(todo, records, strict=True):
                yield job, key, rec

    def pump() -> Iterator[Job]:
        for job, key, rec in run():
            cache.put(key, rec)
            results[job] = rec
            yield job

    if todo:
        for _ in progress(pump(), len(todo)) if progress else pump():
            pass
    return results


@dataclass(frozen=True, slots=True)
class ScoredPairs:
    """Per-pair scores (-inf where a face was not acquired on either side) with labels and sources."""

    scores: npt.NDArray[np.float64]
    same: npt.NDArray[np.bool_]
    sources: tuple[str, ...]
    failed: npt.NDArray[np.bool_]

    def split(self, source: str | None = None) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(genuine, impostor) scores, optionally of one source."""
        sel = np.ones(len(self.scores), bool) if source is None else np.asarray(self.sources) == source
        return self.scores[sel & self.same], self.scores[sel & ~self.same]


def score_pairs(pairs: Sequence[Pair], records: dict[Job, EmbedRecord], *, condition: str) -> ScoredPairs:
    scores = np.full(len(pairs), -np.inf, dtype=np.float64)
    failed = np.zeros(len(pairs), dtype=bool)
    for n, p in enumerate(pairs):
        a = records[Job(p.img_a, chip=condition == "chip")]
        b = records[Job(p.img_b)]
        if a.template is None or b.template is None:
            failed[n] = True
            continue
        scores[n] = float(np.dot(a.template, b.template))
    return ScoredPairs(
        scores=scores,
        same=np.array([p.same for p in pairs], dtype=bool),
        sources=tuple(p.source for p in pairs),
        failed=failed,
    )


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
