"""Where a skipped one-glyph field is looked for again, and how its re-read text is taken."""

from __future__ import annotations

from simkyc.core.documents import OcrLine, parse_front, reread_boxes, reread_value


def line(text: str, left: float, top: float) -> OcrLine:
    return OcrLine(text=text, score=0.99, left=left, top=top, right=left + 30 * len(text), bottom=top + 30)


def test_missing_ethnicity_and_sex_get_a_box_right_of_their_labels() -> None:
    lines = [line("姓名张三", 60, 60), line("性别", 60, 128), line("民族", 270, 128), line("出生", 60, 196)]
    front = parse_front(lines)
    assert front.sex is None and front.ethnicity is None
    boxes = reread_boxes(lines, front)
    assert boxes["sex"][0] == 120 and boxes["ethnicity"][0] == 330  # right edge of each label
    assert boxes["sex"][2] < 270  # stops before the next label


def test_no_reread_when_fields_were_read() -> None:
    lines = [line("性别女", 60, 128), line("民族汉", 270, 128)]
    assert reread_boxes(lines, parse_front(lines)) == {}


def test_reread_values() -> None:
    assert (
        reread_value("sex", "男") == "M"
        and reread_value("sex", "女") == "F"
        and reread_value("sex", "另") is None
    )
    assert reread_value("ethnicity", "回") == "回" and reread_value("ethnicity", "蒙古族") == "蒙古"
    assert reread_value("ethnicity", "火星") is None
