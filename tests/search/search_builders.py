"""Builders shared by the search tests (imported by name; tests/ has no packages)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from simkyc.search import ProtectedTransform
from simkyc.search._types import TemplateIndex

DIM = 128
KEY_A = b"search-key-A-" + bytes(range(19))
KEY_B = b"search-key-B-" + bytes(range(19))

IndexFactory = Callable[[ProtectedTransform], TemplateIndex]


def people(
    n_identities: int, per_identity: int = 2, *, seed: int = 0
) -> tuple[npt.NDArray[np.float32], list[str]]:
    """Unit templates in identity clusters (same person ~0.9 cosine, different ~0.0); rows grouped."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_identities, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = np.repeat(centres, per_identity, axis=0) + rng.normal(
        scale=0.03, size=(n_identities * per_identity, DIM)
    )
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    identities = [f"person-{i}" for i in range(n_identities) for _ in range(per_identity)]
    return rows.astype(np.float32), identities
