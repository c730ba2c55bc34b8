"""What one running app holds: settings, the database engine, keys, session signer, limits, metrics.

Built once by `create_app` and kept on `app.state.ctx`; routes reach it through `api.deps`.
Heavy objects (the face pipeline, the OCR engine) are built on first use, never at import.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event

from simkyc.api.audit_batch import AuditBatcher
from simkyc.api.capture import CaptureSessions, PortraitCache
from simkyc.api.middleware import ApiMetrics
from simkyc.config import Settings
from simkyc.service.auth import ApiKeyVerifier, RateLimiter, SessionSigner
from simkyc.store.crypto import KeyRing
from simkyc.store.uow import Database

if TYPE_CHECKING:
    from simkyc.api.platform_lookup import PlatformLookup
    from simkyc.service.liveness import LivenessModels
    from simkyc.service.registration import RegistrationDeps

__all__ = ["AppContext", "build_context", "derive_key"]


def read_only_engine(engine: Engine) -> Engine:
    """An engine for reads that never takes SQLite's write lock.

    The store's engine begins every SQLite transaction with `BEGIN IMMEDIATE` (right for use cases
    that read then write). Pure reads, such as the platform check, would then queue behind every
    writer and sleep in SQLite's busy handler; in WAL mode a plain deferred read never waits.
    PostgreSQL reads do not block, so its engine is shared as is.
    """
    if engine.dialect.name != "sqlite":
        return engine
    ro = create_engine(engine.url, connect_args={"timeout": 60, "check_same_thread": False}, pool_size=8)

    @event.listens_for(ro, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    return ro


def derive_key(keys: KeyRing, purpose: str) -> bytes:
    """A purpose-bound 32-byte key derived from the (never rotated) lookup key."""
    return hmac.new(keys.lookup, f"simkyc/{purpose}/v1".encode(), hashlib.sha256).digest()


@dataclass
class AppContext:
    """The app's long-lived collaborators (one per process)."""

    settings: Settings
    db: Database
    read_db: Database  # same data; reads that must never wait for a writer (platform check, pages)
    signer: SessionSigner
    api_keys: ApiKeyVerifier
    platform_limiter: RateLimiter
    metrics: ApiMetrics
    platform_audit: AuditBatcher
    clock: Callable[[], float] = time.time
    captures: CaptureSessions = field(default_factory=CaptureSessions)
    models_lock: threading.Lock = field(default_factory=threading.Lock)
    ocr_portraits: PortraitCache = field(default_factory=PortraitCache)
    _lazy: dict[str, Any] = field(default_factory=dict)
    _lazy_lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def read_engine(self) -> Engine:
        return self.read_db.engine

    def read_deps(self) -> RegistrationDeps:
        """Registration deps on the read-only engine, for read-only use cases (the platform check)."""
        return self.lazy("read_deps", lambda: replace(self.registration_deps(), db=self.read_db))  # type: ignore[no-any-return]

    def platform_lookup(self) -> PlatformLookup:
        """The platform check's read path on the read-only engine."""
        from simkyc.api.platform_lookup import PlatformLookup

        return self.lazy("platform_lookup", lambda: PlatformLookup(self.read_deps(), self.keys))  # type: ignore[no-any-return]

    @property
    def keys(self) -> KeyRing:
        return self.db.keys

    @property
    def max_image_bytes(self) -> int:
        return int(self.settings.max_image_mb * 1024 * 1024)

    def lazy(self, name: str, build: Callable[[], Any]) -> Any:
        """Build `name` once on first use (thread-safe), then reuse it."""
        if name not in self._lazy:
            with self._lazy_lock:
                if name not in self._lazy:
                    self._lazy[name] = build()
        return self._lazy[name]

    def registration_deps(self) -> RegistrationDeps:
        """The registration use cases' collaborators on this app's database; models load on first use."""
        return self.lazy("registration_deps", self._build_registration_deps)  # type: ignore[no-any-return]

    def _build_registration_deps(self) -> RegistrationDeps:
        from simkyc import bootstrap
        from simkyc.service.registration import RegistrationDeps

        return RegistrationDeps(
            db=self.db,
            policy=bootstrap.policy(),
            thresholds=bootstrap.registration_thresholds,
            faces=bootstrap.face_pipeline,
            liveness=bootstrap.registration_liveness,
            index=lambda: self.lazy("index", self._build_index),
            # the liveness lockout; its state is in the database, so every process shares it
            lockout=bootstrap.lockout_config(self.settings),
        )

    def _build_index(self) -> Any:
        from simkyc.search import SearchSettings, open_index, reconcile
        from simkyc.service.registration import template_records

        search = SearchSettings(
            index_dir=self.settings.home / "index", key_file=self.settings.home / "search.key"
        )
        index = open_index(search)
        ids, fetch = template_records(self.db)
        reconcile(index, ids, fetch)
        return index

    def liveness_models(self) -> LivenessModels:
        """The shared liveness models (BlazeFace, FaceMesh, the embedder for the same-face check)."""
        return self.lazy("liveness_models", _build_liveness_models)  # type: ignore[no-any-return]


def _build_liveness_models() -> LivenessModels:
    from simkyc import bootstrap
    from simkyc.service.liveness import LivenessModels

    factory = getattr(bootstrap, "liveness_models", None)
    if callable(factory):
        models: LivenessModels = factory()
        return models
    return LivenessModels.load(embedder=bootstrap.base_embedder())


def build_context(settings: Settings, *, db: Database) -> AppContext:
    """Wire the context from settings and an open database (engine + key ring)."""
    keys = db.keys
    read_db = Database(engine=read_only_engine(db.engine), keys=keys)
    return AppContext(
        settings=settings,
        db=db,
        read_db=read_db,
        signer=SessionSigner(key=derive_key(keys, "session"), ttl=settings.session_minutes * 60.0),
        api_keys=ApiKeyVerifier(engine=read_db.engine, pepper=derive_key(keys, "api-key")),
        platform_limiter=RateLimiter(rate=settings.platform_rate_per_s, burst=settings.platform_burst),
        metrics=ApiMetrics(),
        platform_audit=AuditBatcher(db),
    )
