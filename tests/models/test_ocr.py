"""OCR on rendered ID cards at each degradation level, and MRZ reading on the ICAO specimens.

The engine is built once per session (a few seconds); each card read takes ~3-5 s on two cores,
so the sample is two cards per level.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from simkyc.core.faces.types import Image
from simkyc.errors import DocumentError, InputError, Reason
from simkyc.eval.cards import (
    LEVELS,
    CardFields,
    Degradation,
    degrade,
    find_cjk_font,
    portrait_box_in,
    random_fields,
    render_back,
    render_front,
)
from simkyc.models.ocr import OcrEngine
from simkyc.service.documents import CardReading, load_image, read_card, read_mrz_image

TODAY = dt.date(2026, 11, 22)
CARDS_PER_LEVEL = 2


@pytest.fixture(scope="session")
def ocr() -> OcrEngine:
    return OcrEngine()


@pytest.fixture(scope="session")
def portraits(faces_dir: Path) -> list[Image]:
    try:
        find_cjk_font()
    except InputError:
        pytest.skip("no Noto CJK font: apt-get install fonts-noto-cjk (scripts/install.sh --dev does)")
    paths = sorted((faces_dir / "asian_celeb_nz0001na" / "sample_images").rglob("*.jpg"))[
        : CARDS_PER_LEVEL * 2
    ]
    return [np.asarray(PILImage.open(p).convert("RGB"), dtype=np.uint8) for p in paths]


@dataclass
class Sample:
    level: Degradation
    fields: CardFields
    seed: int
    reading: CardReading


@pytest.fixture(scope="session")
def samples(ocr: OcrEngine, portraits: list[Image]) -> list[Sample]:
    pytest.importorskip("rapidocr_onnxruntime")
    rng = random.Random(4)
    out = []
    for li, level in enumerate(LEVELS):
        for k in range(CARDS_PER_LEVEL):
            seed = 10 * li + k
            fields = random_fields(rng, today=TODAY)
            front = degrade(
                render_front(fields, portraits[(li + k) % len(portraits)], seed=seed), level, seed=seed
            )
            back = degrade(render_back(fields, seed=seed), level, seed=seed + 1) if k == 0 else None
            out.append(Sample(level, fields, seed, read_card(front, back, reader=ocr)))
    return out


def field_hits(s: Sample) -> dict[str, bool]:
    f, doc = s.fields, s.reading.document
    return {
        "name": doc.name == f.name,
        "sex": doc.sex == f.sex,
        "ethnicity": doc.ethnicity == f.ethnicity,
        "birth_date": doc.birth_date == f.birth_date,
        "address": doc.address == f.address,
        "id_number": doc.id_number == f.id_number,
    }


@pytest.mark.parametrize("level", ["clean", "mild", "moderate"])
def test_every_front_field_read_back(samples: list[Sample], level: str) -> None:
    for s in (s for s in samples if s.level.name == level):
        hits = field_hits(s)
        assert all(hits.values()), {k: v for k, v in hits.items() if not v}
        # Without the back the validity is unknown, which is reported rather than assumed.
        expected = () if s.reading.back is not None else (Reason.OCR_FIELD_UNREADABLE,)
        assert s.reading.document.source == "ocr" and s.reading.document.source_reasons == expected
        assert all(0.5 <= c <= 1.0 for c in s.reading.document.confidence.values())


def test_severe_level_reads_most_fields(samples: list[Sample]) -> None:
    for s in (s for s in samples if s.level.name == "severe"):
        assert sum(field_hits(s).values()) >= 5, field_hits(s)


@pytest.mark.parametrize("level", [lv.name for lv in LEVELS if lv.name != "extreme"])
def test_back_fields_read_back(samples: list[Sample], level: str) -> None:
    s = next(s for s in samples if s.level.name == level and s.reading.back is not None)
    back = s.reading.back
    assert back is not None
    assert back.issuer == s.fields.issuer
    assert back.valid_from == s.fields.valid_from
    assert back.valid_until == s.fields.valid_until and back.long_term == (s.fields.valid_until is None)


def test_number_is_never_silently_wrong(samples: list[Sample]) -> None:
    # The check character guards the number even when the photo is very bad: read right or not at all.
    for s in samples:
        assert s.reading.front.id_number in (s.fields.id_number, None)


def test_accuracy_falls_with_degradation(samples: list[Sample]) -> None:
    def accuracy(name: str) -> float:
        hits = [v for s in samples if s.level.name == name for v in field_hits(s).values()]
        return sum(hits) / len(hits)

    assert accuracy("clean") == 1.0
    assert accuracy("extreme") < accuracy("clean")


def test_portrait_crop_covers_the_face(samples: list[Sample]) -> None:
    for s in samples:
        if s.level.name == "extreme":
            continue
        box = s.reading.front.portrait_box
        assert box is not None and s.reading.document.portrait is not None
        truth = portrait_box_in(s.seed, s.level)
        ix = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0]))
        iy = max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
        inter = ix * iy
        union = (box[2] - box[0]) * (box[3] - box[1]) + (truth[2] - truth[0]) * (truth[3] - truth[1]) - inter
        # Perspective moves the portrait more than the text rows the crop is placed from.
        assert inter / union > (0.5 if s.level.name == "severe" else 0.65), (s.level.name, box, truth)


def mrz_labels(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "id_documents" / "passporteye_mrz" / "labels.csv"
    if not path.is_file():
        pytest.skip("MRZ specimens absent")
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", ["tests_data/passport-td3.jpg", "tests_data/passport-td2.png"])
def test_mrz_specimens_read_against_labels(ocr: OcrEngine, shared_data: Path, name: str) -> None:
    label = next(r for r in mrz_labels(shared_data) if r["file"] == name)
    image = load_image(shared_data / "id_documents" / "passporteye_mrz" / name)
    record, doc = read_mrz_image(image, reader=ocr, today=TODAY)
    assert record.valid and record.format == label["mrz_type"]
    assert record.number == label["number"] and record.issuer == label["country"]
    assert record.birth_date is not None and record.birth_date.strftime("%y%m%d") == label["date_of_birth"]
    assert (
        record.expiry_date is not None and record.expiry_date.strftime("%y%m%d") == label["expiration_date"]
    )
    assert (record.surname, record.given_names, record.sex) == (
        label["surname"],
        label["names"],
        label["sex"],
    )
    assert doc.source == "mrz"


def test_no_mrz_on_a_card_front(ocr: OcrEngine, samples: list[Sample]) -> None:
    fields = samples[0].fields
    front = render_front(fields, np.zeros((60, 50, 3), dtype=np.uint8))
    with pytest.raises(DocumentError) as err:
        read_mrz_image(front, reader=ocr, today=TODAY)
    assert err.value.reason == Reason.MRZ_NOT_FOUND
