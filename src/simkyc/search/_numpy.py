"""Exact 1:N search with numpy: one float32 matrix product per query.

The default for galleries up to a few hundred thousand templates: no index to
tune, recall is 1 by construction, and the file is the ground truth the
approximate index is measured against.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from simkyc.errors import ConflictError, InputError, Reason
from simkyc.search._gallery import Gallery
from simkyc.search._persist import Op, append_journal, drop_journal, read_arrays, read_journal, write_arrays
from simkyc.search._transform import ProtectedTransform
from simkyc.search._types import Hit, IndexRecord, as_matrix, as_vector, check_key

__all__ = ["NumpyIndex"]

_BATCH = 8192
_Self = TypeVar("_Self", bound="EmbeddedIndex")


class EmbeddedIndex:
    """What the in-process indexes share: a `Gallery`, the transform, an optional file path."""

    name: ClassVar[str] = "embedded"

    def __init__(self, transform: ProtectedTransform, *, path: Path | None = None) -> None:
        self.transform = transform
        self.dim = transform.dim
        self.path = Path(path) if path is not None else None
        self._gallery = Gallery(self.dim)
        # persistence state: changes since the last save, and whether the next save must snapshot
        self._pending: list[Op] = []
        self._snapshot_due = True
        self._journal_ops = 0
        self._generation = ""
        # one writer or one reader at a time: the service searches from several threads
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.count()} templates, key {self.key_id}>"

    @property
    def key_id(self) -> str:
        return self.transform.key_id

    # -- writes -------------------------------------------------------------------------------------
    def add(self, template_id: str, identity_key: str, template: npt.NDArray[np.float32]) -> None:
        self._put(
            [check_key(template_id, "template id")],
            [check_key(identity_key, "identity key")],
            as_vector(template, self.dim)[None, :],
        )

    def add_many(self, records: Iterable[IndexRecord]) -> int:
        total = 0
        batch: list[IndexRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) == _BATCH:
                total += self._put_records(batch)
                batch = []
        if batch:
            total += self._put_records(batch)
        return total

    def add_arrays(self, ids: list[str], identities: list[str], templates: npt.NDArray[np.float32]) -> int:
        """Bulk add from parallel lists and an (N, D) array (benchmarks, large rebuilds)."""
        if not (len(ids) == len(identities) == len(templates)):
            raise InputError(Reason.INVALID_REQUEST, "ids, identities and templates differ in length")
        for start in range(0, len(ids), _BATCH * 8):
            stop = start + _BATCH * 8
            for value in ids[start:stop]:
                check_key(value, "template id")
            for value in identities[start:stop]:
                check_key(value, "identity key")
            self._put(ids[start:stop], identities[start:stop], as_matrix(templates[start:stop], self.dim))
        return len(ids)

    def _put_records(self, batch: list[IndexRecord]) -> int:
        ids = [check_key(r.template_id, "template id") for r in batch]
        identities = [check_key(r.identity_key, "identity key") for r in batch]
        self._put(ids, identities, as_matrix(np.stack([r.template for r in batch]), self.dim))
        return len(batch)

    def _put(self, ids: list[str], identities: list[str], raw: npt.NDArray[np.float32]) -> None:
        protected = self.transform(raw)
        with self._lock:
            self._store(ids, identities, protected)
            self._journal_puts(ids, identities, protected)

    def _journal_puts(
        self, ids: list[str], identities: list[str], protected: npt.NDArray[np.float32]
    ) -> None:
        if not self._snapshot_due:
            self._pending.extend(("put", i, w, v) for i, w, v in zip(ids, identities, protected, strict=True))
            if len(self._pending) > self._journal_limit():
                self._snapshot_due, self._pending = True, []

    def _store(self, ids: list[str], identities: list[str], protected: npt.NDArray[np.float32]) -> None:
        self._gallery.put(ids, identities, protected)

    def _unstore(self, template_id: str) -> bool:
        return self._gallery.delete(template_id) is not None

    def remove(self, template_id: str) -> bool:
        with self._lock:
            if not self._unstore(template_id):
                return False
            if not self._snapshot_due:
                self._pending.append(("del", template_id, "", None))
            return True

    def clear(self) -> None:
        with self._lock:
            self._clear()
            self._snapshot_due, self._pending = True, []

    def _clear(self) -> None:
        self._gallery.clear()

    # -- reads --------------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self._gallery)

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._gallery.slot_of)

    def identity_of(self, template_id: str) -> str | None:
        slot = self._gallery.slot_of.get(template_id)
        return None if slot is None else self._gallery.identities[slot]

    def _exact(self, protected: npt.NDArray[np.float32], k: int) -> list[Hit]:
        gallery = self._gallery
        k = min(k, len(gallery))
        if k <= 0:
            return []
        scores = gallery.vectors[: gallery.high] @ protected
        if gallery.dead:
            scores[~gallery.alive[: gallery.high]] = -np.inf
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(gallery.ids[s], gallery.identities[s], float(scores[s])) for s in top]

    # -- persistence --------------------------------------------------------------------------------
    def _header(self) -> dict[str, Any]:
        return {"kind": self.name, "dim": self.dim, "key_id": self.key_id, "count": self.count()}

    def _extra_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {}

    def _journal_limit(self) -> int:
        return max(1024, self.count() // 10)

    def save(self, path: Path | None = None) -> None:
        """Make every change durable at `path` (default: the path the index was opened with).

        Small changes are appended to a journal beside the file (`<file>.journal`, fsynced);
        after about a tenth of the gallery, or a clear, or a new path, the whole index is
        written as a new snapshot (temporary file, fsync, `os.replace`) and the journal dropped.
        """
        with self._lock:
            self._save(Path(path) if path is not None else self.path)

    def _save(self, target: Path | None) -> None:
        if target is None:
            raise InputError(Reason.INVALID_REQUEST, "this index has no file to save to")
        snapshot = (
            self._snapshot_due
            or target != self.path
            or not target.is_file()
            or self._journal_ops + len(self._pending) > self._journal_limit()
        )
        if snapshot:
            generation = uuid.uuid4().hex
            header = {**self._header(), "generation": generation}
            write_arrays(target, header, {**self._gallery.to_arrays(), **self._extra_arrays()})
            drop_journal(target)
            self._generation, self._journal_ops, self._snapshot_due = generation, 0, False
        elif self._pending:
            append_journal(target, self._generation, self._pending)
            self._journal_ops += len(self._pending)
        self._pending = []
        self.path = target

    @classmethod
    def load(cls: type[_Self], path: Path, transform: ProtectedTransform) -> _Self:
        """Open a saved index; the file must have been written under the same transform key.

        :raises ConflictError: INDEX_INCONSISTENT for another kind of index, another dimension,
            another key (rebuild from the database), or a damaged file.
        """
        header, arrays = read_arrays(Path(path))
        if header.get("kind") != cls.name or header.get("dim") != transform.dim:
            raise ConflictError(Reason.INDEX_INCONSISTENT, f"{Path(path).name} is not a {cls.name} index")
        if header.get("key_id") != transform.key_id:
            raise ConflictError(
                Reason.INDEX_INCONSISTENT, "the index was built under another search key: rebuild it"
            )
        index = cls(transform, path=path)
        index._gallery = Gallery.from_arrays(transform.dim, arrays)
        index._restore_extra(header, arrays)
        index._generation = str(header.get("generation", ""))
        ops = read_journal(Path(path), index._generation) if index._generation else []
        for op, template_id, identity, vector in ops:
            if op == "put" and vector is not None and vector.shape == (index.dim,):
                index._store([template_id], [identity], vector[None, :])
            elif op == "del":
                index._unstore(template_id)
        index._journal_ops, index._snapshot_due = len(ops), False
        return index

    @classmethod
    def open(cls: type[_Self], path: Path, transform: ProtectedTransform) -> _Self:
        """Load `path` when it exists, else an empty index that will save there."""
        return cls.load(path, transform) if Path(path).is_file() else cls(transform, path=path)

    def _restore_extra(self, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> None:
        return None


class NumpyIndex(EmbeddedIndex):
    """Exact search: the probe is scored against every template (float32 `(N, D) @ (D,)`).

    **Parameters:** `transform` - the keyed `ProtectedTransform`; `path` - *(optional)* the
    file `save()` writes atomically. Cost per query is linear in N (about 1 ms per 10k
    templates on one core).
    """

    name: ClassVar[str] = "numpy"

    def search(self, template: npt.NDArray[np.float32], k: int = 10) -> list[Hit]:
        probe = self.transform(as_vector(template, self.dim))
        with self._lock:
            return self._exact(probe, k)
