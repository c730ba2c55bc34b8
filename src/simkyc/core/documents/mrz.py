"""Machine-readable zones (ICAO Doc 9303): TD1, TD2 and TD3 parsing with every check digit,
and recovery of an MRZ from noisy OCR lines.

Formats (characters per line x lines)::

    TD3 44x2  passports                 line 2: number cd nat dob cd sex exp cd optional cd composite
    TD2 36x2  ID cards, travel permits  line 2: number cd nat dob cd sex exp cd optional composite
    TD1 30x3  ID cards, residence cards line 1: code issuer number cd optional; line 2: dob cd sex
                                         exp cd nat optional composite; line 3: names
    MRV-A/B   visas, 44x2 / 36x2        as TD3/TD2 line 2 without personal-number and composite digits

Check digits use weights 7, 3, 1 over values 0-9, A-Z = 10-35, '<' = 0. OCR confuses O/0, I/1,
B/8, S/5, Z/2 and reads '<' as K or drops one of a run; `read_mrz` repairs these using each
field's type (digits only in dates and check digits, letters only in codes and names) and, for the
document number and optional data, tries the look-alikes and keeps the variant whose check
digit holds. A repaired MRZ is only accepted when every check digit passes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from simkyc.core.documents.document import DocumentKind, IdDocument
from simkyc.errors import DocumentError, Reason

__all__ = [
    "MrzFormat",
    "MrzRecord",
    "check_digit",
    "mrz_to_document",
    "parse_mrz",
    "read_mrz",
]

MrzFormat = Literal["TD1", "TD2", "TD3"]
_SHAPES: dict[MrzFormat, tuple[int, int]] = {"TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44)}
_VALID = re.compile(r"^[A-Z0-9<]+$")
_TO_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "Z": "2",
                           "S": "5", "G": "6", "B": "8", "T": "7", "<": "0"})  # fmt: skip
_TO_ALPHA = str.maketrans({"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B", "4": "A", "7": "T"})
_LOOKALIKE: dict[str, str] = {"0": "O", "O": "0D", "D": "0", "1": "I", "I": "1", "8": "B", "B": "8",
                              "5": "S", "S": "5", "2": "Z", "Z": "2", "6": "G", "G": "6",
                              "K": "<", "<": "K"}  # fmt: skip


def _value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise ValueError(ch)


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of `field` (weights 7, 3, 1 repeating, modulo 10)."""
    return str(sum(_value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


@dataclass(frozen=True, slots=True)
class MrzRecord:
    """A parsed MRZ. `checks` maps each check-digit name to whether it holds; `valid` = all hold."""

    format: MrzFormat
    document_code: str
    issuer: str
    surname: str
    given_names: str
    number: str
    nationality: str
    birth_date: dt.date | None
    sex: Literal["M", "F"] | None
    expiry_date: dt.date | None
    optional: str
    checks: dict[str, bool]
    lines: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return all(self.checks.values()) and self.birth_date is not None and self.expiry_date is not None

    @property
    def raw_birth(self) -> str:
        return self._field("dob")

    def _field(self, name: str) -> str:
        line = self.lines[1]
        if self.format == "TD1":
            return {"dob": line[0:6], "exp": line[8:14]}[name]
        return {"dob": line[13:19], "exp": line[21:27]}[name]

    def __repr__(self) -> str:
        return (
            f"MrzRecord({self.format}, code={self.document_code!r}, issuer={self.issuer!r}, "
            f"number={self.number[:2]}***, valid={self.valid})"
        )


def _date(yymmdd: str, *, today: dt.date, future: bool) -> dt.date | None:
    if not yymmdd.isdigit():
        return None
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if future:  # expiry: the century that puts it closest to today (documents run <= ~20 years)
        candidates = [1900 + yy, 2000 + yy, 2100 + yy]
        year = min(candidates, key=lambda y: abs(y - today.year))
    else:  # birth: never in the future
        year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        d = dt.date(year, mm, dd)
    except ValueError:
        return None
    if not future and d > today:
        d = d.replace(year=d.year - 100)
    return d


def _names(field: str) -> tuple[str, str]:
    field = field.rstrip("<")
    surname, _, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _sex(ch: str) -> Literal["M", "F"] | None:
    return "M" if ch == "M" else "F" if ch == "F" else None


def parse_mrz(lines: Sequence[str] | str, *, today: dt.date) -> MrzRecord:
    """Parse a clean MRZ (2 or 3 lines, or one string with newlines) and evaluate every check digit.

    The result is returned even when check digits fail (`valid` False, `checks` says which), so a
    caller can show what was read; use `read_mrz` for OCR output.

    :raises DocumentError: MRZ_FORMAT when the line count and lengths match no TD format or a
        character outside A-Z, 0-9, '<' appears.
    """
    rows = tuple(lines.split() if isinstance(lines, str) else (ln.strip() for ln in lines))
    fmt = next(
        (f for f, (n, w) in _SHAPES.items() if len(rows) == n and all(len(r) == w for r in rows)), None
    )
    if fmt is None:
        raise DocumentError(Reason.MRZ_FORMAT, f"{len(rows)} lines of lengths {[len(r) for r in rows]}")
    if not all(_VALID.match(r) for r in rows):
        raise DocumentError(Reason.MRZ_FORMAT, "characters outside A-Z, 0-9 and '<'")
    if fmt == "TD1":
        l1, l2, l3 = rows
        number, number_cd, optional1 = l1[5:14], l1[14], l1[15:30]
        if number_cd == "<" and optional1.rstrip("<"):  # long number continues in the optional field
            tail = optional1.rstrip("<")
            number, number_cd, optional1 = number + tail[:-1], tail[-1], ""
        checks = {
            "number": check_digit(number) == number_cd,
            "birth_date": check_digit(l2[0:6]) == l2[6],
            "expiry_date": check_digit(l2[8:14]) == l2[14],
            "composite": check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]) == l2[29],
        }
        surname, given = _names(l3)
        return MrzRecord(
            format=fmt,
            document_code=l1[0:2].rstrip("<"),
            issuer=l1[2:5].rstrip("<"),
            surname=surname,
            given_names=given,
            number=number.rstrip("<"),
            nationality=l2[15:18].rstrip("<"),
            birth_date=_date(l2[0:6], today=today, future=False),
            sex=_sex(l2[7]),
            expiry_date=_date(l2[8:14], today=today, future=True),
            optional=(optional1 + l2[18:29]).strip("<"),
            checks=checks,
            lines=rows,
        )
    l1, l2 = rows
    optional_end = 42 if fmt == "TD3" else 35
    checks = {
        "number": check_digit(l2[0:9]) == l2[9],
        "birth_date": check_digit(l2[13:19]) == l2[19],
        "expiry_date": check_digit(l2[21:27]) == l2[27],
    }
    visa = l1[0] == "V"  # MRV-A (44) and MRV-B (36): no personal-number or composite check digit
    if fmt == "TD3" and not visa:
        opt = l2[28:42]
        # An empty personal number may carry '<' or '0' as its check digit.
        checks["optional"] = check_digit(opt) == l2[42] or (opt == "<" * 14 and l2[42] == "<")
    if not visa:
        composite_end = 43 if fmt == "TD3" else 35
        checks["composite"] = check_digit(l2[0:10] + l2[13:20] + l2[21:composite_end]) == l2[-1]
    else:
        optional_end = len(l2)
    surname, given = _names(l1[5:])
    return MrzRecord(
        format=fmt,
        document_code=l1[0:2].rstrip("<"),
        issuer=l1[2:5].rstrip("<"),
        surname=surname,
        given_names=given,
        number=l2[0:9].rstrip("<"),
        nationality=l2[10:13].rstrip("<"),
        birth_date=_date(l2[13:19], today=today, future=False),
        sex=_sex(l2[20]),
        expiry_date=_date(l2[21:27], today=today, future=True),
        optional=l2[28:optional_end].strip("<"),
        checks=checks,
        lines=rows,
    )


# --- recovery from OCR -----------------------------------------------------------------------------


def _clean(text: str) -> str:
    t = text.upper().replace(" ", "").replace("«", "<<").replace("‹", "<").replace("〈", "<")
    return re.sub(r"[^A-Z0-9<]", "<", t)


def _fit(line: str, width: int) -> list[str]:
    """Candidate fixes of a line to `width`: pad or trim the filler at the end or inside '<' runs."""
    if len(line) == width:
        return [line]
    out: list[str] = []
    diff = width - len(line)
    if diff > 0:
        out.append(line + "<" * diff)
        for m in re.finditer(r"<+", line):
            out.append(line[: m.start()] + "<" * diff + line[m.start() :])
        for i in range(len(line) + 1):  # a dropped character anywhere (e.g. a check digit)
            if abs(diff) == 1:
                out.append(line[:i] + "<" + line[i:])
    else:
        cut = -diff
        if line.endswith("<" * cut):
            out.append(line[:width])
        for m in re.finditer(r"<+", line):
            if m.end() - m.start() > cut:
                out.append(line[: m.start()] + line[m.start() + cut :])
        out.append(line[:width])
    return list(dict.fromkeys(out))


def _typed(chars: str, kind: str) -> str:
    return chars.translate(_TO_DIGIT) if kind == "9" else chars.translate(_TO_ALPHA) if kind == "A" else chars


def _apply_types(line: str, pattern: str) -> str:
    """Force digits ('9') or letters ('A') where the format allows only those; 'x' = any."""
    return "".join(_typed(c, k) for c, k in zip(line, pattern, strict=True))


# Field types per format and line: 9 digit, A letter or '<', x alphanumeric.
_TYPES: dict[MrzFormat, tuple[str, ...]] = {
    "TD3": ("AA" + "AAA" + "A" * 39, "x" * 9 + "9" + "AAA" + "9" * 7 + "A" + "9" * 7 + "x" * 14 + "x" + "9"),
    "TD2": ("AA" + "AAA" + "A" * 31, "x" * 9 + "9" + "AAA" + "9" * 7 + "A" + "9" * 7 + "x" * 7 + "9"),
    "TD1": (
        "AA" + "AAA" + "x" * 9 + "x" + "x" * 15,
        "9" * 7 + "A" + "9" * 7 + "AAA" + "x" * 11 + "9",
        "A" * 30,
    ),
}


def _name_fillers(line: str, start: int) -> str:
    """In name fields, a K beside a '<<' and the final run of K/'<' after a '<' are filler read as K."""
    head, names = line[:start], line[start:]
    names = re.sub(r"(?<=<<)K(?=<)|(?<=<)K(?=<<)", "<", names)
    names = re.sub(r"<[K<]*$", lambda m: "<" * len(m.group()), names)
    return head + names


def _filler(line: str, start: int, end: int) -> str:
    """An optional-data field made only of K and '<' is all filler."""
    seg = line[start:end]
    if "<" in seg and seg.strip("K<") == "":
        return line[:start] + "<" * len(seg) + line[end:]
    return line


def _variants(field: str, limit: int = 64) -> Iterable[str]:
    """Look-alike substitutions of an alphanumeric field, fewest changes first."""
    yield field
    spots = [i for i, c in enumerate(field) if c in _LOOKALIKE]
    count = 0
    for k in (1, 2):
        for idx in itertools.combinations(spots, k):
            for subs in itertools.product(*(_LOOKALIKE[field[i]] for i in idx)):
                chars = list(field)
                for i, s in zip(idx, subs, strict=True):
                    chars[i] = s
                count += 1
                if count > limit:
                    return
                yield "".join(chars)


def _repair_checked(line: str, start: int, end: int, cd_at: int) -> str:
    """Make field line[start:end] agree with its check digit at cd_at by look-alike swaps."""
    field, cd = line[start:end], line[cd_at]
    for v in _variants(field):
        if check_digit(v) == cd:
            return line[:start] + v + line[end:]
    return line


def _repair(rows: tuple[str, ...], fmt: MrzFormat) -> tuple[str, ...]:
    types = _TYPES[fmt]
    if fmt != "TD1" and rows[0].startswith("V"):  # visas: everything after the expiry is optional data
        types = (types[0], types[1][:28] + "x" * (len(types[1]) - 28))
    typed = [_apply_types(r, t) for r, t in zip(rows, types, strict=True)]
    if fmt == "TD1":
        typed[0] = _filler(_repair_checked(typed[0], 5, 14, 14), 15, 30)
        typed[1] = _filler(typed[1], 18, 29)
        typed[2] = _name_fillers(typed[2], 0)
    else:
        typed[0] = _name_fillers(typed[0], 5)
        typed[1] = _repair_checked(typed[1], 0, 9, 9)
        if typed[0].startswith("V"):
            typed[1] = _filler(typed[1], 28, len(typed[1]))
        elif fmt == "TD3":
            typed[1] = _repair_checked(_filler(typed[1], 28, 42), 28, 42, 42)
        else:
            typed[1] = _filler(typed[1], 28, 35)
    return tuple(typed)


def _candidates(rows: list[str], fmt: MrzFormat) -> Iterable[tuple[str, ...]]:
    n, width = _SHAPES[fmt]
    for start in range(len(rows) - n + 1):
        window = rows[start : start + n]
        if any(abs(len(r) - width) > 8 for r in window):
            continue
        fits = [_fit(r, width)[:12] for r in window]
        for combo in itertools.product(*fits):
            yield tuple(combo)


def read_mrz(texts: Sequence[str], *, today: dt.date) -> MrzRecord:
    """Find and repair an MRZ in OCR text lines (top to bottom) and return it with every check digit passing.

    :raises DocumentError: MRZ_NOT_FOUND when no 2- or 3-line MRZ-like block is present,
        MRZ_CHECK_DIGIT when one is present but no repair makes every check digit hold.
    """

    # MRZ lines hold fillers or many digits and are upper case (OCR may still read an R as r);
    # printed captions around them are mixed case.
    def mrz_like(t: str) -> bool:
        lower = sum(c.islower() for c in t)
        return (t.count("<") >= 2 and lower <= len(t) // 5) or (
            lower == 0 and sum(c.isdigit() for c in t) >= 8
        )

    rows = [r for r in (_clean(t) for t in texts if mrz_like(t)) if len(r) >= 26]
    if not rows:
        raise DocumentError(Reason.MRZ_NOT_FOUND)
    best: MrzRecord | None = None
    longest = sorted((len(r) for r in rows), reverse=True)[:2]
    # Try the format whose width is closest to the longest lines first, so a TD2 zone is not
    # padded into a TD3 one whose empty fields happen to pass.
    order = sorted(_SHAPES, key=lambda f: sum(abs(n - _SHAPES[f][1]) for n in longest))
    for fmt in order:
        for combo in _candidates(rows, fmt):
            try:
                record = parse_mrz(_repair(combo, fmt), today=today)
            except DocumentError:
                continue
            if record.valid:
                return record
            if best is None or sum(record.checks.values()) > sum(best.checks.values()):
                best = record
    if best is None:
        raise DocumentError(Reason.MRZ_NOT_FOUND)
    failed = ", ".join(k for k, ok in best.checks.items() if not ok) or "dates"
    raise DocumentError(Reason.MRZ_CHECK_DIGIT, f"{best.format}: check failed for {failed}")


def _kind(record: MrzRecord) -> DocumentKind:
    code = record.document_code
    if code.startswith("P"):
        return "passport"
    if code.startswith("V"):
        return "visa"
    if record.issuer == "CHN" and code.startswith("C"):
        return "travel_permit"
    return "id_card"


def mrz_to_document(record: MrzRecord, *, kind: DocumentKind | None = None) -> IdDocument:
    """The `IdDocument` (source "mrz") for a parsed MRZ; the caller may override the kind."""
    name = " ".join(p for p in (record.surname, record.given_names) if p)
    return IdDocument(
        source="mrz",
        kind=kind or _kind(record),
        name=name,
        id_number=record.number,
        birth_date=record.birth_date,
        sex=record.sex,
        nationality=record.nationality,
        valid_until=record.expiry_date,
        issuer=record.issuer,
        source_reasons=() if record.valid else (Reason.MRZ_CHECK_DIGIT,),
    )
