"""Keeping an index equal to the database: consistency check at start, repair, full rebuild.

The database (owned by `simkyc.store`) is the truth: it holds every active
subscriber's template encrypted. The index is a disposable, protected copy.
These functions take what the store supplies (expected ids; decrypted records)
and never touch the database themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from simkyc.search._types import IndexRecord, TemplateIndex

__all__ = ["ConsistencyReport", "check_consistency", "rebuild", "reconcile"]

_SAMPLE = 5


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    """How an index differs from the set of template ids the database says are active."""

    expected: int
    indexed: int
    missing: frozenset[str]  # in the database, not in the index
    extra: frozenset[str]  # in the index, not (or no longer) in the database

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra

    def summary(self) -> str:
        """One line for logs: counts and a few template ids (ids are database keys, not biometrics)."""
        if self.ok:
            return f"consistent: {self.indexed} templates"
        miss = ", ".join(sorted(self.missing)[:_SAMPLE])
        extra = ", ".join(sorted(self.extra)[:_SAMPLE])
        return (
            f"inconsistent: database {self.expected}, index {self.indexed}; "
            f"missing {len(self.missing)} [{miss}], extra {len(self.extra)} [{extra}]"
        )


def check_consistency(index: TemplateIndex, expected_ids: Iterable[str]) -> ConsistencyReport:
    """Compare the index's ids with the database's active template ids."""
    expected = {str(i) for i in expected_ids}
    held = index.ids()
    return ConsistencyReport(
        expected=len(expected),
        indexed=len(held),
        missing=frozenset(expected - held),
        extra=frozenset(held - expected),
    )


def rebuild(index: TemplateIndex, records: Iterable[IndexRecord | tuple[str, str, object]]) -> int:
    """Empty the index, add every record (raw templates; the index protects them), save.

    Used after a key rotation (the index was opened under the new key) or when the
    index file is lost or damaged. Returns how many templates were indexed.
    """
    index.clear()
    added = index.add_many(IndexRecord(str(r[0]), str(r[1]), r[2]) for r in records)  # type: ignore[arg-type]
    index.save()
    return added


def reconcile(
    index: TemplateIndex,
    expected_ids: Iterable[str],
    fetch: Callable[[frozenset[str]], Iterable[IndexRecord | tuple[str, str, object]]],
) -> ConsistencyReport:
    """Repair small differences at start: add the missing templates, remove the extra ones, save.

    `fetch(ids)` is supplied by the store and yields the decrypted records of those ids.
    Returns the report from before the repair (what was fixed).
    """
    report = check_consistency(index, expected_ids)
    if report.ok:
        return report
    for template_id in report.extra:
        index.remove(template_id)
    if report.missing:
        index.add_many(IndexRecord(str(r[0]), str(r[1]), r[2]) for r in fetch(report.missing))  # type: ignore[arg-type]
    index.save()
    return report
