"""Chip-reader records and `validate_document`: each inconsistency gives its reason."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from simkyc.core.documents import (
    IdDocument,
    PortraitDecoder,
    check_character,
    chip_record_json,
    parse_chip_record,
    validate_document,
)
from simkyc.errors import DocumentError, Reason

TODAY = dt.date(2026, 11, 22)


def number(first17: str) -> str:
    return first17 + check_character(first17)


def encoded(fmt: str, size: tuple[int, int] = (102, 126)) -> bytes:
    rng = np.random.default_rng(0)
    img = PILImage.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def record(**overrides: object) -> dict[str, object]:
    """A consistent adult record; override fields to break one thing at a time."""
    base: dict[str, object] = json.loads(
        chip_record_json(
            name="张三",
            sex="2",
            birth_date=dt.date(1949, 12, 31),
            id_number="11010519491231002X",
            valid_from=dt.date(2015, 1, 1),
            valid_until=None,
            address="北京市朝阳区光华路1号",
            issuer="北京市公安局朝阳分局",
            portrait=("jpeg", encoded("JPEG")),
        )
    )
    base.update(overrides)
    return base


def check(rec: dict[str, object], **kwargs: object) -> tuple[IdDocument, tuple[Reason, ...]]:
    doc = parse_chip_record(json.dumps(rec, ensure_ascii=False))
    result = validate_document(doc, today=TODAY, **kwargs)  # type: ignore[arg-type]
    assert result.ok == (not result.reasons)
    return doc, result.reasons


def test_consistent_long_term_record_passes_with_portrait() -> None:
    doc, reasons = check(record())
    assert reasons == ()
    assert doc.source == "chip" and doc.kind == "resident_id"
    assert doc.valid_until is None  # 长期
    assert doc.portrait is not None and doc.portrait.shape == (126, 102, 3)
    assert doc.sex == "F" and doc.ethnicity == "汉"
    assert "11010519491231002X" not in repr(doc)


@pytest.mark.parametrize("fmt", ["PNG", "BMP"])
def test_png_and_bmp_portraits(fmt: str) -> None:
    rec = record(portrait={"format": fmt.lower(), "data": base64.b64encode(encoded(fmt)).decode()})
    doc, _ = check(rec)
    assert doc.portrait is not None and doc.portrait.shape == (126, 102, 3)


def test_birth_date_field_disagrees_with_number() -> None:
    _, reasons = check(record(birth_date="19491230"))
    assert reasons == (Reason.ID_FIELDS_INCONSISTENT,)


def test_sex_field_disagrees_with_number() -> None:
    _, reasons = check(record(sex="1"))
    assert reasons == (Reason.ID_FIELDS_INCONSISTENT,)


def test_expired_card() -> None:
    _, reasons = check(record(valid_from="20061122", valid_until="20261121"))
    assert reasons == (Reason.ID_EXPIRED,)
    _, reasons = check(record(valid_from="20061122", valid_until="20261122"))  # last valid day
    assert reasons == ()


def test_not_yet_valid_card() -> None:
    _, reasons = check(record(valid_from="20261201", valid_until="20461201"))
    assert reasons == (Reason.ID_NOT_YET_VALID,)


def test_bad_number_in_record() -> None:
    _, reasons = check(record(id_number="110105194912310021"))
    assert reasons == (Reason.ID_NUMBER_CHECKSUM,)


def test_minor_needs_guardian_and_min_age_is_configurable() -> None:
    birth = dt.date(2012, 3, 5)
    rec = record(id_number=number("44030420120305001"), birth_date="20120305", sex="1")
    doc = parse_chip_record(json.dumps(rec))
    result = validate_document(doc, today=TODAY)
    assert result.needs_guardian and result.reasons == (Reason.UNDERAGE_NEEDS_GUARDIAN,)
    assert result.age == 14
    assert validate_document(doc, today=TODAY, min_age=14).ok
    # Sixteenth birthday: no guardian from that day on.
    assert validate_document(doc, today=birth.replace(year=2028)).ok
    assert validate_document(doc, today=dt.date(2028, 3, 4)).needs_guardian


def test_several_problems_are_all_reported() -> None:
    rec = record(
        id_number=number("44030420120305001"), birth_date="20120306", sex="2", valid_until="20200101"
    )
    _, reasons = check(rec)
    assert set(reasons) == {Reason.ID_FIELDS_INCONSISTENT, Reason.ID_EXPIRED, Reason.UNDERAGE_NEEDS_GUARDIAN}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": "other/1"}, Reason.ID_RECORD_INVALID),
        ({"name": ""}, Reason.ID_RECORD_INVALID),
        ({"sex": "x"}, Reason.ID_RECORD_INVALID),
        ({"birth_date": "1949-13-01"}, Reason.ID_RECORD_INVALID),
        ({"valid_until": "someday"}, Reason.ID_RECORD_INVALID),
        ({"ethnicity": "99"}, Reason.ID_RECORD_INVALID),
        ({"portrait": {"format": "jpeg", "data": "not base64!"}}, Reason.ID_RECORD_INVALID),
        ({"portrait": {"format": "png", "data": b64(encoded("JPEG"))}}, Reason.ID_RECORD_INVALID),
        ({"portrait": {"format": "jpeg", "data": b64(b"\xff\xd8\xff" + b"0" * 50)}}, Reason.ID_PHOTO_MISSING),
        ({"portrait": {"format": "wlt", "data": b64(b"W" * 1024)}}, Reason.PORTRAIT_UNAVAILABLE),
    ],
)  # fmt: skip
def test_malformed_records(change: dict[str, object], reason: Reason) -> None:
    with pytest.raises(DocumentError) as err:
        parse_chip_record(json.dumps(record(**change)))
    assert err.value.reason == reason


def test_not_json() -> None:
    with pytest.raises(DocumentError) as err:
        parse_chip_record("{not json")
    assert err.value.reason == Reason.ID_RECORD_INVALID


def test_wlt_portrait_goes_through_the_vendor_adapter() -> None:
    class FakeVendor:
        def __init__(self) -> None:
            self.seen = b""

        def decode_wlt(self, data: bytes) -> np.ndarray:  # type: ignore[type-arg]
            self.seen = data
            return np.full((126, 102, 3), 7, dtype=np.uint8)

    vendor = FakeVendor()
    assert isinstance(vendor, PortraitDecoder)
    wlt = bytes(range(256)) * 4
    rec = record(portrait={"format": "wlt", "data": base64.b64encode(wlt).decode()})
    doc = parse_chip_record(json.dumps(rec), portrait_decoder=vendor)
    assert vendor.seen == wlt
    assert doc.portrait is not None and int(doc.portrait[0, 0, 0]) == 7


def test_require_portrait() -> None:
    rec = record()
    del rec["portrait"]
    doc = parse_chip_record(json.dumps(rec))
    assert validate_document(doc, today=TODAY, require_portrait=True).reasons == (Reason.ID_PHOTO_MISSING,)


def test_real_face_as_portrait(faces_dir: Path) -> None:
    path = next((faces_dir / "asian_celeb_nz0001na" / "sample_images").rglob("*.jpg"))
    rec = record(portrait={"format": "jpeg", "data": base64.b64encode(path.read_bytes()).decode()})
    doc, reasons = check(rec)
    assert reasons == () and doc.portrait is not None and doc.portrait.ndim == 3
