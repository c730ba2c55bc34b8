"""Test-time augmentation: embed a chip several ways (mirrored, slightly shifted) and average.

Why: a single 150x150 chip carries the aligner's small errors (a landmark two
pixels off shifts the whole crop) and the face's left/right asymmetry under
side light. Averaging the templates of a few perturbed views smooths both.
The cost is linear: a plan of V views costs V embeddings per image, so the
pipeline only uses it where `simkyc.eval` measured a gain worth the time.

dlib's own ``num_jitters`` draws random crops, rotations and flips; here the
views are fixed, so a template is reproducible (the same image gives the same
template, which the audit trail needs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simkyc.core.faces.fusion import fuse_templates
from simkyc.core.faces.types import Embedder, Image, Template, Templates

__all__ = ["FLIP", "FLIP_SHIFT", "NONE", "AugmentedEmbedder", "TtaPlan", "augment", "embed_augmented"]


@dataclass(frozen=True, slots=True)
class TtaPlan:
    """Which views to embed: the chip itself, optionally its mirror, and pixel shifts (dx, dy) of both."""

    flip: bool = True
    shifts: tuple[tuple[int, int], ...] = ()

    @property
    def views(self) -> int:
        return (1 + len(self.shifts)) * (2 if self.flip else 1)


NONE = TtaPlan(flip=False)
FLIP = TtaPlan(flip=True)
FLIP_SHIFT = TtaPlan(flip=True, shifts=((3, 0), (-3, 0), (0, 3), (0, -3)))


def _shift(chip: Image, dx: int, dy: int) -> Image:
    """Translate by (dx, dy) pixels, filling the uncovered border by edge replication."""
    h, w = chip.shape[:2]
    pad = max(abs(dx), abs(dy))
    if pad == 0:
        return chip
    padded = np.pad(chip, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    y0, x0 = pad - dy, pad - dx
    return np.ascontiguousarray(padded[y0 : y0 + h, x0 : x0 + w])


def augment(chip: Image, plan: TtaPlan) -> list[Image]:
    """The views of `chip` named by `plan`, the unmodified chip first."""
    bases = [chip] + [_shift(chip, dx, dy) for dx, dy in plan.shifts]
    views = list(bases)
    if plan.flip:
        views += [np.ascontiguousarray(b[:, ::-1]) for b in bases]
    return views


def embed_augmented(embedder: Embedder, chip: Image, plan: TtaPlan = FLIP) -> Template:
    """One template from all views of `chip` (one `embed_batch` call), L2-normalised."""
    return fuse_templates(embedder.embed_batch(augment(chip, plan)))


class AugmentedEmbedder:
    """An `Embedder` whose template of a chip is the fused template of its `plan` views.

    How the pipeline uses test-time augmentation: one `embed_batch` call on the base
    embedder for all views of all chips. `name` says which views (``+flip``), so
    templates and calibrations of augmented and plain embedders are never mixed.
    """

    def __init__(self, base: Embedder, plan: TtaPlan = FLIP) -> None:
        if plan.views < 2:
            raise ValueError("an augmentation plan needs at least two views")
        self.base = base
        self.plan = plan
        suffix = "flip" if plan.flip else "orig"
        if plan.shifts:
            suffix += f"-shift{len(plan.shifts)}"
        self.name = f"{base.name}+{suffix}"
        self.version = base.version
        self.dim = base.dim
        self.chip_size = base.chip_size

    def embed(self, chip: Image) -> Template:
        return embed_augmented(self.base, chip, self.plan)

    def embed_batch(self, chips: list[Image]) -> Templates:
        if not chips:
            return np.empty((0, self.dim), dtype=np.float32)
        views = self.plan.views
        flat = self.base.embed_batch([v for chip in chips for v in augment(chip, self.plan)])
        return np.stack([fuse_templates(flat[i * views : (i + 1) * views]) for i in range(len(chips))])
