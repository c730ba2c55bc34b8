"""ID intake use cases: read a card image pair or a document's MRZ into an `IdDocument`.

The OCR engine is injected (`simkyc.bootstrap.ocr_engine()` builds the shared one); everything
else is the pure core in `simkyc.core.documents`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from simkyc.core.documents.document import IdDocument
from simkyc.core.documents.mrz import MrzRecord, mrz_to_document, read_mrz
from simkyc.core.documents.ocr_fields import (
    CardBack,
    CardFront,
    OcrLine,
    card_document,
    crop_portrait,
    parse_back,
    parse_front,
    reread_boxes,
    reread_value,
    row_texts,
)
from simkyc.core.faces.types import Image
from simkyc.core.images import decode_image
from simkyc.errors import DocumentError, InputError, Reason

__all__ = ["CardReading", "TextReader", "load_image", "read_card", "read_mrz_image"]

MAX_OCR_SIDE = 1600  # px; larger photos are scaled down first (OCR time grows with the area)


class TextReader(Protocol):
    """What the intake needs from an OCR engine (`simkyc.models.ocr.OcrEngine` implements it)."""

    def read(self, image: Image, *, min_score: float = ...) -> list[OcrLine]: ...

    def recognize(self, crop: Image) -> tuple[str, float]: ...


@dataclass(frozen=True, slots=True)
class CardReading:
    front: CardFront
    back: CardBack | None
    document: IdDocument


def load_image(path: Path) -> Image:
    """Decode an image file (any format PIL reads) with the shared safety checks."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Reason.IMAGE_UNREADABLE, f"cannot read {path.name}: {exc.strerror}") from None
    return decode_image(data)


def _limit(image: Image, max_side: int = MAX_OCR_SIDE) -> tuple[Image, float]:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return image, 1.0
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8), scale


def read_card(front: Image, back: Image | None = None, *, reader: TextReader) -> CardReading:
    """OCR a card front (and back) into fields, a portrait crop and an `IdDocument` (source "ocr")."""
    small, scale = _limit(front)
    lines = reader.read(small)
    parsed_front = parse_front(lines)
    for name, where in reread_boxes(lines, parsed_front).items():  # a second look at skipped glyphs
        crop = crop_portrait(small, where)
        if crop is None:
            continue
        text, score = reader.recognize(crop)
        value = reread_value(name, text)
        if value is not None:
            conf = parsed_front.confidence | {name: score}
            if name == "sex":
                parsed_front = replace(parsed_front, sex=value, confidence=conf)
            else:
                parsed_front = replace(parsed_front, ethnicity=value, confidence=conf)
    box = parsed_front.portrait_box
    if box is not None and scale != 1.0:
        box = (round(box[0] / scale), round(box[1] / scale), round(box[2] / scale), round(box[3] / scale))
    portrait = crop_portrait(front, box)
    parsed_back = parse_back(reader.read(_limit(back)[0])) if back is not None else None
    doc = card_document(parsed_front, parsed_back, portrait=portrait)
    return CardReading(front=parsed_front, back=parsed_back, document=doc)


def read_mrz_image(image: Image, *, reader: TextReader, today: dt.date) -> tuple[MrzRecord, IdDocument]:
    """Find the MRZ in a document photo: OCR the whole page, then the bottom band enlarged.

    :raises DocumentError: MRZ_NOT_FOUND or MRZ_CHECK_DIGIT (from the most complete attempt).
    """
    small, _ = _limit(image)
    first_error: DocumentError | None = None
    h = small.shape[0]
    band = small[int(h * 0.55) :]
    band = np.asarray(cv2.resize(band, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    for attempt in (small, band):
        try:
            record = read_mrz(row_texts(reader.read(attempt, min_score=0.2)), today=today)
        except DocumentError as exc:
            if first_error is None or exc.reason == Reason.MRZ_CHECK_DIGIT:
                first_error = exc
            continue
        return record, mrz_to_document(record)
    assert first_error is not None
    raise first_error
