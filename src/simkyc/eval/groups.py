"""Who the dev faces are: population groups, one key per person, identity-disjoint folds.

Accuracy is reported per group (NIST FRVT part 3 view) because one global
figure hides the population simkyc serves: the dlib descriptor's impostor
scores among East Asian faces sit far above those among LFW's mostly
European and American faces. The groups come from the data's provenance,
never from looking at a face:

- ``east_asian``: the ``east_asian_*`` sources (Japanese and Korean public
  figures), the Chinese celebrity sample and the NUAA subjects (Chinese, webcam);
- ``other``: LFW, deepface and face_recognition images (mostly, not only,
  non-East-Asian people; LFW holds a few East Asian politicians).

``subgroup`` keeps the finer provenance (studio portraits, celebrity photos,
webcam frames) because capture conditions matter as much as population.

Folds are drawn per *person*, not per identity label, so that the same
person under two labels (deepface's ``angelina_jolie`` and LFW's
``Angelina_Jolie``) never lands on both sides of a train/test split.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "Group",
    "LabelledImage",
    "fold_array",
    "fold_of_people",
    "group_of_source",
    "load_identities",
    "person_key",
    "subgroup_of_source",
]


class Group(StrEnum):
    """Population group of a dev identity, from its source."""

    EAST_ASIAN = "east_asian"
    OTHER = "other"


_EAST_ASIAN_PREFIXES = ("east_asian_", "asian_celeb", "nuaa_")


def group_of_source(source: str) -> Group:
    """`Group` of an `identities.csv` source name."""
    return Group.EAST_ASIAN if source.startswith(_EAST_ASIAN_PREFIXES) else Group.OTHER


def subgroup_of_source(source: str) -> str:
    """Finer provenance: ``jp_kr_public_figures``, ``cn_celebrities``, ``cn_webcam`` or ``other``."""
    if source.startswith("east_asian_"):
        return "jp_kr_public_figures"
    if source.startswith("asian_celeb"):
        return "cn_celebrities"
    if source.startswith("nuaa_"):
        return "cn_webcam"
    return "other"


def person_key(identity: str) -> str:
    """One key per person whatever the set's spelling: namespace, category, case, separators, order dropped.

    ``"AsianFaces:japanese__haruka-ayase"`` and ``"Ayase_Haruka"`` give the same key,
    as do ``"angelina_jolie"`` and ``"Angelina_Jolie"``.
    """
    name = identity.split(":", 1)[-1]
    name = name.split("__", 1)[-1]
    tokens = sorted(t for t in re.split(r"[\s_\-.]+", name.lower()) if t)
    return "_".join(tokens)


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One identity-labelled dev image. `path` is relative to the faces folder."""

    path: str
    identity: str
    source: str
    person: str
    group: Group
    subgroup: str


def load_identities(faces_dir: Path) -> list[LabelledImage]:
    """Read `identities.csv` (quoted commas in file names are handled by `csv`)."""
    with (faces_dir / "identities.csv").open(newline="", encoding="utf-8") as fh:
        return [
            LabelledImage(
                path=row["path"],
                identity=row["identity"],
                source=row["source"],
                person=person_key(row["identity"]),
                group=group_of_source(row["source"]),
                subgroup=subgroup_of_source(row["source"]),
            )
            for row in csv.DictReader(fh)
        ]


def _rank(person: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{person}".encode()).hexdigest()


def fold_of_people(people: Iterable[str], groups: Iterable[str], *, k: int, seed: int = 0) -> dict[str, int]:
    """Assign every person to one of `k` folds, balanced within each group.

    Deterministic and order-free: people are ranked by a salted hash inside their
    group and dealt round-robin, so adding a person moves few others and each
    fold holds about 1/k of every group.
    """
    if k < 2:
        raise ValueError("k must be at least 2")
    by_group: dict[str, set[str]] = {}
    for person, group in zip(people, groups, strict=True):
        by_group.setdefault(group, set()).add(person)
    folds: dict[str, int] = {}
    for group in sorted(by_group):
        for i, person in enumerate(sorted(by_group[group], key=lambda p: _rank(p, seed))):
            if person in folds and folds[person] != i % k:
                continue  # a person listed under two groups keeps their first fold
            folds.setdefault(person, i % k)
    return folds


def fold_array(images: Sequence[LabelledImage], *, k: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Fold index per image (identity-disjoint: all images of a person share one fold)."""
    folds = fold_of_people([im.person for im in images], [im.group for im in images], k=k, seed=seed)
    return np.array([folds[im.person] for im in images], dtype=np.int64)
