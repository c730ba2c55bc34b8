"""An index that follows the template change feed, so every worker searches every committed template.

`FollowedIndex` wraps any `TemplateIndex` with the feed position it reflects (`applied_seq`).
`catch_up()` applies every newer change (the last one per template wins; puts are fetched and
decrypted by the store in one batch) and saves. The service calls it before each duplicate search,
so a search never misses a template committed before the search began, whatever worker committed it;
a background follower calls it on every NOTIFY so that work is usually already done.

Like `_maintenance`, this module never touches the database: the store supplies `changes(after)`
(`simkyc.store.feed.changes_after`) and `fetch(ids)` (`simkyc.store.feed.fetch_templates`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from simkyc.search._types import Hit, IndexRecord, TemplateIndex

__all__ = ["Change", "FollowedIndex", "read_seq_file"]


class Change(Protocol):
    """One feed entry as the store gives it (`simkyc.store.feed.TemplateChange`)."""

    @property
    def seq(self) -> int: ...

    @property
    def template_id(self) -> str: ...

    @property
    def identity_key(self) -> str: ...

    @property
    def op(self) -> str: ...


Fetch = Callable[[frozenset[str]], Iterable[IndexRecord | tuple[str, str, npt.NDArray[np.float32]]]]


def read_seq_file(path: Path) -> int | None:
    """The feed position saved beside an index file, or None when absent or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class FollowedIndex:
    """A `TemplateIndex` (by delegation) that knows which feed position it reflects.

    `seq_file`, when given, records `applied_seq` after each save (written after the index, so it
    never claims more than the index holds), letting a restarted worker resume from there.
    """

    def __init__(
        self,
        index: TemplateIndex,
        *,
        changes: Callable[[int], Sequence[Change]],
        fetch: Fetch,
        applied_seq: int,
        seq_file: Path | None = None,
        persist: bool = True,
        model_name: str | None = None,
    ) -> None:
        self.index = index
        self.model_name = model_name  # the generation this index holds (None: every change)
        self._changes = changes
        self._fetch = fetch
        self._applied = applied_seq
        self._seq_file = seq_file
        self._persist = persist
        self._lock = threading.Lock()
        self.last_catch_up = time.time()
        self.applied_total = 0

    # -- the feed -----------------------------------------------------------------------------------
    @property
    def applied_seq(self) -> int:
        return self._applied

    def catch_up(self) -> int:
        """Apply every change newer than `applied_seq`; returns how many changes were read."""
        with self._lock:
            total = 0
            while True:
                batch = self._changes(self._applied)
                if not batch:
                    break
                self._apply(batch)
                self._applied = batch[-1].seq
                total += len(batch)
            if total:
                self.applied_total += total
                self._save()
            self.last_catch_up = time.time()
            return total

    def _apply(self, batch: Sequence[Change]) -> None:
        last: dict[str, Change] = {}
        for change in batch:
            generation = getattr(change, "model_name", None)  # the store's TemplateChange carries it
            if self.model_name is not None and generation not in (None, self.model_name):
                continue  # another embedder's template: another generation's index
            last[change.template_id] = change
        for key, change in last.items():
            if change.op == "del":
                self.index.remove(key)
        puts = frozenset(k for k, c in last.items() if c.op == "put")
        if puts:
            # A put whose template is gone by now was deleted later: that change follows in the feed.
            self.index.add_many(IndexRecord(str(r[0]), str(r[1]), r[2]) for r in self._fetch(puts))

    def _save(self) -> None:
        if not self._persist:
            return
        self.index.save()
        if self._seq_file is not None:
            tmp = self._seq_file.with_name(self._seq_file.name + ".tmp")
            tmp.write_text(str(self._applied))
            os.replace(tmp, self._seq_file)

    # -- TemplateIndex, delegated -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.index.name

    @property
    def dim(self) -> int:
        return self.index.dim

    @property
    def key_id(self) -> str:
        return self.index.key_id

    def add(self, template_id: str, identity_key: str, template: npt.NDArray[np.float32]) -> None:
        self.index.add(template_id, identity_key, template)

    def add_many(self, records: Iterable[IndexRecord]) -> int:
        return self.index.add_many(records)

    def remove(self, template_id: str) -> bool:
        return self.index.remove(template_id)

    def search(self, template: npt.NDArray[np.float32], k: int = 10) -> list[Hit]:
        return self.index.search(template, k)

    def count(self) -> int:
        return self.index.count()

    def ids(self) -> set[str]:
        return self.index.ids()

    def clear(self) -> None:
        self.index.clear()

    def save(self) -> None:
        with self._lock:
            self._save()
