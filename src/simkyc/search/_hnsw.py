"""Approximate 1:N search: a usearch HNSW graph over centred int8 vectors, exact float32 re-ranking.

Why usearch (measured in `benchmarks/search_scale.py --compare-ann`; figures in the README):
it removes single vectors (a cancelled subscriber leaves the graph at once; faiss HNSW
cannot remove), serialises to bytes (one atomic file holds graph and vectors), and its
int8 graph is 4x smaller than float32 and built fastest on this 2-core machine.

Why centred: face templates of one model sit in a narrow cone (dlib: two strangers score
about 0.9), so int8 quantisation of the raw unit vectors keeps almost nothing of what
tells people apart (measured recall@1 of 0.02 on such data). For unit vectors the cosine
order equals the Euclidean order, and Euclidean distance ignores a shift, so the graph
holds `(v - centre) * scale` under squared-L2: the same neighbour order, with the int8
range spent on the differences between faces. The centre and scale are fitted once,
on the gallery present when the graph is first built, and saved with it.

The graph's `candidates` best are re-scored exactly on the float32 vectors kept beside
it: the scores returned are exact, only the candidate set is approximate.
"""

from __future__ import annotations

import contextlib
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

_SPREAD = 4.0  # int8 range covers +-4 standard deviations of a centred component


def _usearch_index() -> Any:
    """usearch's `Index`, imported after onnxruntime.

    Why: in one process, loading usearch's extension *before* onnxruntime makes the later
    `import onnxruntime` (the face embedder) die with a segmentation fault (usearch 2.26,
    onnxruntime in this venv); the other order is fine.
    """
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


class HnswIndex(EmbeddedIndex):
    """HNSW candidates (usearch, int8) re-ranked exactly; for galleries of 10^5 to 10^7 templates.

    **Parameters:** `transform`; `path` - *(optional)* file for `save()`; `connectivity` (M),
    `expansion_add` (efConstruction), `expansion_search` (ef) - graph parameters;
    `candidates` - how many graph results are re-ranked exactly (>= k is always used);
    `threads` - build threads (0 = all cores); `exact_below` - below this many templates
    the search is exact and no graph is kept (it is built when the gallery reaches it).
    """

    name: ClassVar[str] = "hnsw"

    def __init__(
        self,
        transform: ProtectedTransform,
        *,
        path: Path | None = None,
        connectivity: int = 32,
        expansion_add: int = 200,
        expansion_search: int = 512,
        candidates: int = 128,
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
        self._graph: Any = None
        self._centre = np.zeros(self.dim, dtype=np.float32)
        self._scale = np.float32(1.0)

    @property
    def expansion_search(self) -> int:
        """The graph walk's breadth (ef): higher = better recall, slower queries; tunable any time."""
        return int(self._params["expansion_search"])

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        self._params["expansion_search"] = int(value)
        if self._graph is not None:
            self._graph.expansion_search = int(value)

    @property
    def has_graph(self) -> bool:
        return self._graph is not None

    def _graph_space(self, protected: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = np.clip((protected - self._centre) * self._scale, -1.0, 1.0)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _build_graph(self) -> None:
        """Fit centre and scale on the current gallery and index every live vector."""
        Index = _usearch_index()

        gallery = self._gallery
        live = np.flatnonzero(gallery.alive[: gallery.high])
        vectors = gallery.vectors[live]
        self._centre = vectors.mean(axis=0).astype(np.float32)
        spread = float((vectors - self._centre).std()) if len(vectors) > 1 else 0.0
        self._scale = np.float32(1.0 / (_SPREAD * max(spread, 1e-3)))
        self._graph = Index(ndim=self.dim, metric="l2sq", **self._params)
        if len(live):
            self._graph.add(live.astype(np.uint64), self._graph_space(vectors), threads=self.threads)

    def _store(self, ids: list[str], identities: list[str], protected: npt.NDArray[np.float32]) -> None:
        old = [self._gallery.slot_of[i] for i in ids if i in self._gallery.slot_of]
        if old and self._graph is not None:
            self._graph.remove(np.asarray(old, dtype=np.uint64))
        slots = self._gallery.put(ids, identities, protected)
        if self._graph is not None:
            self._graph.add(slots.astype(np.uint64), self._graph_space(protected), threads=self.threads)
        elif len(self._gallery) >= max(1, self.exact_below):
            self._build_graph()

    def _unstore(self, template_id: str) -> bool:
        slot = self._gallery.delete(template_id)
        if slot is None:
            return False
        if self._graph is not None:
            self._graph.remove(slot)
        return True

    def _clear(self) -> None:
        super()._clear()
        self._graph = None

    def search(self, template: npt.NDArray[np.float32], k: int = 10) -> list[Hit]:
        probe = self.transform(as_vector(template, self.dim))
        with self._lock:
            return self._search(probe, k)

    def _search(self, probe: npt.NDArray[np.float32], k: int) -> list[Hit]:
        gallery = self._gallery
        if self._graph is None or len(gallery) < self.exact_below:
            return self._exact(probe, k)
        k = min(k, len(gallery))
        if k <= 0:
            return []
        found = self._graph.search(self._graph_space(probe), max(k, self.candidates))
        slots = np.asarray(found.keys, dtype=np.int64).reshape(-1)
        slots = slots[gallery.alive[slots]]
        scores = gallery.vectors[slots] @ probe  # exact re-ranking on float32
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(gallery.ids[s], gallery.identities[s], float(scores[i]))
            for i, s in zip(order, slots[order], strict=True)
        ]

    # -- persistence: the graph is saved in the same file as the vectors ------------------------
    def _header(self) -> dict[str, Any]:
        return {**super()._header(), "graph": self._params, "scale": float(self._scale)}

    def _extra_arrays(self) -> dict[str, npt.NDArray[Any]]:
        if self._graph is None:
            return {}
        return {
            "graph": np.frombuffer(bytes(self._graph.save()), dtype=np.uint8),
            "centre": self._centre,
        }

    def _restore_extra(self, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> None:
        Index = _usearch_index()

        self._params = dict(header.get("graph", self._params))
        if "graph" not in arrays:
            if len(self._gallery) >= max(1, self.exact_below):
                self._build_graph()
            return
        try:
            graph = Index.restore(bytearray(arrays["graph"].tobytes()), view=False)
        except (ValueError, RuntimeError) as exc:
            raise ConflictError(Reason.INDEX_INCONSISTENT, "the index file's graph is damaged") from exc
        if graph is None or len(graph) != len(self._gallery):
            raise ConflictError(Reason.INDEX_INCONSISTENT, "the index file's graph and vectors disagree")
        self._graph = graph
        self._centre = np.asarray(arrays["centre"], dtype=np.float32)
        self._scale = np.float32(header["scale"])
