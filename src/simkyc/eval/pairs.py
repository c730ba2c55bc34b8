"""Pair lists and identity lists, as in `../shared/data/faces/pairs.csv` and `identities.csv`.

Paths inside the CSVs are relative to the folder the CSV describes (`--root`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simkyc.errors import InputError, Reason

__all__ = [
    "IdentityImage",
    "Pair",
    "all_cross_identity_pairs",
    "cross_identity_scores",
    "load_identities",
    "load_pairs",
    "unique_images",
]


@dataclass(frozen=True, slots=True)
class Pair:
    """Two images (paths relative to the data root), whether they show the same person, and their source."""

    img_a: str
    img_b: str
    same: bool
    source: str


@dataclass(frozen=True, slots=True)
class IdentityImage:
    path: str
    identity: str
    source: str


def _rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(Reason.INVALID_REQUEST, f"{path.name}: missing columns {', '.join(missing)}")
            return list(reader)
    except OSError as exc:
        raise InputError(Reason.INVALID_REQUEST, f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error):
        raise InputError(Reason.INVALID_REQUEST, f"{path.name} is not a UTF-8 CSV file") from None


def load_pairs(path: Path) -> list[Pair]:
    """Rows `img_a,img_b,same,source` (`source` optional; `same` 1 genuine, 0 impostor)."""
    rows = _rows(path, ("img_a", "img_b", "same"))
    return [
        Pair(r["img_a"], r["img_b"], r["same"].strip() in ("1", "true", "True"), r.get("source") or "")
        for r in rows
    ]


def load_identities(path: Path) -> list[IdentityImage]:
    """Rows `path,identity,source`."""
    rows = _rows(path, ("path", "identity"))
    return [IdentityImage(r["path"], r["identity"], r.get("source") or "") for r in rows]


def unique_images(pairs: Sequence[Pair]) -> list[str]:
    """Every image a pair list uses, once, in first-use order."""
    seen: dict[str, None] = {}
    for p in pairs:
        seen.setdefault(p.img_a)
        seen.setdefault(p.img_b)
    return list(seen)


def all_cross_identity_pairs(
    identities: Sequence[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index pairs (i < j) of every two images with different identity labels: the all-pairs impostors."""
    labels = np.unique(np.asarray(identities), return_inverse=True)[1]
    i, j = np.triu_indices(len(labels), k=1)
    keep = labels[i] != labels[j]
    return i[keep].astype(np.int64), j[keep].astype(np.int64)


def cross_identity_scores(
    templates: npt.NDArray[np.float32],
    identities: Sequence[str],
    *,
    valid: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float32]:
    """Cosine scores of all cross-identity pairs of `templates` rows (rows where `valid` is False skipped).

    Computed block-wise, so 5,000 images (12 million pairs) need no pair list in memory.
    """
    n = len(identities)
    ok = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    labels = np.unique(np.asarray(identities), return_inverse=True)[1][ok]
    t = np.asarray(templates, dtype=np.float32)[ok]
    out: list[npt.NDArray[np.float32]] = []
    block = 512
    for start in range(0, len(t), block):
        s = t[start : start + block] @ t.T  # (b, n)
        rows = np.arange(start, min(start + block, len(t)))
        cols = np.arange(len(t))
        upper = cols[None, :] > rows[:, None]
        differ = labels[rows][:, None] != labels[None, :]
        out.append(s[upper & differ].astype(np.float32))
    return np.concatenate(out) if out else np.empty(0, dtype=np.float32)
