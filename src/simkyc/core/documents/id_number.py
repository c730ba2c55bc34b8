"""Resident identity numbers (GB 11643-1999): parse, validate, convert 15 -> 18 digits, mask.

Layout of the 18 characters::

    110105 19491231 002 X
    region birth    seq check      seq odd = male, even = female; check = ISO 7064 MOD 11-2

Legacy 15-digit numbers (issued before 1999) drop the century ("49" for 1949) and the check
character; `to_18` restores both (the century is 19, as on every card that carries one).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from simkyc.core.documents.regions import Region, RegionTable, default_regions
from simkyc.errors import DocumentError, Reason

__all__ = ["IdNumber", "check_character", "mask_id_number", "to_18"]

Sex = Literal["M", "F"]

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK = "10X98765432"
_RE18 = re.compile(r"^\d{17}[\dX]$")
_RE15 = re.compile(r"^\d{15}$")


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits ('0'-'9' or 'X')."""
    if len(first17) != 17 or not first17.isdigit():
        raise DocumentError(Reason.ID_NUMBER_FORMAT, "the check character needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def _normalise(text: str) -> str:
    # Full-width digits and a lower-case x come from keyboards and OCR; spaces from copy-paste.
    table = str.maketrans("０１２３４５６７８９ｘＸx", "0123456789XXX")
    return re.sub(r"[\s\-]", "", text.translate(table))


def to_18(number15: str) -> str:
    """Convert a legacy 15-digit number: insert the century '19', append the check character."""
    digits = _normalise(number15)
    if not _RE15.match(digits):
        raise DocumentError(Reason.ID_NUMBER_FORMAT, "a legacy ID number has exactly 15 digits")
    first17 = digits[:6] + "19" + digits[6:]
    return first17 + check_character(first17)


def mask_id_number(text: str) -> str:
    """Mask for display and logs: region and the last four kept (`110105********002X`).

    Works on any string so that even an invalid number is never shown in full.
    """
    s = _normalise(text)
    if len(s) <= 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A validated 18-character resident ID number.

    `str()` and `repr()` show only the masked form, so a number never lands in a log by accident;
    use `.value` where the full number is needed (storage, lookups).
    """

    value: str
    birth_date: dt.date
    sex: Sex
    region: Region
    converted_from_15: bool = False

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        today: dt.date | None = None,
        regions: RegionTable | None = None,
    ) -> IdNumber:
        """Validate an 18- or 15-character number and return its parts.

        :param today: the reference day for "birth date not in the future" (default: `date.today()`;
            pass it explicitly in services so decisions are reproducible).
        :param regions: the GB/T 2260 table (default: the one shipped with simkyc).
        :raises DocumentError: ID_NUMBER_FORMAT, ID_NUMBER_CHECKSUM, ID_NUMBER_BIRTH_DATE or
            ID_NUMBER_REGION; the message never contains the full number.
        """
        s = _normalise(text)
        converted = False
        if _RE15.match(s):
            s = to_18(s)
            converted = True
        if not _RE18.match(s):
            raise DocumentError(
                Reason.ID_NUMBER_FORMAT,
                f"expected 18 characters (17 digits and a digit or X) or 15 digits, got {len(s)} characters",
            )
        expected = check_character(s[:17])
        if s[17] != expected:
            raise DocumentError(
                Reason.ID_NUMBER_CHECKSUM, f"the check character of {mask_id_number(s)} is wrong"
            )
        try:
            birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        except ValueError:
            raise DocumentError(
                Reason.ID_NUMBER_BIRTH_DATE, "the birth date in the number is not a calendar date"
            ) from None
        ref = today or dt.date.today()
        if birth > ref:
            raise DocumentError(Reason.ID_NUMBER_BIRTH_DATE, "the birth date in the number is in the future")
        if birth.year < 1880:
            raise DocumentError(Reason.ID_NUMBER_BIRTH_DATE, "the birth date in the number is before 1880")
        table = regions if regions is not None else default_regions()
        region = table.get(s[:6])
        if region is None:
            raise DocumentError(
                Reason.ID_NUMBER_REGION, f"region code {s[:6]} is in no GB/T 2260 revision since 1980"
            )
        sex: Sex = "M" if int(s[16]) % 2 == 1 else "F"
        return cls(value=s, birth_date=birth, sex=sex, region=region, converted_from_15=converted)

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)

    def age_on(self, day: dt.date) -> int:
        """Completed years on `day` (a 29 February birthday counts from 1 March in common years)."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"IdNumber({self.masked!r}, sex={self.sex!r}, region={self.region.code!r})"
