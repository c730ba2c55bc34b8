"""Measuring the packaged passive presentation-attack classifiers (`simkyc.models.passive_pad`).

Image level: ../shared/data/spoof_labels.csv, the largest BlazeFace face of each image, per source
and attack type. Video level: one frame every 0.5 s with a face (every face of default2.mp4),
per clip: the share of frames called an attack and the clip's decision (the median score across
its frames, as a session would take it). A presentation is called an attack when the score is on
the attack side of the threshold: P(live) < t for fr-liveness, spoof score >= t for
face-antispoofing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from simkyc.core.faces.types import Box, Detector, Image

__all__ = ["ScoredSet", "Scorer", "auc", "clip_scores", "spoof_set_scores"]

Scorer = Callable[[Image, Box], float]


@dataclass(frozen=True)
class ScoredSet:
    """Scores of one group of presentations (a source's live images, a clip's frames...)."""

    name: str
    attack: bool
    scores: list[float]  # per image or frame
    unit: str = "image"


def _largest(detector: Detector, image: Image, min_score: float = 0.6) -> list[Box]:
    dets = sorted((d for d in detector.detect(image) if d.score >= min_score), key=lambda d: -d.box.width)
    return [d.box for d in dets]


def spoof_set_scores(
    data: Path, detector: Detector, scorers: dict[str, Scorer]
) -> dict[str, list[ScoredSet]]:
    """Per model: a ScoredSet per (source, label, attack type) of spoof_labels.csv (faceless: skipped)."""
    groups: dict[tuple[str, bool, str], dict[str, list[float]]] = {}
    for row in csv.DictReader((data / "spoof_labels.csv").open()):
        bgr = cv2.imread(str(data / row["path"]))
        if bgr is None:
            continue
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
        boxes = _largest(detector, rgb, 0.5)
        if not boxes:
            continue
        key = (row["source"], row["label"] == "spoof", row["attack_type"].split("(")[0])
        per_model = groups.setdefault(key, {m: [] for m in scorers})
        for m, score in scorers.items():
            per_model[m].append(score(rgb, boxes[0]))
    out: dict[str, list[ScoredSet]] = {m: [] for m in scorers}
    for (source, attack, kind), per_model in sorted(groups.items()):
        for m, scores in per_model.items():
            out[m].append(ScoredSet(f"{source} {kind}", attack, scores))
    return out


def clip_scores(
    name: str,
    frames: Sequence[Image],
    offsets: Sequence[float],
    detector: Detector,
    scorers: dict[str, Scorer],
    *,
    attack: bool,
    every_s: float = 0.5,
) -> dict[str, ScoredSet]:
    """Per model, the scores of a clip's frames (one every `every_s`, every face in them)."""
    per_model: dict[str, list[float]] = {m: [] for m in scorers}
    next_t = -np.inf
    for img, off in zip(frames, offsets, strict=True):
        if off < next_t:
            continue
        next_t = off + every_s
        for box in _largest(detector, img):
            for m, score in scorers.items():
                per_model[m].append(score(img, box))
    return {m: ScoredSet(name, attack, s, unit="frame") for m, s in per_model.items()}


def auc(live: Sequence[float], attack: Sequence[float], *, live_high: bool) -> float:
    """Probability that a live presentation scores on the live side of an attack one (ties: half)."""
    if not live or not attack:
        return float("nan")
    a, b = np.asarray(live)[:, None], np.asarray(attack)[None, :]
    if not live_high:
        a, b = -a, -b
    return float(((a > b) + 0.5 * (a == b)).mean())
