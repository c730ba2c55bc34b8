"""This worker's 1:N index and the follower that keeps it equal to the database.

At first use the index is opened from this worker's own directory (`$SIMKYC_HOME/index`, or
`index/<worker>` under `serve --workers`: two processes never write one file), repaired against the
database's template ids, and brought to the feed's head from the position saved beside it. After
that `current()` (called by the service before every duplicate search) applies what other workers
committed since, and the follower thread does the same as soon as PostgreSQL NOTIFYs a change (SQLite:
every `poll_s`), so a search rarely has anything left to apply. Feed rows older than `keep_days` are
pruned by whichever worker gets there first.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simkyc.config import Settings
from simkyc.search import (
    FollowedIndex,
    SearchSettings,
    generation_settings,
    open_index,
    read_seq_file,
    reconcile,
)
from simkyc.store import feed
from simkyc.store.uow import Database

__all__ = ["IndexFeed"]

_log = logging.getLogger(__name__)


class IndexFeed:
    """The followed index of one worker (built on first use) and its background follower."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        poll_s: float = 0.5,
        keep_days: float = 7.0,
        model_name: str | None = None,
        dim: int | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        # one embedder's templates (a generation, issue 13) in their own index; None: every template
        self.model_name = model_name
        self.dim = dim
        self.poll_s = poll_s
        self.keep_days = keep_days
        self._index: FollowedIndex | None = None
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    @property
    def index_dir(self) -> Path:
        base = self.settings.home / "index"
        return base / self.settings.worker_name if self.settings.worker_name else base

    def index(self) -> FollowedIndex:
        """The index, opened, repaired and caught up on first use."""
        if self._index is None:
            with self._build_lock:
                if self._index is None:
                    self._index = self._build()
        return self._index

    def current(self) -> FollowedIndex:
        """The index with every change committed before this call applied (before a search)."""
        index = self.index()
        index.catch_up()
        return index

    @property
    def loaded(self) -> FollowedIndex | None:
        return self._index

    def _build(self) -> FollowedIndex:
        engine = self.db.engine
        search = SearchSettings(index_dir=self.index_dir, key_file=self.settings.home / "search.key")
        if self.model_name is not None:
            search = generation_settings(search, self.model_name, self.dim or search.dim)
        model = self.model_name

        def fetch(ids: frozenset[str]) -> list[tuple[str, str, Any]]:
            return list(feed.fetch_templates(self.db, ids, model_name=model))

        head = feed.feed_head(engine)  # before the repair: changes after it are applied (again) below
        index = open_index(search, discard_stale=model is not None)
        report = reconcile(index, feed.template_ids(self.db, model_name=model), fetch)
        if not report.ok:
            _log.warning("search index repaired at start: %s", report.summary())
        seq_file = search.resolved_index_dir() / "feed.seq"
        saved = read_seq_file(seq_file)
        oldest = feed.oldest_seq(engine)
        if saved is not None and oldest is not None and saved < oldest - 1:
            _log.warning(
                "the index was saved at feed position %d, older than the feed keeps (%d)", saved, oldest
            )
        followed = FollowedIndex(
            index,
            changes=lambda after: feed.changes_after(engine, after),
            fetch=fetch,
            applied_seq=min(saved, head) if saved is not None else head,
            seq_file=seq_file,
            model_name=model,
        )
        followed.catch_up()
        return followed

    # -- the follower ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the index now and follow the feed in a daemon thread (`simkyc serve`)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="simkyc-index-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        listener: feed.FeedListener | None = None
        while not self._stop.is_set():
            try:
                self.index().catch_up()
                if listener is None:
                    listener = feed.listener(self.db.engine)
                self._maybe_prune()
                if listener is not None:
                    listener.wait(1.0)
                else:
                    self._stop.wait(self.poll_s)
            except Exception:  # the database went away: retry; searches still catch up themselves
                _log.exception("index follower: catching up failed; retrying")
                if listener is not None:
                    try:
                        listener.close()
                    except Exception:
                        _log.debug("closing the listener failed", exc_info=True)
                    listener = None
                self._stop.wait(1.0)
        if listener is not None:
            listener.close()

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < 3600:
            return
        self._last_prune = now
        gone = feed.prune(self.db.engine, before=datetime.now(UTC) - timedelta(days=self.keep_days))
        if gone:
            _log.info("template feed: pruned %d rows older than %s days", gone, self.keep_days)

    # -- readiness ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Where this worker's index stands against the feed (for /readyz and the benchmarks)."""
        head = feed.feed_head(self.db.engine)
        index = self._index
        if index is None:
            return {"loaded": False, "head_seq": head}
        return {
            "loaded": True,
            "applied_seq": index.applied_seq,
            "head_seq": head,
            "behind": max(0, head - index.applied_seq),
            "templates": index.count(),
            "since_catch_up_s": round(time.time() - index.last_catch_up, 3),
        }
