"""Card field parsing from OCR lines (no OCR engine: lines as an engine returns them)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from simkyc.core.documents import (
    OcrLine,
    card_document,
    crop_portrait,
    parse_back,
    parse_front,
    repair_id_number,
)
from simkyc.errors import Reason


def line(text: str, left: float, top: float, *, score: float = 0.99, height: float = 30) -> OcrLine:
    return OcrLine(
        text=text, score=score, left=left, top=top, right=left + 30 * len(text), bottom=top + height
    )


FRONT = [
    line("姓名", 60, 60),
    line("张三", 160, 56, score=0.9),
    line("性别女", 60, 128),
    line("民族", 270, 128),
    line("汉", 370, 126),
    line("出生", 60, 196),
    line("1949年12月31日", 160, 192),
    line("住址", 60, 264),
    line("北京市朝阳区光华", 160, 260),
    line("路1号", 160, 304),
    line("公民身份号码", 60, 444),
    line("11010519491231002X", 290, 438),
]


def test_front_fields_and_confidences() -> None:
    f = parse_front(FRONT)
    assert (f.name, f.sex, f.ethnicity) == ("张三", "F", "汉")
    assert f.birth_date == dt.date(1949, 12, 31)
    assert f.address == "北京市朝阳区光华路1号"
    assert f.id_number == "11010519491231002X"
    assert f.confidence["name"] == 0.9
    assert set(f.confidence) == {"name", "sex", "ethnicity", "birth_date", "address", "id_number"}
    assert f.portrait_box is not None


def test_label_merged_with_value() -> None:
    lines = [line("姓名李四", 60, 60), *FRONT[2:]]
    assert parse_front(lines).name == "李四"


def test_number_repaired_by_check_character() -> None:
    assert repair_id_number("11010519491231OO2X") == "11010519491231002X"
    assert repair_id_number("1101O519491231002x") == "11010519491231002X"
    # A digit misread as another digit is not guessed: one swap in eleven passes by chance.
    assert repair_id_number("110105194912310028") is None
    assert repair_id_number("no number here") is None


BACK = [line("签发机关", 150, 390), line("北京市公安局朝阳分局", 290, 386), line("有效期限", 150, 450),
        line("2015.01.01-2035.01.01", 290, 444)]  # fmt: skip


def test_cross_check_number_against_printed_fields() -> None:
    back = parse_back(BACK)
    lines = [*FRONT[:6], line("1949年12月30日", 160, 192), *FRONT[7:]]
    doc = card_document(parse_front(lines), back)
    assert doc.source_reasons == (Reason.ID_FIELDS_INCONSISTENT,)
    lines = [FRONT[0], FRONT[1], line("性别男", 60, 128), *FRONT[3:]]
    assert card_document(parse_front(lines), back).source_reasons == (Reason.ID_FIELDS_INCONSISTENT,)
    doc = card_document(parse_front(FRONT), back)
    assert doc.source_reasons == () and doc.valid_until == dt.date(2035, 1, 1) and doc.issuer


def test_front_alone_leaves_validity_unknown() -> None:
    assert card_document(parse_front(FRONT)).source_reasons == (Reason.OCR_FIELD_UNREADABLE,)


def test_missing_field_is_flagged() -> None:
    doc = card_document(parse_front([ln for ln in FRONT if "年" not in ln.text]))
    assert doc.birth_date is None and Reason.OCR_FIELD_UNREADABLE in doc.source_reasons


def test_back_dates_and_long_term() -> None:
    back = parse_back(BACK)
    assert back.issuer == "北京市公安局朝阳分局"
    assert (back.valid_from, back.valid_until, back.long_term) == (
        dt.date(2015, 1, 1),
        dt.date(2035, 1, 1),
        False,
    )
    back = parse_back([line("有效期限2015.01.01-长期", 150, 450)])
    assert back.long_term and back.valid_until is None and back.valid_from == dt.date(2015, 1, 1)


def test_portrait_crop_is_clipped_to_the_image() -> None:
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    assert crop_portrait(img, (150, 50, 400, 300)) is not None
    assert crop_portrait(img, (150, 50, 400, 300)).shape == (50, 50, 3)  # type: ignore[union-attr]
    assert crop_portrait(img, None) is None
    assert crop_portrait(img, (195, 0, 400, 300)) is None
