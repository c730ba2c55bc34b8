"""Chip-reader records: the JSON a certified ID-card reader's driver hands to simkyc.

A second-generation resident ID card's chip holds the GA/T 490 fields. simkyc does not talk to
the reader; the outlet's reader software writes one JSON object per read::

    {
      "format": "simkyc-chip-record/1",
      "name": "张三",                     # 姓名
      "sex": "1",                         # GB/T 2261.1: "1" male, "2" female (or "男"/"女", "M"/"F")
      "ethnicity": "01",                  # GB 3304 code (or the name, "汉")
      "birth_date": "19491231",           # YYYYMMDD (YYYY-MM-DD also accepted)
      "address": "北京市朝阳区...",        # 住址
      "id_number": "11010519491231002X",  # 公民身份号码
      "issuer": "北京市公安局朝阳分局",     # 签发机关
      "valid_from": "20150101",           # 有效期起始日期
      "valid_until": "20350101",          # 有效期截止日期, or "长期" (long-term)
      "portrait": {"format": "jpeg", "data": "<base64>"}   # jpeg | png | bmp | wlt
    }

The chip stores the photo as a 1 KB "WLT" file in a licensed compressed format that only the
reader vendor's library decodes. Readers usually also deliver the decoded BMP: send that as
"bmp". To accept raw WLT, pass a `PortraitDecoder` (an adapter around the vendor's library) to
`parse_chip_record`; without one a WLT portrait is refused with PORTRAIT_UNAVAILABLE.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from simkyc.core.documents.document import IdDocument
from simkyc.core.faces.types import Image
from simkyc.core.images import decode_image
from simkyc.errors import DocumentError, InputError, Reason

__all__ = [
    "CHIP_FORMAT",
    "ETHNICITIES",
    "PortraitDecoder",
    "chip_record_json",
    "ethnicity_name",
    "parse_chip_record",
]

CHIP_FORMAT = "simkyc-chip-record/1"
LONG_TERM = ("长期", "long-term", "longterm", "LONG-TERM", "99991231")

# GB 3304-1991 codes of the 56 ethnic groups.
_ETHNIC_NAMES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 "
    "傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 "
    "毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
)
ETHNICITIES: dict[str, str] = {f"{i:02d}": n for i, n in enumerate(_ETHNIC_NAMES.split(" "), start=1)} | {
    "97": "其他",
    "98": "外国血统中国籍人士",
}

_MAGIC = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",), "bmp": (b"BM",)}
_REQUIRED = ("name", "sex", "birth_date", "id_number", "valid_from", "valid_until")


@runtime_checkable
class PortraitDecoder(Protocol):
    """Adapter for the reader vendor's licensed WLT decoder: 1 KB WLT bytes -> RGB image."""

    def decode_wlt(self, data: bytes) -> Image:
        """Decode the chip's compressed portrait (102x126 px on a second-generation card)."""
        ...


def _invalid(message: str) -> DocumentError:
    return DocumentError(Reason.ID_RECORD_INVALID, message)


def _date(value: object, field_name: str) -> dt.date:
    text = str(value).strip().replace("-", "").replace(".", "")
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise _invalid(f"{field_name} is not a date (YYYYMMDD)") from None


def _sex(value: object) -> str:
    text = str(value).strip().upper()
    if text in ("1", "男", "M", "MALE"):
        return "M"
    if text in ("2", "女", "F", "FEMALE"):
        return "F"
    raise _invalid("sex must be '1'/'2' (GB/T 2261.1), '男'/'女' or 'M'/'F'")


def _ethnicity(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text in ETHNICITIES:
        return ETHNICITIES[text]
    name = text.removesuffix("族") if text not in ("其他",) else text
    if name in ETHNICITIES.values():
        return name
    raise _invalid("ethnicity is not a GB 3304 code or name")


def ethnicity_name(value: object) -> str | None:
    """A GB 3304 code ("01") or name ("汉", "汉族") as the name; None when empty.

    :raises DocumentError: ID_RECORD_INVALID for anything else.
    """
    return _ethnicity(value)


def _portrait(value: object, decoder: PortraitDecoder | None) -> Image | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid("portrait must be an object {format, data}")
    fmt = str(value.get("format", "")).lower().replace("jpg", "jpeg")
    try:
        data = base64.b64decode(str(value.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("portrait data is not base64") from None
    if not data:
        raise DocumentError(Reason.ID_PHOTO_MISSING, "the portrait is empty")
    if fmt == "wlt":
        if decoder is None:
            raise DocumentError(
                Reason.PORTRAIT_UNAVAILABLE,
                "the portrait is in the chip's WLT format: configure the reader vendor's decoder "
                "(PortraitDecoder) or have the reader deliver the decoded BMP",
            )
        return decoder.decode_wlt(data)
    if fmt not in _MAGIC:
        raise _invalid("portrait format must be jpeg, png, bmp or wlt")
    if not data.startswith(_MAGIC[fmt]):
        raise _invalid(f"portrait bytes are not {fmt}")
    try:
        return decode_image(data, max_pixels=4_000_000)
    except InputError as exc:
        raise DocumentError(
            Reason.ID_PHOTO_MISSING, f"the portrait cannot be decoded ({exc.reason})"
        ) from None


def parse_chip_record(
    record: Mapping[str, object] | str | bytes,
    *,
    portrait_decoder: PortraitDecoder | None = None,
) -> IdDocument:
    """Turn one reader record (a mapping or its JSON text) into an `IdDocument` with source "chip".

    Only the record's shape is checked here; whether its fields agree with each other (number vs
    birth date and sex), expiry and age are `validate_document`'s job, so one call reports all.

    :raises DocumentError: ID_RECORD_INVALID (not JSON, wrong format tag, a field missing or
        malformed) or ID_PHOTO_MISSING (portrait present but unusable).
    """
    if isinstance(record, str | bytes):
        try:
            loaded = json.loads(record)
        except (ValueError, UnicodeDecodeError):
            raise _invalid("the record is not JSON") from None
        if not isinstance(loaded, dict):
            raise _invalid("the record must be a JSON object")
        record = loaded
    fmt = record.get("format", CHIP_FORMAT)
    if fmt != CHIP_FORMAT:
        raise _invalid(f"unknown record format (expected {CHIP_FORMAT!r})")
    missing = [k for k in _REQUIRED if not str(record.get(k) or "").strip()]
    if missing:
        raise _invalid(f"missing field(s): {', '.join(missing)}")
    until_raw = str(record["valid_until"]).strip()
    valid_until = None if until_raw in LONG_TERM else _date(until_raw, "valid_until")
    sex = _sex(record["sex"])
    return IdDocument(
        source="chip",
        kind="resident_id",
        name=str(record["name"]).strip(),
        id_number=str(record["id_number"]).strip().upper(),
        birth_date=_date(record["birth_date"], "birth_date"),
        sex="M" if sex == "M" else "F",
        nationality="CHN",
        valid_from=_date(record["valid_from"], "valid_from"),
        valid_until=valid_until,
        portrait=_portrait(record.get("portrait"), portrait_decoder),
        ethnicity=_ethnicity(record.get("ethnicity")),
        address=str(record.get("address") or "").strip() or None,
        issuer=str(record.get("issuer") or "").strip() or None,
    )


def chip_record_json(
    *,
    name: str,
    sex: str,
    birth_date: dt.date,
    id_number: str,
    valid_from: dt.date,
    valid_until: dt.date | None,
    ethnicity: str = "01",
    address: str = "",
    issuer: str = "",
    portrait: tuple[str, bytes] | None = None,
) -> str:
    """Write a record in the documented format (for reader adapters, fixtures and examples)."""
    out: dict[str, object] = {
        "format": CHIP_FORMAT,
        "name": name,
        "sex": sex,
        "ethnicity": ethnicity,
        "birth_date": birth_date.strftime("%Y%m%d"),
        "address": address,
        "id_number": id_number,
        "issuer": issuer,
        "valid_from": valid_from.strftime("%Y%m%d"),
        "valid_until": "长期" if valid_until is None else valid_until.strftime("%Y%m%d"),
    }
    if portrait is not None:
        out["portrait"] = {"format": portrait[0], "data": base64.b64encode(portrait[1]).decode("ascii")}
    return json.dumps(out, ensure_ascii=False, indent=2)
