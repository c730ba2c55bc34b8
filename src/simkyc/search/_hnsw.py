"""Approximate 1:N search: a usearch HNSW graph over int8 vectors, exact float32 re-ranking.

Why usearch (measured in `benchmarks/search_scale.py --compare-ann` and the README): it
removes single vectors (a cancelled subscriber leaves the graph at once; faiss HNSW cannot
remove), serialises to bytes (one atomic file with the exact vectors), and built faster
than faiss HNSW at equal recall on this 2-core machine. The graph walks int8-quantised
vectors (4x smaller than float32, faster distance kernels); its `candidates` best are then
re-scored exactly on the float32 vectors kept beside it, so the scores returned are exact
and only the candidate *set* is approximate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from simkyc.errors import ConflictError, Reason
from simkyc.search._numpy import EmbeddedIndex
from simkyc.search._transform import ProtectedTransform
from simkyc.search._types import Hit, as_vector

__all__ = ["HnswIndex"]

EXACT_BELOW = 2048
"""Galleries smaller than this are searched exactly (faster than a graph walk, recall 1)."""


class HnswIndex(EmbeddedIndex):
    """HNSW candidates (usearch, int8) re-ranked exactly; for galleries of 10^5 to 10^7 templates.

    **Parameters:** `transform`; `path` - *(optional)* file for `save()`; `connectivity` (M),
    `expansion_add` (efConstruction), `expansion_search` (ef) - graph parameters;
    `candidates` - how many graph results are re-ranked exactly (>= k is always used);
    `threads` - build threads (0 = all cores); `exact_below` - smaller galleries are searched exactly.
    """

    name: ClassVar[str] = "hnsw"

    def __init__(
        self,
        transform: ProtectedTransform,
        *,
        path: Path | None = None,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 128,
        candidates: int = 32,
        dtype: str = "i8",
        threads: int = 0,
        exact_below: int = EXACT_BELOW,
    ) -> None:
        super().__init__(transform, path=path)
        self.candidates = candidates
        self.threads = threads
        self.exact_below = exact_below
        self._params: dict[str, Any] = {
            "connectivity": connectivity,
            "expansion_add": expansion_add,
            "expansion_search": expansion_search,
            "dtype": dtype,
        }
        self._graph = self._new_graph()

    def _new_graph(self) -> Any:
        from usearch.index import Index

        return Index(ndim=self.dim, metric="ip", **self._params)

    def _put(self, ids: list[str], identities: list[str], raw: npt.NDArray[np.float32]) -> None:
        old = [self._gallery.slot_of[i] for i in ids if i in self._gallery.slot_of]
        if old:
            self._graph.remove(np.asarray(old, dtype=np.uint64))
        protected = self.transform(raw)
        slots = self._gallery.put(ids, identities, protected)
        self._graph.add(slots.astype(np.uint64), protected, threads=self.threads)

    def remove(self, template_id: str) -> bool:
        slot = self._gallery.delete(template_id)
        if slot is None:
            return False
        self._graph.remove(slot)
        return True

    def clear(self) -> None:
        super().clear()
        self._graph = self._new_graph()

    def search(self, template: npt.NDArray[np.float32], k: int = 10) -> list[Hit]:
        probe = self.transform(as_vector(template, self.dim))
        gallery = self._gallery
        if len(gallery) < self.exact_below:
            return self._exact(probe, k)
        k = min(k, len(gallery))
        if k <= 0:
            return []
        found = self._graph.search(probe, max(k, self.candidates))
        slots = np.asarray(found.keys, dtype=np.int64)
        slots = slots[gallery.alive[slots]]
        scores = gallery.vectors[slots] @ probe  # exact re-ranking on float32
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(gallery.ids[s], gallery.identities[s], float(scores[i]))
            for i, s in zip(order, slots[order], strict=True)
        ]

    # -- persistence: the graph is saved in the same file as the vectors ------------------------
    def _header(self) -> dict[str, Any]:
        return {**super()._header(), "graph": self._params}

    def _extra_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"graph": np.frombuffer(bytes(self._graph.save()), dtype=np.uint8)}

    def _restore_extra(self, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> None:
        from usearch.index import Index

        self._params = dict(header.get("graph", self._params))
        try:
            graph = Index.restore(bytearray(arrays["graph"].tobytes()), view=False)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise ConflictError(Reason.INDEX_INCONSISTENT, "the index file's graph is damaged") from exc
        if graph is None or len(graph) != len(self._gallery):
            raise ConflictError(Reason.INDEX_INCONSISTENT, "the index file's graph and vectors disagree")
        self._graph = graph
