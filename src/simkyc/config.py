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

    @property
    def model_cache(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.home / "cache"


@lru_cache
def get_settings() -> Settings:
    return Settings()
