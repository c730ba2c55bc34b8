"""ID intake accuracy: OCR field accuracy on rendered cards per degradation level, and the MRZ read
rate on the PassportEye specimens.

    .venv/bin/python benchmarks/ocr_accuracy.py [--cards 5] [--no-mrz]

Cards are rendered by `simkyc.eval.cards` (no real card may be collected) with faces from
../shared/data/faces; "clean" is the baseline each level's accuracy is compared against. The MRZ
part reads every specimen image: a read counts as correct for a labelled file when every check
digit holds and the number, dates, sex and names equal labels.csv; for unlabelled specimens it
reports how many gave an MRZ whose every check digit holds.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from simkyc.errors import DocumentError
from simkyc.eval.cards import LEVELS, degrade, random_fields, render_back, render_front
from simkyc.models.ocr import OcrEngine
from simkyc.service.documents import load_image, read_card, read_mrz_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TODAY = dt.date(2026, 11, 22)
FRONT_FIELDS = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")


def cards(engine: OcrEngine, n: int) -> None:
    faces = sorted((DATA / "faces" / "asian_celeb_nz0001na" / "sample_images").rglob("*.jpg"))
    portraits = [np.asarray(PILImage.open(p).convert("RGB"), dtype=np.uint8) for p in faces]
    print(f"{'level':<9} {'cards':>5} " + " ".join(f"{f:>10}" for f in FRONT_FIELDS)
          + f" {'issuer':>7} {'validity':>8} {'all':>6} {'vs clean':>8} {'s/card':>6}")  # fmt: skip
    base = None
    for li, level in enumerate(LEVELS):
        rng = random.Random(100 + li)
        hits = {f: 0 for f in (*FRONT_FIELDS, "issuer", "validity")}
        start = time.perf_counter()
        for k in range(n):
            fields = random_fields(rng, today=TODAY)
            front = degrade(
                render_front(fields, portraits[(li * n + k) % len(portraits)], seed=k), level, seed=k
            )
            back = degrade(render_back(fields, seed=k), level, seed=k + 1000)
            r = read_card(front, back, reader=engine)
            d = r.document
            got = {
                "name": d.name == fields.name,
                "sex": d.sex == fields.sex,
                "ethnicity": d.ethnicity == fields.ethnicity,
                "birth_date": d.birth_date == fields.birth_date,
                "address": d.address == fields.address,
                "id_number": d.id_number == fields.id_number,
                "issuer": d.issuer == fields.issuer,
                "validity": r.back is not None
                and r.back.valid_from == fields.valid_from
                and r.back.valid_until == fields.valid_until,
            }
            for key, ok in got.items():
                hits[key] += ok
        seconds = (time.perf_counter() - start) / n
        overall = sum(hits.values()) / (len(hits) * n)
        base = overall if base is None else base
        cols = " ".join(f"{hits[f] / n:>10.0%}" for f in FRONT_FIELDS)
        print(f"{level.name:<9} {n:>5} {cols} {hits['issuer'] / n:>7.0%} {hits['validity'] / n:>8.0%} "
              f"{overall:>6.1%} {overall / base:>8.2f} {seconds:>6.1f}")  # fmt: skip


def mrz(engine: OcrEngine) -> None:
    root = DATA / "id_documents" / "passporteye_mrz"
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        labels = {row["file"]: row for row in csv.DictReader(fh)}
    files = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png")
    )
    labelled_ok = valid = 0
    for name in files:
        try:
            record, _ = read_mrz_image(load_image(root / name), reader=engine, today=TODAY)
        except DocumentError as exc:
            print(f"  {name:<34} {exc.reason}")
            continue
        valid += record.valid
        label = labels.get(name)
        verdict = "valid" if record.valid else "invalid"
        if label is not None:
            same = (
                record.valid
                and record.number == label["number"]
                and record.birth_date is not None
                and record.birth_date.strftime("%y%m%d") == label["date_of_birth"]
                and record.expiry_date is not None
                and record.expiry_date.strftime("%y%m%d") == label["expiration_date"]
                and record.sex == label["sex"]
                and record.surname == label["surname"]
                and record.given_names == label["names"]
            )
            labelled_ok += same
            verdict += ", matches label" if same else ", DIFFERS from label"
        print(f"  {name:<34} {record.format} {verdict}")
    print(f"MRZ labelled specimens read correctly: {labelled_ok}/{len(labels)}")
    print(f"MRZ all images with every check digit passing: {valid}/{len(files)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=5, help="cards per degradation level")
    parser.add_argument("--no-mrz", action="store_true")
    parser.add_argument("--no-cards", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"data not found at {DATA}", file=sys.stderr)
        return 2
    engine = OcrEngine()
    if not args.no_cards:
        cards(engine, args.cards)
    if not args.no_mrz:
        mrz(engine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
