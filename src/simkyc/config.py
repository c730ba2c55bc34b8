"""Settings from the environment (prefix `SIMKYC_`), built on demand by `get_settings()`, never at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


def _default_home() -> Path:
    return Path.home() / ".simkyc"


class Settings(BaseSettings):
    """Where simkyc keeps its state and how it runs.

    `home` holds the SQLite database, the local 1:N index, keys (unless given by
    environment) and the model cache (converted ONNX files).
    """

    model_config = SettingsConfigDict(env_prefix="SIMKYC_", env_ignore_empty=True, extra="ignore")

    home: Path = _default_home()
    cache_dir: Path | None = None
    # storage (issue 5): SQLite file under `home` unless a SQLAlchemy URL is given,
    # e.g. SIMKYC_DATABASE_URL=postgresql+psycopg://user@host:5432/simkyc
    database_url: str | None = None
    # keys (issue 5): a JSON key ring in SIMKYC_KEYS (wins), else the file `key_file`
    # (default `home`/keys.json, created 0600 on first use); see simkyc.store.crypto
    keys: str | None = None
    key_file: Path | None = None
    # policy (issue 5): a TOML file replacing the shipped src/simkyc/data/policy.toml
    policy_file: Path | None = None
    # service (issue 7): `simkyc serve` address, session length, size caps, platform-key rate limit,
    # and the liveness lockout (N failures for one ID within the window lock it for `lockout_minutes`)
    host: str = "127.0.0.1"
    port: int = 8000
    session_minutes: float = 30.0
    max_request_mb: float = 24.0
    max_image_mb: float = 8.0
    platform_rate_per_s: float = 50.0
    platform_burst: float = 100.0
    lockout_failures: int = 5
    lockout_window_minutes: float = 10.0
    lockout_minutes: float = 30.0
    # issue 14: open captures (registrations, re-verifications, presence checks) per clerk and per
    # outlet, counted in the database so every process agrees
    captures_per_clerk: int = 3
    captures_per_outlet: int = 12
    # tests and demos only: a fixed liveness challenge draw (recorded with every registration it affects)
    challenge_test_seed: int | None = None
    # scale-out (issue 15): workers share the small state in Redis when `redis_url` is set (capture frame
    # logs, the open-capture slots, platform-key rate limits, OCR portraits), under `redis_prefix`;
    # without it, this process's memory (one worker). `max_open_captures` counts the whole deployment.
    # `worker_name` (set by `serve --workers`) names the worker in /readyz and gives it its own index dir.
    redis_url: str | None = None
    redis_prefix: str = "simkyc"
    max_open_captures: int = 64
    worker_name: str | None = None
    # ID card reader (issue 17): the serial device of the reader's SAM module, the outlet page's origin
    # the `simkyc reader serve` bridge answers (comma-separated), the bridge's URL as the page calls it,
    # and the vendor's WLT portrait decoder as "module:attribute" (an object with decode_wlt, or a
    # factory returning one); see simkyc.reader
    reader_device: str | None = None
    reader_origins: str = "http://127.0.0.1:8000,http://localhost:8000"
    reader_bridge_url: str = "http://127.0.0.1:8765"
    wlt_decoder: str | None = None
    # face matching (issue 13): threads one verification may use (the two faces are found, and the
    # fused embedder's two networks run, side by side); 1 = everything on the calling thread
    face_threads: int = 2

    @property
    def model_cache(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.home / "cache"

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or SQLite at `home`/simkyc.db."""
        return self.database_url or f"sqlite:///{self.home / 'simkyc.db'}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.home / "keys.json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
