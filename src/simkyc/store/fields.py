"""How sensitive values become bytes, and where each ciphertext is bound (its associated data).

The associated data of every encrypted column is computable from the row itself, so key rotation
can re-encrypt any row without knowing what it holds.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "aad_evidence",
    "aad_id_photo",
    "aad_identity",
    "aad_row",
    "aad_template",
    "arrays_from_bytes",
    "arrays_to_bytes",
    "template_from_bytes",
    "template_to_bytes",
]


def aad_identity(id_hash: str) -> str:
    return f"identity:fields_enc:{id_hash}"


def aad_id_photo(registration_id: str) -> str:
    return f"registration:id_photo_enc:{registration_id}"


def aad_template(identity_id: int, model_name: str) -> str:
    return f"face_template:template_enc:{identity_id}:{model_name}"


def aad_evidence(registration_id: str) -> str:
    return f"review_case:evidence_enc:{registration_id}"


def aad_row(table: str, row: Mapping[Any, Any]) -> str:
    """The associated data of the encrypted column of `row` in `table` (for key rotation)."""
    if table == "identity":
        return aad_identity(row["id_hash"])
    if table == "registration":
        return aad_id_photo(row["id"])
    if table == "face_template":
        return aad_template(int(row["identity_id"]), row["model_name"])
    if table == "review_case":
        return aad_evidence(row["registration_id"])
    raise KeyError(table)


def template_to_bytes(template: npt.NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(template, dtype="<f4").tobytes()


def template_from_bytes(data: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def arrays_to_bytes(arrays: Mapping[str, npt.NDArray[Any]]) -> bytes:
    """Several arrays (images, templates) in one blob; no pickling."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **dict(arrays))
    return buf.getvalue()


def arrays_from_bytes(data: bytes) -> dict[str, npt.NDArray[Any]]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
