"""Templates of every identity-labelled dev image, in several views, with quality measurements.

The accuracy studies (per group, fusion, TTA, adaptation, abstention) all start
from the same table: for each image of `identities.csv`, the face pipeline's
chip embedded as it is ("plain"), mirrored ("flip") and, if asked, shifted by
a few pixels ("shift" views), plus the quality measurements of
`simkyc.core.faces.quality`. One `embed_batch` call per image embeds all its
views. Computing it takes minutes (dlib on a shared CPU), so it is cached
under ``Settings().model_cache / "eval"`` keyed by the pipeline (embedder name
and version, detectors) and the views, and resumed image by image if stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.pipeline import FacePipeline, Kind
from simkyc.core.faces.tta import TtaPlan, augment
from simkyc.core.faces.types import Embedder, Image, Template, Templates
from simkyc.core.images import decode_image
from simkyc.errors import SimkycError
from simkyc.eval.groups import Group, LabelledImage, load_identities
from simkyc.eval.systems import degrade_to_chip

__all__ = [
    "QUALITY_FIELDS",
    "VIEWS",
    "Condition",
    "DevEmbeddings",
    "compute_dev_embedding_sets",
    "compute_dev_embeddings",
    "pipeline_key",
    "view_names",
]

Condition = Literal["original", "chip"]

VIEWS: dict[str, TtaPlan] = {
    "plain": TtaPlan(flip=False),
    "flip": TtaPlan(flip=True),
    "shift": TtaPlan(flip=False, shifts=((3, 0), (-3, 0), (0, 3), (0, -3))),
}
"""Named view sets: "plain" = the chip; "flip" = chip and mirror; "shift" = chip and four 3-pixel shifts."""

QUALITY_FIELDS = ("face_px", "sharpness", "brightness", "clipped", "yaw_deg", "roll_deg")
_REVISION = "1"


@dataclass(frozen=True, slots=True)
class DevEmbeddings:
    """Row i of every array belongs to `images[i]`; rows where `ok` is False have no face (zeros).

    `views[name]` is (N, D); `has_view[name]` says which rows were computed for that view
    (a costly view may be computed for a subset only). "plain" is always complete.
    """

    images: list[LabelledImage]
    ok: npt.NDArray[np.bool_]
    views: dict[str, npt.NDArray[np.float32]]
    has_view: dict[str, npt.NDArray[np.bool_]]
    quality: dict[str, npt.NDArray[np.float64]]
    blocking: npt.NDArray[np.bool_]  # the pipeline's own verdict: a blocking quality finding
    findings: list[tuple[str, ...]]
    embedder: str
    embedder_version: str

    @property
    def plain(self) -> npt.NDArray[np.float32]:
        return self.views["plain"]

    def subset(self, mask: npt.NDArray[np.bool_]) -> DevEmbeddings:
        idx = np.flatnonzero(mask)
        return DevEmbeddings(
            images=[self.images[i] for i in idx],
            ok=self.ok[idx],
            views={k: v[idx] for k, v in self.views.items()},
            has_view={k: v[idx] for k, v in self.has_view.items()},
            quality={k: v[idx] for k, v in self.quality.items()},
            blocking=self.blocking[idx],
            findings=[self.findings[i] for i in idx],
            embedder=self.embedder,
            embedder_version=self.embedder_version,
        )


def pipeline_key(pipeline: FacePipeline) -> str:
    """What the cached templates depend on: embedder, detectors and the aligner's kind and settings."""
    fallback = pipeline.fallback_detector.name if pipeline.fallback_detector else "none"
    aligner = pipeline.aligner
    aligner_key = f"{type(aligner).__name__}:{aligner.name}:{getattr(aligner, 'version', '')}"
    return (
        f"{pipeline.embedder_name}/{pipeline.embedder_version}/{pipeline.detector.name}+{fallback}"
        f"/{aligner_key}/r{_REVISION}"
    )


def view_names(plan: TtaPlan) -> tuple[str, ...]:
    """Names of the chips `augment(chip, plan)` returns, in order."""
    base = ["plain"] + [f"shift{dx:+d}{dy:+d}" for dx, dy in plan.shifts]
    return tuple(base + ([f"flip_{b}" for b in base] if plan.flip else []))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


_Entry = dict[str, Any]


class _Store:
    """npz file: per image key its quality and findings, per (view, key) a template."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta: dict[str, _Entry] = {}
        self.views: dict[str, dict[str, npt.NDArray[np.float32]]] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                raw = json.loads(str(z["meta"]))
                self.meta = raw["images"]
                for view, keys in raw["views"].items():
                    arr = z[f"view_{view}"]
                    self.views[view] = {k: arr[n] for n, k in enumerate(keys)}

    def save(self) -> None:
        arrays = {
            f"view_{v}": np.stack(list(d.values())) if d else np.zeros((0, 1), np.float32)
            for v, d in self.views.items()
        }
        meta = {"images": self.meta, "views": {v: list(d) for v, d in self.views.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        tmp.replace(self.path)


def compute_dev_embeddings(
    faces_dir: Path,
    pipeline: FacePipeline,
    *,
    cache_dir: Path,
    views: str = "plain",
    only: Callable[[LabelledImage], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    save_every: int = 50,
    condition: Condition = "original",
) -> DevEmbeddings:
    """Embed the images of `identities.csv` in the named view set, reusing and extending the cache.

    Only images where `only(image)` is true are computed (default: all), so a costly
    view set can be limited to a subset. Images without a usable face get ``ok = False``;
    nothing is raised for them. Returns every image with every view cached so far.
    `condition` "chip" first degrades every image to a chip portrait (`degrade_to_chip`:
    102x126 px, JPEG 70) and assesses it as an ID photo: the enrolment side of a registration
    whose ID photo comes from the card's chip.
    """
    sets = compute_dev_embedding_sets(
        faces_dir,
        pipeline,
        [_PipelineEmbedder(pipeline)],
        cache_dir=cache_dir,
        views=views,
        only=only,
        progress=progress,
        save_every=save_every,
        condition=condition,
    )
    return sets[pipeline.embedder_name]


class _PipelineEmbedder:
    """The pipeline's embedder, named without being touched: a fully cached run loads no model."""

    dim = 0  # not needed to read or fill the cache
    chip_size = 0

    def __init__(self, pipeline: FacePipeline) -> None:
        self._pipeline = pipeline
        self.name = pipeline.embedder_name
        self.version = pipeline.embedder_version

    def embed(self, chip: Image) -> Template:
        return self._pipeline.embedder.embed(chip)

    def embed_batch(self, chips: list[Image]) -> Templates:
        return self._pipeline.embedder.embed_batch(chips)


def compute_dev_embedding_sets(
    faces_dir: Path,
    pipeline: FacePipeline,
    embedders: Sequence[Embedder],
    *,
    cache_dir: Path,
    views: str = "plain",
    only: Callable[[LabelledImage], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    save_every: int = 50,
    condition: Condition = "original",
) -> dict[str, DevEmbeddings]:
    """`compute_dev_embeddings` for several embedders that share the pipeline's detector and aligner.

    Each image is decoded, detected and aligned once, then embedded by every embedder whose
    cache lacks it; each embedder keeps its own cache file (keyed as if it were the pipeline's).
    Returns one `DevEmbeddings` per embedder name.
    """
    plan = VIEWS[views]
    names = view_names(plan)
    images = load_identities(faces_dir)
    stores: list[tuple[Embedder, _Store]] = []
    for emb in embedders:
        one = FacePipeline(pipeline.detector, pipeline.aligner, emb, pipeline.fallback_detector)
        key = pipeline_key(one) + ("" if condition == "original" else f"/{condition}")
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        stores.append((emb, _Store(cache_dir / f"dev-embeddings-{digest}.npz")))
    keys = [f"{im.path}|{_digest(faces_dir / im.path)}" for im in images]
    wanted = [n for n, im in enumerate(images) if only is None or only(im)]

    def lacking(store: _Store, key: str) -> bool:
        return key not in store.meta or (
            bool(store.meta[key]["ok"]) and any(key not in store.views.get(v, {}) for v in names)
        )

    todo = [n for n in wanted if any(lacking(st, keys[n]) for _, st in stores)]
    # East Asian first, people with one image last: a partial cache is then already useful
    counts: dict[str, int] = {}
    for im in images:
        counts[im.person] = counts.get(im.person, 0) + 1
    todo.sort(key=lambda n: (images[n].group != Group.EAST_ASIAN, counts[images[n].person] < 2, n))
    kind: Kind = "live" if condition == "original" else "id_photo"
    for done, n in enumerate(todo, 1):
        im, key = images[n], keys[n]
        try:
            data = (faces_dir / im.path).read_bytes()
            if condition == "chip":
                data = degrade_to_chip(data)
            loc = pipeline.locate(decode_image(data), kind=kind)
            q = loc.quality
            meta = {
                "ok": True,
                "quality": {f: float(getattr(q, f)) for f in QUALITY_FIELDS},
                "findings": [str(f) for f in q.findings],
                "blocking": not q.usable,
            }
            chips = augment(loc.chip, plan)
            for emb, store in stores:
                missing = [i for i, v in enumerate(names) if key not in store.views.get(v, {})]
                if missing:
                    tpl = np.asarray(emb.embed_batch([chips[i] for i in missing]), np.float32)
                    tpl /= np.maximum(np.linalg.norm(tpl, axis=1, keepdims=True), 1e-12)
                    for row, i in enumerate(missing):
                        store.views.setdefault(names[i], {})[key] = tpl[row]
                store.meta[key] = meta
        except (SimkycError, OSError) as exc:
            reason = str(exc.reason) if isinstance(exc, SimkycError) else "IMAGE_UNREADABLE"
            for _, store in stores:
                store.meta[key] = {"ok": False, "quality": {}, "findings": [reason], "blocking": True}
        if progress:
            progress(done, len(todo))
        if done % save_every == 0:
            for _, store in stores:
                store.save()
    if todo:
        for _, store in stores:
            store.save()
    return {emb.name: _table(images, keys, store, emb) for emb, store in stores}


def _table(images: list[LabelledImage], keys: list[str], store: _Store, embedder: Embedder) -> DevEmbeddings:
    dim = next((len(t) for d in store.views.values() for t in d.values()), 128)
    views: dict[str, npt.NDArray[np.float32]] = {}
    has: dict[str, npt.NDArray[np.bool_]] = {}
    for v, d in store.views.items():
        arr = np.zeros((len(keys), dim), np.float32)
        mask = np.zeros(len(keys), bool)
        for n, k in enumerate(keys):
            if k in d:
                arr[n] = d[k]
                mask[n] = True
        views[v], has[v] = arr, mask
    views.setdefault("plain", np.zeros((len(keys), dim), np.float32))
    has.setdefault("plain", np.zeros(len(keys), bool))
    meta = [
        store.meta.get(k, {"ok": False, "quality": {}, "findings": ["NOT_COMPUTED"], "blocking": True})
        for k in keys
    ]
    return DevEmbeddings(
        images=images,
        ok=np.array([bool(m["ok"]) for m in meta]) & has["plain"],
        views=views,
        has_view=has,
        quality={f: np.array([m["quality"].get(f, 0.0) for m in meta], np.float64) for f in QUALITY_FIELDS},
        blocking=np.array([bool(m["blocking"]) for m in meta]),
        findings=[tuple(m["findings"]) for m in meta],
        embedder=embedder.name,
        embedder_version=embedder.version,
    )
