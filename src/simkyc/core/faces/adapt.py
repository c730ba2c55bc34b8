"""A learned linear adaptation of face templates: ``normalise((t - mean) @ matrix)``.

Why: the dlib descriptor was trained mostly on non-East-Asian faces, so East
Asian faces crowd into a small region of its 128-d space and impostor scores
run high. A linear map learned on labelled dev faces (within-class whitening
plus discriminant projection, see `simkyc.eval.adapt_train`) spreads them
again. Being linear, it costs one (128 x d) product per template, keeps
templates L2-normalised and keeps cosine similarity as the score, so the
rest of the pipeline (match, 1:N search) is unchanged.

An `Adaptation` is bound to one embedder (name and version): applying it to
another model's templates raises, because the numbers would mean nothing.
It travels as a JSON-able dict (`to_dict` / `from_dict`); reading and writing
the file is the shell's job. Its `version` is a content hash, so a stored
decision names the exact transform it used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Embedder, Image, Template, Templates
from simkyc.errors import ModelError, Reason

__all__ = ["FORMAT", "Adaptation", "AdaptedEmbedder", "adapt", "adapt_one"]

FORMAT = "simkyc-adaptation/1"
"""Schema tag of the serialised form; bump when fields change meaning."""


@dataclass(frozen=True, slots=True, eq=False)
class Adaptation:
    """A versioned linear map for the templates of one embedder.

    **Parameters:**
    * **name** - what it is, e.g. ``"wccn-lda"``.
    * **embedder** / **embedder_version** - the model whose templates it accepts.
    * **mean** - (D,) subtracted first.
    * **matrix** - (D, d) applied next, or None for the identity (a pure shift: "centre");
      the result is L2-normalised.
    * **meta** - how it was made (data, folds, command); informational.
    """

    name: str
    embedder: str
    embedder_version: str
    mean: npt.NDArray[np.float32]
    matrix: npt.NDArray[np.float32] | None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mean.ndim != 1:
            raise ValueError(f"mean must be (D,), got {self.mean.shape}")
        if self.matrix is not None and (self.matrix.ndim != 2 or self.mean.shape != (self.matrix.shape[0],)):
            raise ValueError(f"mean {self.mean.shape} does not fit matrix {self.matrix.shape}")

    @property
    def in_dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def out_dim(self) -> int:
        return self.in_dim if self.matrix is None else int(self.matrix.shape[1])

    @property
    def version(self) -> str:
        """First 12 hex digits of the SHA-256 of the weights (float32 bytes) and the embedder."""
        h = hashlib.sha256()
        h.update(f"{self.name}|{self.embedder}|{self.embedder_version}|".encode())
        h.update(np.ascontiguousarray(self.mean, dtype=np.float32).tobytes())
        if self.matrix is not None:
            h.update(np.ascontiguousarray(self.matrix, dtype=np.float32).tobytes())
        return h.hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (floats as decimal text of float32, rounded-trip exactly)."""
        return {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "embedder": self.embedder,
            "embedder_version": self.embedder_version,
            "in_dim": self.in_dim,
            "out_dim": self.out_dim,
            "mean": [float(v) for v in self.mean.astype(np.float32)],
            "matrix": (
                None
                if self.matrix is None
                else [[float(v) for v in row] for row in self.matrix.astype(np.float32)]
            ),
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Adaptation:
        """Inverse of `to_dict`; refuses another format or a version that does not match the weights."""
        if data.get("format") != FORMAT:
            raise ModelError(
                Reason.MODEL_CORRUPT, f"adaptation format {data.get('format')!r}, expected {FORMAT!r}"
            )
        out = cls(
            name=str(data["name"]),
            embedder=str(data["embedder"]),
            embedder_version=str(data["embedder_version"]),
            mean=np.asarray(data["mean"], dtype=np.float32),
            matrix=None if data.get("matrix") is None else np.asarray(data["matrix"], dtype=np.float32),
            meta=dict(data.get("meta", {})),
        )
        if data.get("version") not in (None, out.version):
            raise ModelError(
                Reason.MODEL_CORRUPT, f"adaptation weights hash to {out.version}, file says {data['version']}"
            )
        return out

    def check_embedder(self, name: str, version: str) -> None:
        """Raise ModelError(MODEL_MISSING) unless templates of embedder `name` `version` fit this map."""
        if (name, version) != (self.embedder, self.embedder_version):
            raise ModelError(
                Reason.MODEL_MISSING,
                f"no adaptation for {name} {version} (this one, {self.name}/{self.version}, is for "
                f"{self.embedder} {self.embedder_version}); run `simkyc eval adapt`",
            )


def adapt(adaptation: Adaptation, templates: Templates) -> Templates:
    """Map (N, D) templates to (N, d) L2-normalised ones. Empty in, empty out."""
    x = np.asarray(templates, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != adaptation.in_dim:
        raise ValueError(f"templates of shape {x.shape}, adaptation expects (N, {adaptation.in_dim})")
    if len(x) == 0:
        return np.empty((0, adaptation.out_dim), dtype=np.float32)
    y = x - adaptation.mean
    if adaptation.matrix is not None:
        y = y @ adaptation.matrix
    norms = np.linalg.norm(y, axis=1, keepdims=True)
    out: Templates = (y / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def adapt_one(adaptation: Adaptation, template: Template) -> Template:
    """`adapt` for a single (D,) template."""
    out: Template = adapt(adaptation, np.asarray(template, dtype=np.float32)[None, :])[0]
    return out


class AdaptedEmbedder:
    """An `Embedder` whose templates go through an `Adaptation`: the way the pipeline uses one.

    Its `name` and `version` name both the model and the map (``dlib-resnet-v1+nap``,
    ``0.3.0+onnx1+<hash>``), so stored templates, 1:N indexes and the calibration
    file all refuse to be mixed with unadapted ones.
    """

    def __init__(self, base: Embedder, adaptation: Adaptation) -> None:
        adaptation.check_embedder(base.name, base.version)
        self.base = base
        self.adaptation = adaptation
        self.name = f"{base.name}+{adaptation.name}"
        self.version = f"{base.version}+{adaptation.version}"
        self.dim = adaptation.out_dim
        self.chip_size = base.chip_size

    def embed(self, chip: Image) -> Template:
        return adapt_one(self.adaptation, self.base.embed(chip))

    def embed_batch(self, chips: list[Image]) -> Templates:
        if not chips:
            return np.empty((0, self.dim), dtype=np.float32)
        return adapt(self.adaptation, self.base.embed_batch(chips))
