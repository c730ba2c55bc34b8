"""In-memory storage shared by the embedded indexes: protected vectors in stable slots.

Slots never move (a removed slot goes on a free list and is reused), so an
approximate graph can use the slot number as its label. Ids and identity keys
are short strings; they are persisted as one newline-joined byte blob each, so
an index file never needs pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.errors import ConflictError, Reason

__all__ = ["Gallery"]

_INITIAL_CAPACITY = 1024


def _join(values: Sequence[str]) -> npt.NDArray[np.uint8]:
    return np.frombuffer("\n".join(values).encode(), dtype=np.uint8)


def _split(blob: npt.NDArray[Any], n: int) -> list[str]:
    if n == 0:
        return []
    parts = bytes(blob).decode().split("\n")
    if len(parts) != n:
        raise ConflictError(Reason.INDEX_INCONSISTENT, "the index file's id list is damaged")
    return parts


class Gallery:
    """Protected vectors (float32, L2-normalised) in slots, with id and identity per slot."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.clear()

    def clear(self) -> None:
        self.vectors = np.zeros((_INITIAL_CAPACITY, self.dim), dtype=np.float32)
        self.alive = np.zeros(_INITIAL_CAPACITY, dtype=bool)
        self.ids: list[str] = []
        self.identities: list[str] = []
        self.slot_of: dict[str, int] = {}
        self.free: list[int] = []
        self.high = 0  # slots [0, high) have been used

    def __len__(self) -> int:
        return len(self.slot_of)

    @property
    def dead(self) -> int:
        return self.high - len(self.slot_of)

    def _reserve(self, extra: int) -> None:
        need = self.high + extra
        if need <= len(self.vectors):
            return
        cap = max(need, 2 * len(self.vectors))
        vectors = np.zeros((cap, self.dim), dtype=np.float32)
        vectors[: self.high] = self.vectors[: self.high]
        alive = np.zeros(cap, dtype=bool)
        alive[: self.high] = self.alive[: self.high]
        self.vectors, self.alive = vectors, alive

    def put(
        self, ids: Sequence[str], identities: Sequence[str], vectors: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.int64]:
        """Store rows (replacing ids already present); returns their slots."""
        if len(set(ids)) != len(ids):
            raise ConflictError(Reason.INVALID_REQUEST, "a template id appears twice in one batch")
        for template_id in ids:
            self.delete(template_id)
        self._reserve(len(ids))
        slots = np.empty(len(ids), dtype=np.int64)
        for n, (template_id, identity) in enumerate(zip(ids, identities, strict=True)):
            if self.free:
                slot = self.free.pop()
                self.ids[slot], self.identities[slot] = template_id, identity
            else:
                slot = self.high
                self.high += 1
                self.ids.append(template_id)
                self.identities.append(identity)
            self.slot_of[template_id] = slot
            slots[n] = slot
        self.vectors[slots] = vectors
        self.alive[slots] = True
        return slots

    def delete(self, template_id: str) -> int | None:
        slot = self.slot_of.pop(template_id, None)
        if slot is None:
            return None
        self.alive[slot] = False
        self.vectors[slot] = 0.0
        self.ids[slot] = self.identities[slot] = ""
        self.free.append(slot)
        return slot

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "vectors": self.vectors[: self.high],
            "alive": self.alive[: self.high],
            "ids": _join(self.ids),
            "identities": _join(self.identities),
        }

    @classmethod
    def from_arrays(cls, dim: int, arrays: dict[str, npt.NDArray[Any]]) -> Gallery:
        gallery = cls(dim)
        vectors = np.asarray(arrays["vectors"], dtype=np.float32)
        alive = np.asarray(arrays["alive"], dtype=bool)
        high = len(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != dim or alive.shape != (high,):
            raise ConflictError(Reason.INDEX_INCONSISTENT, "the index file's arrays do not agree")
        gallery._reserve(high)
        gallery.vectors[:high] = vectors
        gallery.alive[:high] = alive
        gallery.high = high
        gallery.ids = _split(arrays["ids"], high)
        gallery.identities = _split(arrays["identities"], high)
        for slot in range(high):
            if alive[slot]:
                gallery.slot_of[gallery.ids[slot]] = slot
            else:
                gallery.free.append(slot)
        return gallery
