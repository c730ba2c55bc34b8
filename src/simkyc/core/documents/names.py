"""Names as simkyc accepts them, wherever they come from (API form, chip record, OCR, platform check).

A name is trimmed and NFC-normalised, must not be empty, must hold no control characters (NUL and
the like), no format characters (zero-width spaces and joiners, bidi overrides and isolates, the BOM)
and no unassigned or private-use code points, and is at most `MAX_NAME_CHARS` characters: such
characters let two different-looking names hash alike, or one name display as another.
"""

from __future__ import annotations

import unicodedata

from simkyc.errors import DocumentError, Reason

__all__ = ["MAX_NAME_CHARS", "name_problem", "validate_name"]

MAX_NAME_CHARS = 64
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def name_problem(name: str) -> str | None:
    """Why `name` is not acceptable (a short phrase), or None when it is."""
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        return "empty after trimming"
    if len(text) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    for ch in text:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return f"holds the character U+{ord(ch):04X}"
    return None


def validate_name(name: str) -> str:
    """The name trimmed and NFC-normalised, or DocumentError(NAME_INVALID)."""
    problem = name_problem(name)
    if problem is not None:
        raise DocumentError(Reason.NAME_INVALID, f"The name is not acceptable: {problem}.")
    return unicodedata.normalize("NFC", name).strip()
