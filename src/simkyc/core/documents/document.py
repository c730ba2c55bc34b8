"""One ID-document type whatever it was read from (chip, OCR, MRZ), and its validation.

The registration flow takes an `IdDocument` and a `DocumentCheck`; it never needs to know
whether the fields came from a certified chip reader (trusted, with a portrait), from OCR of
a card image (per-field confidences) or from a passport's MRZ (check digits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from simkyc.core.documents.id_number import IdNumber, mask_id_number
from simkyc.core.documents.names import name_problem
from simkyc.core.faces.types import Image
from simkyc.errors import DocumentError, Reason

__all__ = [
    "DEFAULT_MIN_AGE",
    "DocumentCheck",
    "DocumentKind",
    "DocumentSource",
    "IdDocument",
    "age_on",
    "validate_document",
]

DocumentSource = Literal["chip", "ocr", "mrz"]
DocumentKind = Literal[
    "resident_id",  # 居民身份证
    "passport",
    "permanent_residence",  # 外国人永久居留身份证
    "travel_permit",  # 港澳/台湾居民来往内地通行证 and similar
    "id_card",  # other TD1/TD2 identity cards
    "visa",
    "other",
]
DEFAULT_MIN_AGE = 16
Sex = Literal["M", "F"]


@dataclass(frozen=True, slots=True)
class IdDocument:
    """An identity document as read, before any decision.

    `id_number` is the full number (a resident ID number for `resident_id`, otherwise the
    document number); use `masked_number` for display. `valid_until=None` means long-term
    (长期). `confidence` holds per-field OCR confidences (empty for chip and MRZ, whose
    integrity comes from the reader's certification or from check digits).
    """

    source: DocumentSource
    kind: DocumentKind
    name: str
    id_number: str
    birth_date: dt.date | None
    sex: Sex | None
    nationality: str = "CHN"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    portrait: Image | None = field(default=None, repr=False, compare=False)
    ethnicity: str | None = None
    address: str | None = field(default=None, repr=False)
    issuer: str | None = None
    confidence: dict[str, float] = field(default_factory=dict, compare=False)
    source_reasons: tuple[Reason, ...] = ()  # what the reader itself found (e.g. an OCR cross-check)

    @property
    def masked_number(self) -> str:
        return mask_id_number(self.id_number)

    def __repr__(self) -> str:  # never the full number, name or address
        return (
            f"IdDocument(source={self.source!r}, kind={self.kind!r}, number={self.masked_number!r}, "
            f"birth_date={self.birth_date}, sex={self.sex!r}, valid_until={self.valid_until})"
        )


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """The outcome of `validate_document`: `ok` only when no reason was found.

    `needs_guardian` is set (with UNDERAGE_NEEDS_GUARDIAN in `reasons`) when the holder is under
    the minimum age; policy decides whether a guardian present makes the registration acceptable.
    """

    ok: bool
    reasons: tuple[Reason, ...]
    needs_guardian: bool
    age: int | None
    id_number: IdNumber | None = None


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on `day`."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def validate_document(
    doc: IdDocument,
    *,
    today: dt.date,
    min_age: int = DEFAULT_MIN_AGE,
    require_portrait: bool = False,
) -> DocumentCheck:
    """Check a document before any face is scanned; collects every reason rather than stopping at one.

    Resident IDs: the number must validate (GB 11643, region, birth date), and its birth date and
    sex must agree with the printed or chip fields. All kinds: not expired (`valid_until` is the
    last valid day; None = long-term), not before `valid_from`, holder at least `min_age`
    (otherwise `needs_guardian`).
    """
    reasons: list[Reason] = list(doc.source_reasons)
    parsed: IdNumber | None = None
    birth = doc.birth_date
    if doc.kind == "resident_id":
        try:
            parsed = IdNumber.parse(doc.id_number, today=today)
        except DocumentError as exc:
            reasons.append(exc.reason)
        else:
            if birth is not None and birth != parsed.birth_date:
                reasons.append(Reason.ID_FIELDS_INCONSISTENT)
            if doc.sex is not None and doc.sex != parsed.sex:
                reasons.append(Reason.ID_FIELDS_INCONSISTENT)
            birth = birth or parsed.birth_date
    if doc.valid_until is not None and doc.valid_until < today:
        reasons.append(Reason.ID_EXPIRED)
    if doc.valid_from is not None and doc.valid_from > today:
        reasons.append(Reason.ID_NOT_YET_VALID)
    if doc.valid_from is not None and doc.valid_until is not None and doc.valid_until < doc.valid_from:
        reasons.append(Reason.ID_RECORD_INVALID)
    if require_portrait and doc.portrait is None:
        reasons.append(Reason.ID_PHOTO_MISSING)
    if name_problem(doc.name) is not None:  # the same rule for the API, the chip record and OCR
        reasons.append(Reason.NAME_INVALID)
    age = age_on(birth, today) if birth is not None else None
    needs_guardian = age is not None and age < min_age
    if needs_guardian:
        reasons.append(Reason.UNDERAGE_NEEDS_GUARDIAN)
    unique = tuple(dict.fromkeys(reasons))
    return DocumentCheck(
        ok=not unique, reasons=unique, needs_guardian=needs_guardian, age=age, id_number=parsed
    )
