"""Fields of a resident ID card from OCR text lines, with a confidence per field and cross-checks.

Input is what any OCR engine gives: text lines with a box and a score (`OcrLine`). The card's
layout is fixed (second-generation card, 85.6 x 54 mm)::

    front: 姓名 NAME / 性别 X 民族 Y / 出生 YYYY 年 M 月 D 日 / 住址 ADDRESS (1-3 lines) / 公民身份号码 NUMBER
           portrait on the right, between the name line and the number line
    back:  中华人民共和国 居民身份证 / 签发机关 ISSUER / 有效期限 YYYY.MM.DD-YYYY.MM.DD (or -长期)

The engine may merge a label with its value ("姓名张三") or split them into two boxes on one
row; both are handled. The ID number must pass its check character (letters read for digits,
O->0 and I->1, are mapped). Cross-checks compare the number with the printed
birth date and sex.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simkyc.core.documents.chip import ETHNICITIES
from simkyc.core.documents.document import IdDocument
from simkyc.core.documents.id_number import check_character
from simkyc.core.faces.types import Image
from simkyc.errors import Reason

__all__ = [
    "CardBack",
    "CardFront",
    "OcrLine",
    "card_document",
    "crop_portrait",
    "parse_back",
    "parse_front",
    "repair_id_number",
    "reread_boxes",
    "reread_value",
    "row_texts",
]


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised text line: its text, the engine's score in [0, 1] and its box in pixels."""

    text: str
    score: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class CardFront:
    """Fields read from the front; None = not found. `confidence` per field found."""

    name: str | None
    sex: str | None
    ethnicity: str | None
    birth_date: dt.date | None
    address: str | None
    id_number: str | None
    confidence: dict[str, float] = field(default_factory=dict)
    portrait_box: tuple[int, int, int, int] | None = None  # left, top, right, bottom


@dataclass(frozen=True, slots=True)
class CardBack:
    issuer: str | None
    valid_from: dt.date | None
    valid_until: dt.date | None  # None with long_term True = 长期
    long_term: bool
    confidence: dict[str, float] = field(default_factory=dict)


_DIGITS = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "Z": "2",
                         "z": "2", "S": "5", "s": "5", "G": "6", "b": "6", "B": "8", "g": "9", "x": "X",
                         "×": "X", "Ｘ": "X"})  # fmt: skip
_LABELS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码", "签发机关", "有效期限")


def repair_id_number(text: str) -> str | None:
    """The 18-character number in `text` whose check character holds, or None.

    Letters that cannot occur in a number are mapped to the digits they resemble (O->0, I->1,
    S->5, B->8 ...). Digit-for-digit swaps are not tried: one in eleven of them would pass the
    check character by chance, so a misread digit makes the number unreadable (the clerk types
    it) rather than silently wrong.
    """
    s = re.sub(r"\s", "", text).translate(_DIGITS).upper()
    for m in re.finditer(r"(?=([0-9X]{17}[0-9X]))", s):
        cand = m.group(1)
        if "X" not in cand[:17] and check_character(cand[:17]) == cand[17]:
            return cand
    return None


def _rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Group boxes into rows (same baseline), each row left to right, rows top to bottom."""
    rows: list[list[OcrLine]] = []
    for ln in sorted(lines, key=lambda t: t.cy):
        if rows and abs(rows[-1][0].cy - ln.cy) < 0.5 * max(rows[-1][0].height, ln.height, 1.0):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [sorted(r, key=lambda t: t.left) for r in rows]


def row_texts(lines: Sequence[OcrLine]) -> list[str]:
    """Text per visual row, top to bottom (boxes on one baseline joined left to right)."""
    return [_row_text(r) for r in _rows(lines)]


def _row_text(row: Sequence[OcrLine]) -> str:
    return "".join(t.text for t in row).replace(" ", "")


def _score(row: Sequence[OcrLine]) -> float:
    return float(min(t.score for t in row)) if row else 0.0


def _after(text: str, label: str) -> str:
    # Labels may be read with a dropped or swapped character: accept the label or its second half.
    for key in (label, label[1:], label[:1]):
        i = text.find(key)
        if i >= 0:
            return text[i + len(key) :].lstrip(":：")
    return text


def _find_row(rows: list[list[OcrLine]], *labels: str) -> int | None:
    for i, row in enumerate(rows):
        text = _row_text(row)
        if any(lbl in text for lbl in labels):
            return i
    return None


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def parse_front(lines: Sequence[OcrLine]) -> CardFront:
    """Fields of the card front from OCR lines in image coordinates."""
    rows = _rows(lines)
    conf: dict[str, float] = {}
    name = sex = ethnicity = address = number = None
    birth: dt.date | None = None
    number_row = None
    for k, row in enumerate(rows):
        cand = repair_id_number(_row_text(row))
        if cand and number is None:
            number, number_row = cand, k
            conf["id_number"] = _score(row)
    i = _find_row(rows, "姓名", "姓", "名")
    if i is not None:
        value = _after(_row_text(rows[i]), "姓名")
        if not value and i + 1 < len(rows) and not any(lbl in _row_text(rows[i + 1]) for lbl in _LABELS):
            value, i = _row_text(rows[i + 1]), i + 1
        if value:
            name, conf["name"] = value, _score(rows[i])
    i = _find_row(rows, "性别", "民族")
    if i is not None:
        text = _row_text(rows[i])
        m = re.search(r"性?别?([男女])", text)
        if m:
            sex, conf["sex"] = ("M" if m.group(1) == "男" else "F"), _score(rows[i])
        m = re.search(r"民?族(\S+)", text)
        if m and m.group(1).removesuffix("族") in ETHNICITIES.values():
            ethnicity, conf["ethnicity"] = m.group(1).removesuffix("族"), _score(rows[i])
    i = _find_row(rows, "出生", "年")
    if i is not None:
        text = _row_text(rows[i]).translate(_DIGITS)
        m = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})日?", text)
        if m:
            birth = _date(*m.groups())
            if birth is not None:
                conf["birth_date"] = _score(rows[i])
    i = _find_row(rows, "住址", "住", "址")
    if i is not None:
        end = number_row if number_row is not None and number_row > i else len(rows)
        parts = [_after(_row_text(rows[i]), "住址")]
        used = [rows[i]]
        for row in rows[i + 1 : end]:
            text = _row_text(row)
            if any(lbl in text for lbl in _LABELS):
                break
            parts.append(text)
            used.append(row)
        value = "".join(parts)
        if value:
            address, conf["address"] = value, min(_score(r) for r in used)
    return CardFront(
        name=name,
        sex=sex,
        ethnicity=ethnicity,
        birth_date=birth,
        address=address,
        id_number=number,
        confidence=conf,
        portrait_box=_portrait_box(rows, number_row),
    )


def _portrait_box(rows: list[list[OcrLine]], number_row: int | None) -> tuple[int, int, int, int] | None:
    """Where the portrait sits: right of the text block, between the name row and the number row."""
    if number_row is None or number_row == 0:
        return None
    number = rows[number_row]
    top_row = rows[0]
    text_right = max(t.right for row in rows[:number_row] for t in row if t.left < number[-1].left)
    card_right = max(t.right for t in number)
    unit = float(np.median([t.height for row in rows for t in row]))
    right = int(card_right + unit * 0.3)
    top = int(top_row[0].top - unit * 0.5)
    bottom = int(top + (number[0].top - top) * 0.8)
    # The portrait is 26 x 32 mm: its width follows from its height, and it never overlaps the text.
    left = int(max(text_right + unit * 0.3, right - (bottom - top) * 0.8))
    if right - left < 2 * unit or bottom - top < 2 * unit:
        return None
    return left, max(top, 0), right, bottom


def reread_boxes(lines: Sequence[OcrLine], front: CardFront) -> dict[str, tuple[int, int, int, int]]:
    """Where to look again for a one-glyph field the engine's detector skipped or misread (a lone
    square glyph such as 回 or a blurred 男 is often dropped): the space right of its label.
    Returns field name -> box for the fields that are missing and whose label was found.
    """
    labels = {"sex": ("性别", "别"), "ethnicity": ("民族", "族")}
    out: dict[str, tuple[int, int, int, int]] = {}
    for name, (label, short) in labels.items():
        if getattr(front, name) is not None:
            continue
        for ln in lines:
            text = ln.text.replace(" ", "")
            if text.endswith(label) or (text.endswith(short) and len(text) <= 2):
                h = ln.height
                out[name] = (
                    int(ln.right),
                    int(ln.top - 0.3 * h),
                    int(ln.right + 4 * h),
                    int(ln.bottom + 0.3 * h),
                )
                break
    return out


def reread_value(name: str, text: str) -> str | None:
    """The value of a re-read field from recognised text: sex 'M'/'F', ethnicity a GB 3304 name."""
    text = text.strip()
    if name == "sex":
        return "M" if text.startswith("男") else "F" if text.startswith("女") else None
    value = text.removeprefix("民族").removesuffix("族")
    return value if value in ETHNICITIES.values() else None


def parse_back(lines: Sequence[OcrLine]) -> CardBack:
    """Issuing authority and validity period from the card back."""
    rows = _rows(lines)
    conf: dict[str, float] = {}
    issuer = None
    valid_from = valid_until = None
    long_term = False
    i = _find_row(rows, "签发机关", "机关")
    if i is not None:
        value = _after(_row_text(rows[i]), "签发机关")
        if value:
            issuer, conf["issuer"] = value, _score(rows[i])
    i = _find_row(rows, "有效期限", "期限", "长期")
    if i is None:
        i = next((k for k, r in enumerate(rows) if re.search(r"\d{4}\D\d{2}\D\d{2}", _row_text(r))), None)
    if i is not None:
        text = _row_text(rows[i]).translate(_DIGITS)
        m = re.search(r"(\d{4})\D?(\d{2})\D?(\d{2})\D*?(?:(\d{4})\D?(\d{2})\D?(\d{2})|(长期))", text)
        if m:
            valid_from = _date(*m.group(1, 2, 3))
            if m.group(7):
                long_term = True
            else:
                valid_until = _date(*m.group(4, 5, 6))
            if valid_from is not None and (long_term or valid_until is not None):
                conf["validity"] = _score(rows[i])
    return CardBack(
        issuer=issuer, valid_from=valid_from, valid_until=valid_until, long_term=long_term, confidence=conf
    )


def crop_portrait(image: Image, box: tuple[int, int, int, int] | None) -> Image | None:
    """The portrait region of a card image (a view clipped to the image), or None."""
    if box is None:
        return None
    h, w = image.shape[:2]
    left, top, right, bottom = box
    left, right = max(0, left), min(w, right)
    top, bottom = max(0, top), min(h, bottom)
    if right - left < 16 or bottom - top < 16:
        return None
    return np.ascontiguousarray(image[top:bottom, left:right])


def card_document(
    front: CardFront, back: CardBack | None = None, *, portrait: Image | None = None
) -> IdDocument:
    """The `IdDocument` (source "ocr") for a read card, with OCR_FIELD_UNREADABLE when a required
    field is missing (the validity period too, so a front alone never passes) and
    ID_FIELDS_INCONSISTENT when the number disagrees with the printed fields.
    """
    reasons: list[Reason] = []
    required = [front.name, front.sex, front.birth_date, front.id_number]
    # Without the back the validity period is unknown: never assume the card is in force.
    required.append(back.valid_from if back is not None else None)
    if any(v is None for v in required):
        reasons.append(Reason.OCR_FIELD_UNREADABLE)
    if front.id_number is not None:
        n = front.id_number
        from_number = _date(n[6:10], n[10:12], n[12:14])
        if front.birth_date is not None and from_number != front.birth_date:
            reasons.append(Reason.ID_FIELDS_INCONSISTENT)
        if front.sex is not None and ("M" if int(n[16]) % 2 else "F") != front.sex:
            reasons.append(Reason.ID_FIELDS_INCONSISTENT)
    confidence = dict(front.confidence) | (dict(back.confidence) if back is not None else {})
    sex = front.sex
    return IdDocument(
        source="ocr",
        kind="resident_id",
        name=front.name or "",
        id_number=front.id_number or "",
        birth_date=front.birth_date,
        sex="M" if sex == "M" else "F" if sex == "F" else None,
        nationality="CHN",
        valid_from=back.valid_from if back else None,
        valid_until=back.valid_until if back else None,
        portrait=portrait,
        ethnicity=front.ethnicity,
        address=front.address,
        issuer=back.issuer if back else None,
        confidence=confidence,
        source_reasons=tuple(dict.fromkeys(reasons)),
    )
