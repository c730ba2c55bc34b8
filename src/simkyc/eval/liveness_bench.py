"""The light-challenge, ambient-light and passive-classifier parts of `benchmarks/liveness_eval.py`.

Each part prints its own table; `Table` rows are (presentation, passed, reasons and figures).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simkyc.core.faces.types import Image
from simkyc.core.liveness import LivenessResult
from simkyc.eval.liveness_light import (
    LIGHT_ATTACKS,
    LIGHT_BONA_FIDE,
    SPLICES,
    SourceClip,
    light_session,
)
from simkyc.eval.passive_models import ScoredSet, Scorer, auc, clip_scores, spoof_set_scores
from simkyc.service.liveness import LivenessModels, read_video, run_liveness

__all__ = ["Table", "print_table", "reasons", "run_ambient", "run_light", "run_passive_models"]

Table = dict[str, list[tuple[str, bool, str]]]
BONA_FIDE_PREFIXES = ("bona_fide", "light_bona_fide")
AMBIENT_GAINS = (0.3, 0.15, 0.1, 0.075, 0.05, 0.03, 0.02)
SCREEN_LUX = 150.0  # estimated light of a tablet at full brightness 30 cm from the face (light_media)


def reasons(r: LivenessResult) -> str:
    return ",".join(r.reasons) or "-"


def _light_figures(r: LivenessResult) -> str:
    sc = r.scores
    if "light_corr" not in sc:
        return ""
    return (
        f" corr {sc['light_corr']:.2f} p {sc.get('light_p_value', float('nan')):.3f}"
        f" gain {sc.get('light_gain', float('nan')):.3f}"
    )


def print_table(title: str, table: Table) -> None:
    """One row per species: n, passed, APCER (attacks) or BPCER (bona fide), refusal reasons (count)."""
    print(f"\n{title}")
    print(f"{'species':30s} {'n':>4s} {'passed':>6s} {'rate':>12s}  refusal reasons (count)")
    for species, rows in table.items():
        passed = sum(1 for _, p, _ in rows if p)
        bona = species.startswith(BONA_FIDE_PREFIXES)
        label, rate = ("BPCER", (len(rows) - passed) / len(rows)) if bona else ("APCER", passed / len(rows))
        counts: dict[str, int] = defaultdict(int)
        for _, p, why in rows:
            if not p:
                counts[why.split(" ")[0]] += 1
        summary = ", ".join(f"{k} ({v})" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
        print(f"{species:30s} {len(rows):4d} {passed:6d} {label} {rate:6.1%}  {summary}")
        if len(rows) <= 4 or (bona and passed < len(rows)) or (not bona and passed):
            for name, p, why in rows:
                if len(rows) <= 4 or p != bona:
                    print(f"    {name:40s} {'PASS' if p else 'REFUSED'} {why}")


def run_light(models: LivenessModels, sources: Sequence[SourceClip], seeds: int, table: Table) -> None:
    """Every light species: `seeds` sessions per source (seeds 100..), the splices once per seam."""
    key = secrets.token_bytes(32)
    for species in (*LIGHT_BONA_FIDE, *LIGHT_ATTACKS):
        spliced = species.startswith("light_spliced")
        runs = [(sources[0], k) for k in range(len(SPLICES))] if spliced else [
            (src, 100 + k) for src in sources for k in range(seeds)
        ]  # fmt: skip
        for src, seed in runs:
            ch, frames = light_session(src, species, seed=seed, key=key, now=time.time())
            r = run_liveness(frames, ch, models=models)
            table[species].append((f"{src.name} seed {seed}", r.passed, reasons(r) + _light_figures(r)))
        print(f"  {species}: {len(runs)} sessions", file=sys.stderr)


def run_ambient(models: LivenessModels, sources: Sequence[SourceClip], seeds: int) -> None:
    """BPCER of the synthetic bona fide as the screen's light weakens against the room's."""
    key = secrets.token_bytes(32)
    print(
        "\nLight challenge against ambient light (synthetic bona fide; lux assumes ~150 lx from the screen)"
    )
    head = f"{'gain':>6s} {'~room lx':>8s} {'n':>4s} {'BPCER':>7s} {'median corr':>11s} {'median gain':>11s}"
    print(head + "  refused as")
    for gain in AMBIENT_GAINS:
        results = []
        for src in sources:
            for k in range(seeds):
                ch, frames = light_session(
                    src, "light_bona_fide", seed=100 + k, key=key, now=time.time(), gain=gain
                )
                results.append(run_liveness(frames, ch, models=models))
        refused = [r for r in results if not r.passed]
        corr = np.median([r.scores.get("light_corr", np.nan) for r in results])
        measured = np.median([r.scores.get("light_gain", np.nan) for r in results])
        counts: dict[str, int] = defaultdict(int)
        for r in refused:
            counts[reasons(r)] += 1
        why = ", ".join(f"{k} ({v})" for k, v in counts.items()) or "-"
        print(
            f"{gain:6.3f} {SCREEN_LUX / gain:8.0f} {len(results):4d} {len(refused) / len(results):7.1%} "
            f"{corr:11.2f} {measured:11.3f}  {why}"
        )


def _rate_rows(sets: Sequence[ScoredSet], *, attack_if: str, thresholds: Sequence[float]) -> None:
    for thr in thresholds:
        for s in sets:
            x = np.asarray(s.scores)
            called = (x < thr) if attack_if == "below" else (x >= thr)
            share = float(called.mean()) if len(x) else float("nan")
            median = float(np.median(x)) if len(x) else float("nan")
            clip_called = (median < thr) if attack_if == "below" else (median >= thr)
            label = "APCER" if s.attack else "BPCER"
            rate = 1 - share if s.attack else share
            clip = ""
            if s.unit == "frame":
                clip = f"  clip median {median:.3f}: {'attack' if clip_called else 'live'}"
            print(f"  {thr:6.3f}  {s.name:44s} {len(x):5d} {s.unit:5s}  {label} {rate:6.1%}{clip}")


def run_passive_models(data: Path, models: LivenessModels, sources: Sequence[SourceClip]) -> None:
    """fr-liveness and face-antispoofing, image level on the spoof set, video level on the clips."""
    from simkyc.models.passive_pad import FaceAntiSpoofing, FrLiveness

    fr, fas = FrLiveness(), FaceAntiSpoofing()
    scorers: dict[str, Scorer] = {"fr-liveness": fr.score, "face-antispoofing": fas.score}
    images = spoof_set_scores(data, models.detector, scorers)
    videos = data / "videos"
    clips: dict[str, list[ScoredSet]] = {m: [] for m in scorers}
    named = {
        "real.mov (live)": ("liveness_pyimagesearch_demo_ZubairCracksCode/real.mov", False),
        "default1.mp4 (live)": ("blink_r4onlyrishabh/default1.mp4", False),
        "default2.mp4 (live, two people)": ("blink_r4onlyrishabh/default2.mp4", False),
        "fake.mp4 (phone replay)": ("liveness_pyimagesearch_demo_ZubairCracksCode/fake.mp4", True),
    }
    for label, (rel, attack) in named.items():
        clip = read_video(videos / rel)
        for m, s in clip_scores(
            label, clip.frames, clip.offsets, models.detector, scorers, attack=attack
        ).items():
            clips[m].append(s)
    key = secrets.token_bytes(32)
    for src in sources:
        for kind in ("light_screen_replay", "light_reencoded"):
            _, frames = light_session(src, kind, seed=100, key=key, now=time.time())
            label = f"{src.name} {'synthetic phone replay' if kind.endswith('replay') else 're-encoded'}"
            offs = [f.timestamp - frames[0].timestamp for f in frames]
            imgs = [f.image for f in frames]
            for m, s in clip_scores(label, imgs, offs, models.detector, scorers, attack=True).items():
                clips[m].append(s)
    for label, (shown, offs) in _print_attack_clips(data, models).items():
        for m, s in clip_scores(label, shown, offs, models.detector, scorers, attack=True).items():
            clips[m].append(s)
    for m, attack_if, thresholds in (
        ("fr-liveness", "below", (0.5, 0.1, 0.01)),
        ("face-antispoofing", "above", (0.2, 0.9, 0.99)),
    ):
        sets = images[m]
        live = [v for s in sets if not s.attack for v in s.scores]
        spoof = [v for s in sets if s.attack for v in s.scores]
        area = auc(live, spoof, live_high=attack_if == "below")
        print(
            f"\n{m}: image level on ../shared/data/spoof (AUC {area:.3f};"
            f" called an attack when the score is {attack_if} the threshold)"
        )
        _rate_rows(sets, attack_if=attack_if, thresholds=thresholds)
        print(f"{m}: video level (a frame every 0.5 s; the clip's decision is its median)")
        _rate_rows(clips[m], attack_if=attack_if, thresholds=thresholds)


def _print_attack_clips(
    data: Path, models: LivenessModels, n: int = 10
) -> dict[str, tuple[list[Image], list[float]]]:
    """Printed photos held up to the camera (`photo_attack`, held still and tilted), `n` people each."""
    import csv

    import cv2

    from simkyc.core.liveness import new_challenge
    from simkyc.eval.liveness_attacks import photo_attack

    rows = [
        r
        for r in csv.DictReader((data / "faces" / "identities.csv").open())
        if not r["source"].startswith("nuaa")
    ]
    seen: set[str] = set()
    out: dict[str, tuple[list[Image], list[float]]] = {
        "print, held still (synthetic)": ([], []),
        "print, tilted (synthetic)": ([], []),
    }
    key = secrets.token_bytes(32)
    for row in rows:
        if row["identity"] in seen or len(seen) >= n:
            continue
        bgr = cv2.imread(str(data / "faces" / row["path"]))
        if bgr is None:
            continue
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
        dets = models.detector.detect(rgb)
        if len(dets) != 1:
            continue
        seen.add(row["identity"])
        iod = float(np.hypot(*(dets[0].keypoints[0] - dets[0].keypoints[1])))
        ch = new_challenge(key, now=time.time(), seed=len(seen))
        for label, species in (
            ("print, held still (synthetic)", "photo_still"),
            ("print, tilted (synthetic)", "photo_tilt"),
        ):
            frames = photo_attack(rgb, iod, ch, species, seed=len(seen))
            imgs, offs = out[label]
            t0 = frames[0].timestamp - (offs[-1] + 1.0 if offs else 0.0)
            imgs.extend(f.image for f in frames)
            offs.extend(f.timestamp - t0 for f in frames)
    return out
