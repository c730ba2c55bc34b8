"""Score-level fusion of several embedders, carried by one template.

Two networks that err on different faces make fewer errors together: simkyc fuses
z-normalised cosine scores with weights chosen on identity-disjoint folds
(`simkyc.eval.embedders`). A weighted sum of cosines is itself a cosine when each
member's L2-normalised template is scaled by the square root of its weight and the
pieces are concatenated: ``<[sqrt(w1) a1, sqrt(w2) a2], [sqrt(w1) b1, sqrt(w2) b2]>
= w1 <a1, b1> + w2 <a2, b2>`` with ``w1 + w2 = 1``. So the fused system is just another
`Embedder`: one L2-normalised template, compared by cosine, stored, averaged over live
frames and searched 1:N like any other. (The z-normalisation's offsets do not change
which pairs pass a threshold; its scales are folded into the weights.)

All members take the same chip (one aligner), so the pipeline is unchanged.
`executor`, when given (built by the shell), runs the members concurrently: their
runtimes release the GIL, so on an idle two-core box one verification waits for the
slowest member instead of the sum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from simkyc.core.faces.types import Embedder, Image, Template, Templates

__all__ = ["EnsembleEmbedder", "fuse_parts"]


def fuse_parts(parts: Sequence[Templates], weights: Sequence[float]) -> Templates:
    """(N, sum D_i) concatenation of L2-normalised (N, D_i) parts scaled by sqrt(normalised weight)."""
    w = np.asarray(weights, dtype=np.float64)
    if len(parts) != len(w) or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError("one non-negative weight per part, not all zero")
    w = w / w.sum()
    scaled = []
    for wi, p in zip(w, parts, strict=True):
        x = np.asarray(p, dtype=np.float32)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        scaled.append(np.float32(np.sqrt(wi)) * x)
    out: Templates = np.hstack(scaled).astype(np.float32)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


class EnsembleEmbedder:
    """Several embedders on the same chip, fused into one template whose cosine is their weighted mean.

    `name` is given (e.g. ``fr-feature+mobilefacenet``); `version` (e.g. ``0.0.1+1.0.24+3f9a...``)
    hashes every member's name and version and the weights (`recipe` spells them out), so a
    template never meets one made with other members or weights.
    """

    def __init__(
        self,
        members: Sequence[Embedder],
        weights: Sequence[float],
        *,
        name: str,
        executor: Executor | None = None,
    ) -> None:
        if len(members) != len(weights) or not members:
            raise ValueError("one weight per member")
        sizes = {m.chip_size for m in members}
        if len(sizes) != 1:
            raise ValueError(f"members need the same chip, got sizes {sorted(sizes)}")
        total = float(sum(weights))
        if total <= 0 or any(w < 0 for w in weights):
            raise ValueError("weights must be non-negative, not all zero")
        self.members = list(members)
        self.weights = [float(w) / total for w in weights]
        self.name = name
        recipe = "|".join(
            f"{m.name}={m.version}:{w:.6g}" for m, w in zip(self.members, self.weights, strict=True)
        )
        self.recipe = recipe
        # short enough for the store's model_version column: the members' package versions, then a
        # hash of every member's full name and version (adaptations included) and of the weights
        packages = "+".join(m.version.split("+", 1)[0] for m in self.members)
        self.version = f"{packages}+{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
        self.dim = sum(m.dim for m in self.members)
        self.chip_size = sizes.pop()
        self._executor = executor

    def embed(self, chip: Image) -> Template:
        one: Template = self.embed_batch([chip])[0]
        return one

    def embed_batch(self, chips: list[Image]) -> Templates:
        if not chips:
            return np.empty((0, self.dim), dtype=np.float32)
        if self._executor is not None and len(self.members) > 1:
            futures = [self._executor.submit(m.embed_batch, chips) for m in self.members]
            parts = [f.result() for f in futures]
        else:
            parts = [m.embed_batch(chips) for m in self.members]
        return fuse_parts(parts, self.weights)
