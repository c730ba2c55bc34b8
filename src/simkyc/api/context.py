"""What one running app holds: settings, the database engine, keys, session signer, limits, metrics.

Built once by `create_app` and kept on `app.state.ctx`; routes reach it through `api.deps`.
Heavy objects (the face pipeline, the OCR engine, the 1:N index) are built on first use, never at
import. With `SIMKYC_REDIS_URL` the small shared state (captures, platform rate limits, OCR
portraits) lives in Redis, so any number of workers behave as one (`simkyc.api.shared_state`).
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
from simkyc.api.capture import CaptureSessions, PortraitCache, PortraitStore
from simkyc.api.capture_store import CaptureStore, MemoryCaptureStore, RedisCaptureStore
from simkyc.api.index_feed import IndexFeed
from simkyc.api.middleware import ApiMetrics
from simkyc.config import Settings
from simkyc.core.liveness import LivenessSession
from simkyc.core.liveness.challenge import Challenge
from simkyc.service.auth import ApiKeyVerifier, RateLimiter, SessionSigner
from simkyc.service.sessions import SessionStore, SignInThrottle
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
    platform_limiter: RateLimiter  # or simkyc.api.shared_state.RedisRateLimiter (same contract)
    metrics: ApiMetrics
    platform_audit: AuditBatcher
    clock: Callable[[], float] = time.time
    capture_store: CaptureStore = field(default_factory=MemoryCaptureStore)
    models_lock: threading.Lock = field(default_factory=threading.Lock)
    ocr_portraits: PortraitStore = field(default_factory=PortraitCache)
    redis: Any = None  # the Redis client when SIMKYC_REDIS_URL is set
    captures: CaptureSessions = field(init=False)
    index_feed: IndexFeed = field(init=False)
    older_index_feeds: dict[str, IndexFeed] = field(init=False)  # earlier embedders' templates (issue 13)
    _lazy: dict[str, Any] = field(default_factory=dict)
    _lazy_lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.captures = CaptureSessions(
            self.capture_store,
            new_session=self.new_liveness_session,
            models_lock=self.models_lock,
            max_open=self.settings.max_open_captures,
            clock=self.clock,
        )
        from simkyc import bootstrap

        name, dim = bootstrap.current_generation()
        self.index_feed = IndexFeed(self.db, self.settings, model_name=name, dim=dim)
        self.older_index_feeds = {
            old: IndexFeed(self.db, self.settings, model_name=old, dim=old_dim)
            for old, old_dim in bootstrap.older_generations()
        }

    def index_feeds(self) -> list[IndexFeed]:
        """Every generation's followed index: the current embedder's first."""
        return [self.index_feed, *self.older_index_feeds.values()]

    def new_liveness_session(self, challenge: Challenge) -> LivenessSession:
        """A live session for `challenge` on the shared models (loaded on first use)."""
        models = self.liveness_models()
        return LivenessSession(challenge, analyzer=models.analyzer(), embedder=models.embedder)

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
    def sessions(self) -> SessionStore:
        """Staff sessions in the database (sign-outs and account changes hold on every process)."""
        return self.lazy(  # type: ignore[no-any-return]
            "sessions", lambda: SessionStore(engine=self.db.engine, read_engine=self.read_db.engine)
        )

    @property
    def throttle(self) -> SignInThrottle:
        """Growing sign-in delays per account, address and pair, counted in the database."""
        return self.lazy(  # type: ignore[no-any-return]
            "throttle", lambda: SignInThrottle(pepper=derive_key(self.keys, "sign-in"))
        )

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
        from simkyc.service.registration import CaptureLimits, RegistrationDeps

        return RegistrationDeps(
            db=self.db,
            policy=bootstrap.policy_at(self.settings.policy_file),
            thresholds=bootstrap.registration_thresholds,
            faces=bootstrap.face_pipeline,
            liveness=bootstrap.registration_liveness,
            # every committed template, whichever worker committed it (the change feed)
            index=self.index_feed.current,
            # templates of earlier embedders, compared like with like until re-enrolled (issue 13)
            older=tuple(
                replace(generation, index=self.older_index_feeds[generation.model_name].current)
                for generation in bootstrap.older_face_generations()
                if generation.model_name in self.older_index_feeds
            ),
            # the liveness lockout; its state is in the database, so every process shares it
            lockout=bootstrap.lockout_config(self.settings),
            # open captures per clerk and per outlet, counted in the database (issue 14)
            limits=CaptureLimits(
                per_clerk=self.settings.captures_per_clerk, per_outlet=self.settings.captures_per_outlet
            ),
        )

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
    shared: dict[str, Any] = {}
    limiter: Any = RateLimiter(rate=settings.platform_rate_per_s, burst=settings.platform_burst)
    if settings.redis_url:
        from simkyc.api.shared_state import RedisPortraits, RedisRateLimiter, connect_redis

        client = connect_redis(settings.redis_url)
        prefix = settings.redis_prefix
        limiter = RedisRateLimiter(
            client, prefix=prefix, rate=settings.platform_rate_per_s, burst=settings.platform_burst
        )
        shared = {
            "redis": client,
            "capture_store": RedisCaptureStore(client, prefix=prefix, keys=keys),
            "ocr_portraits": RedisPortraits(client, prefix=prefix, keys=keys),
        }
    return AppContext(
        settings=settings,
        db=db,
        read_db=read_db,
        signer=SessionSigner(key=derive_key(keys, "session"), ttl=settings.session_minutes * 60.0),
        api_keys=ApiKeyVerifier(engine=read_db.engine, pepper=derive_key(keys, "api-key")),
        platform_limiter=limiter,
        metrics=ApiMetrics(),
        platform_audit=AuditBatcher(db),
        **shared,
    )
