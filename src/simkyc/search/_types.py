"""The index port: what every 1:N backend offers, and the values it returns.

Vectors handed to an index are *raw* templates; each index applies its
`ProtectedTransform` before a vector is stored or searched, so nothing unprotected
ever enters an index and every backend is interchangeable behind `TemplateIndex`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from simkyc.errors import InputError, Reason

__all__ = ["Hit", "IndexRecord", "TemplateIndex", "as_matrix", "as_vector"]

MAX_KEY_LENGTH = 64
"""Longest template id or identity key accepted (Milvus VARCHAR columns are sized from it)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the template id, the identity it belongs to and its cosine score."""

    key: str
    identity_key: str
    score: float


class IndexRecord(NamedTuple):
    """One template as the store supplies it for a rebuild: ids plus the decrypted raw template.

    A plain `(template_id, identity_key, template)` tuple is accepted wherever a record is.
    """

    template_id: str
    identity_key: str
    template: npt.NDArray[np.float32]


@runtime_checkable
class TemplateIndex(Protocol):
    """A 1:N gallery of protected templates keyed by template id.

    Scores are cosine similarities of the raw templates (the keyed transform is
    orthogonal, so it changes no score). `key_id` names the transform key the
    stored vectors were protected with; a different key means a rebuild.
    """

    name: ClassVar[str]
    dim: int

    @property
    def key_id(self) -> str: ...

    def add(self, template_id: str, identity_key: str, template: npt.NDArray[np.float32]) -> None:
        """Add or replace one template."""
        ...

    def add_many(self, records: Iterable[IndexRecord]) -> int:
        """Add or replace many templates (batched); returns how many were added."""
        ...

    def remove(self, template_id: str) -> bool:
        """Remove one template; False when it was not there."""
        ...

    def search(self, template: npt.NDArray[np.float32], k: int = 10) -> list[Hit]:
        """The k best templates by score, best first."""
        ...

    def count(self) -> int:
        """How many templates the index holds."""
        ...

    def ids(self) -> set[str]:
        """Every template id held (for the consistency check against the database)."""
        ...

    def clear(self) -> None:
        """Drop every template (before a rebuild)."""
        ...

    def save(self) -> None:
        """Make the current state durable (atomic file replace, or a flush on Milvus)."""
        ...


def check_key(value: str, what: str) -> str:
    if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise InputError(Reason.INVALID_REQUEST, f"{what} must be 1..{MAX_KEY_LENGTH} printable characters")
    return value


def as_vector(template: npt.ArrayLike, dim: int) -> npt.NDArray[np.float32]:
    """A finite float32 vector of length `dim`, L2-normalised (templates are compared by cosine)."""
    vec = np.asarray(template, dtype=np.float32).reshape(-1)
    if vec.shape != (dim,) or not np.all(np.isfinite(vec)):
        raise InputError(Reason.INVALID_REQUEST, f"a template must be {dim} finite numbers")
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        raise InputError(Reason.INVALID_REQUEST, "a template must not be all zeros")
    return vec / np.float32(norm)


def as_matrix(templates: npt.ArrayLike, dim: int) -> npt.NDArray[np.float32]:
    """(N, dim) finite float32 rows, each L2-normalised."""
    mat = np.asarray(templates, dtype=np.float32)
    if mat.ndim != 2 or mat.shape[1] != dim or not np.all(np.isfinite(mat)):
        raise InputError(Reason.INVALID_REQUEST, f"templates must be an (N, {dim}) finite array")
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    if np.any(norms == 0.0):
        raise InputError(Reason.INVALID_REQUEST, "a template must not be all zeros")
    out: npt.NDArray[np.float32] = (mat / norms).astype(np.float32, copy=False)
    return out
