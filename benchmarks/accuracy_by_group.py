"""Accuracy by population group, and what test-time augmentation costs, in one bounded run.

Prints (1) FNMR at FMR 1e-3 / 1e-4 per group for the plain templates and for the
NAP adaptation (identity-disjoint 5-fold, selection nested), with the comparisons
behind each figure; (2) the time to embed one chip with 1, 2 (flip) and 5 (shift)
views on the default embedder, as ratios against 1 view measured in the same run.

    nice .venv/bin/python benchmarks/accuracy_by_group.py [--faces ../shared/data/faces] [--chips 40]

The dev embeddings come from the cache `simkyc eval embed-dev` fills (computed if missing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from simkyc import bootstrap
from simkyc.config import get_settings
from simkyc.core.faces.tta import TtaPlan, augment
from simkyc.core.images import decode_image
from simkyc.eval.accuracy import cross_validated, nap_fit
from simkyc.eval.bygroup import all_pair_scores, rates_by_group
from simkyc.eval.devset import compute_dev_embeddings
from simkyc.eval.groups import fold_array


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=Path, default=Path("../shared/data/faces"))
    ap.add_argument("--chips", type=int, default=40)
    args = ap.parse_args()
    pipe = bootstrap.base_face_pipeline()
    dev = compute_dev_embeddings(args.faces, pipe, cache_dir=get_settings().model_cache / "eval")
    d = dev.subset(dev.ok)
    people = np.array([im.person for im in d.images])
    groups = np.array([im.group.value for im in d.images])
    folds = fold_array(d.images, k=5)
    nap = cross_validated(d.plain, people, groups, folds, fit=nap_fit(d.embedder, d.embedder_version))
    print(f"{d.embedder} {d.embedder_version}: {len(d.images)} images, 5 identity-disjoint folds")
    head = ("templates", "FMR", "group", "FNMR own", "FNMR@one", "FMR@one", "genuine", "impostor")
    print("{:10} {:>6} {:>11} {:>9} {:>9} {:>8} {:>8} {:>9}".format(*head))
    for label, x in (("plain", d.plain), ("nap", nap)):
        scores = all_pair_scores(x, people.tolist(), groups.tolist(), folds=folds)
        for fmr in (1e-3, 1e-4):
            for r in rates_by_group(scores, target_fmr=fmr):
                print(
                    f"{label:10} {fmr:>6g} {r.group:>11} {r.own_fnmr:>9.3f} {r.fnmr:>9.3f} {r.fmr:>8.1e}"
                    f" {r.n_genuine:>8} {r.n_impostor:>9}"
                )

    chips = []
    for im in d.images[:: max(1, len(d.images) // args.chips)][: args.chips]:
        chips.append(pipe.locate(decode_image((args.faces / im.path).read_bytes())).chip)
    plans = {"1 view": TtaPlan(flip=False), "flip (2)": TtaPlan(flip=True)}
    plans["shift (5)"] = TtaPlan(flip=False, shifts=((3, 0), (-3, 0), (0, 3), (0, -3)))
    times = {}
    for name, plan in plans.items():
        t0 = time.perf_counter()
        for chip in chips:
            pipe.embedder.embed_batch(augment(chip, plan))
        times[name] = (time.perf_counter() - t0) / len(chips)
    base = times["1 view"]
    print(f"\nembedding cost per chip ({len(chips)} chips, {pipe.embedder_name})")
    for name, t in times.items():
        print(f"{name:10} {t * 1000:8.1f} ms  x{t / base:.2f}")


if __name__ == "__main__":
    main()
