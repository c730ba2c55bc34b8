"""Name rules shared by the API, the chip record, OCR and the platform check (issue 14 finding 10)."""

from __future__ import annotations

import datetime as dt

import pytest

from simkyc.core.documents.document import IdDocument, validate_document
from simkyc.core.documents.names import MAX_NAME_CHARS, name_problem, validate_name
from simkyc.errors import DocumentError, Reason


@pytest.mark.parametrize("name", ["张三", "  张三 ", "欧阳·娜娜", "Anna-Maria O'Neil", "李" * MAX_NAME_CHARS])
def test_real_names_pass_trimmed(name: str) -> None:
    assert validate_name(name) == name.strip()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "\u3000",
        "张\x00三",
        "张\u200b三",
        "张\u200d三",
        "\u202e三张",
        "\u2066张三",
        "\ufeff张三",
        "李" * 65,
    ],
)
def test_names_that_are_blank_hidden_or_too_long_are_refused(name: str) -> None:
    assert name_problem(name) is not None
    with pytest.raises(DocumentError) as exc:
        validate_name(name)
    assert exc.value.reason is Reason.NAME_INVALID


def test_the_document_check_applies_the_same_rule() -> None:
    doc = IdDocument(
        source="chip",
        kind="resident_id",
        name="\u202e三张",
        id_number="11010519491231002X",
        birth_date=None,
        sex=None,
    )
    assert Reason.NAME_INVALID in validate_document(doc, today=dt.date(2026, 12, 1)).reasons
