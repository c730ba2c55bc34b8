"""Which index a deployment uses and where it lives: `SIMKYC_SEARCH_*` environment settings.

One machine::

    SIMKYC_SEARCH_BACKEND=numpy        # exact; or hnsw for large galleries (approximate + exact re-rank)

A site with a Milvus cluster::

    SIMKYC_SEARCH_BACKEND=milvus
    SIMKYC_SEARCH_MILVUS_URI=http://milvus.example.internal:19530
    SIMKYC_SEARCH_MILVUS_TOKEN=simkyc:secret
    SIMKYC_SEARCH_MILVUS_INDEX_TYPE=HNSW
    SIMKYC_SEARCH_MILVUS_INDEX_PARAMS='{"M": 16, "efConstruction": 200}'
    SIMKYC_SEARCH_MILVUS_SEARCH_PARAMS='{"ef": 128}'
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from simkyc.config import get_settings
from simkyc.errors import ConflictError, InputError, Reason
from simkyc.search._hnsw import HnswIndex
from simkyc.search._maintenance import ConsistencyReport, reconcile
from simkyc.search._numpy import NumpyIndex
from simkyc.search._transform import ProtectedTransform, load_or_create_key
from simkyc.search._types import IndexRecord, TemplateIndex

__all__ = ["SearchSettings", "generation_settings", "open_index", "open_reconciled", "search_transform"]

_log = logging.getLogger(__name__)

Backend = Literal["numpy", "hnsw", "milvus"]


class SearchSettings(BaseSettings):
    """1:N search settings (`SIMKYC_SEARCH_` prefix). Paths default to places under `SIMKYC_HOME`."""

    model_config = SettingsConfigDict(env_prefix="SIMKYC_SEARCH_", env_ignore_empty=True, extra="ignore")

    backend: Backend = "numpy"
    dim: int = 128
    key: SecretStr | None = None  # base64 of >= 16 random bytes; else `key_file`
    key_file: Path | None = None  # default $SIMKYC_HOME/search.key, created 0600 on first use
    index_dir: Path | None = None  # default $SIMKYC_HOME/index
    milvus_uri: str = ""  # default: a milvus-lite file in index_dir
    milvus_token: SecretStr | None = None
    milvus_db: str = ""
    milvus_collection: str = "simkyc_templates"
    milvus_index_type: str = "IVF_FLAT"
    milvus_index_params: dict[str, Any] = {"nlist": 1024}
    milvus_search_params: dict[str, Any] = {"nprobe": 32}
    candidates: int = 128  # candidates re-ranked exactly (hnsw, milvus)
    hnsw_ef: int = 512  # HNSW search breadth (expansion_search): recall@1 1.000 at 1M, p99 6 ms

    def resolved_index_dir(self) -> Path:
        return self.index_dir if self.index_dir is not None else get_settings().home / "index"

    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else get_settings().home / "search.key"


def generation_settings(settings: SearchSettings, model_name: str, dim: int) -> SearchSettings:
    """The index of one embedder's templates (a generation, issue 13): its own dimension, directory
    (`<index_dir>/<model>`) and Milvus collection (`<collection>_<model>`); the search key is shared.

    Templates of different embedders are never compared, so each generation is searched apart until
    the older one has no template left.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", model_name.lower()).strip("_") or "default"
    return settings.model_copy(
        update={
            "dim": dim,
            "index_dir": settings.resolved_index_dir() / slug,
            "key_file": settings.resolved_key_file(),
            "milvus_collection": f"{settings.milvus_collection}_{slug}",
        }
    )


def search_transform(settings: SearchSettings | None = None) -> ProtectedTransform:
    """The transform under the configured key (`SIMKYC_SEARCH_KEY`, else the key file)."""
    settings = settings or SearchSettings()
    if settings.key is not None:
        try:
            key = base64.b64decode(settings.key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(Reason.KEY_MISSING, "SIMKYC_SEARCH_KEY is not valid base64") from None
    else:
        key = load_or_create_key(settings.resolved_key_file())
    return ProtectedTransform.from_key(key, dim=settings.dim)


def open_index(
    settings: SearchSettings | None = None,
    *,
    transform: ProtectedTransform | None = None,
    discard_stale: bool = False,
) -> TemplateIndex:
    """Open the configured index (empty if new). Check it with `check_consistency` before use.

    :param discard_stale: when the index file was written under another key or is damaged,
        start empty instead of failing (the next `save()` replaces the file); fill it with
        `rebuild` or `reconcile`. Milvus needs no such flag: another key is another collection.
    :raises ConflictError: INDEX_INCONSISTENT for a stale or damaged file, unless `discard_stale`.
    """
    settings = settings or SearchSettings()
    transform = transform or search_transform(settings)
    directory = settings.resolved_index_dir()
    if settings.backend in ("numpy", "hnsw"):
        cls: type[NumpyIndex] | type[HnswIndex] = NumpyIndex if settings.backend == "numpy" else HnswIndex
        path = directory / f"templates.{settings.backend}.npz"
        try:
            embedded = cls.open(path, transform)
        except ConflictError:
            if not discard_stale:
                raise
            _log.warning("search index %s is stale or damaged: starting empty, it will be rebuilt", path.name)
            embedded = cls(transform, path=path)
        if isinstance(embedded, HnswIndex):
            embedded.candidates = settings.candidates
            embedded.expansion_search = settings.hnsw_ef
        return embedded
    from simkyc.search._milvus import MilvusIndex

    directory.mkdir(parents=True, exist_ok=True)
    return MilvusIndex(
        settings.milvus_uri or str(directory / "milvus.db"),
        transform,
        token=settings.milvus_token.get_secret_value() if settings.milvus_token else "",
        db_name=settings.milvus_db,
        collection=settings.milvus_collection,
        index_type=settings.milvus_index_type,
        index_params=settings.milvus_index_params,
        search_params=settings.milvus_search_params,
        candidates=settings.candidates,
    )


def open_reconciled(
    expected_ids: Iterable[str],
    fetch: Callable[[frozenset[str]], Iterable[IndexRecord | tuple[str, str, object]]],
    settings: SearchSettings | None = None,
) -> tuple[TemplateIndex, ConsistencyReport]:
    """Start-up for a service: open the index (a stale one starts empty), repair it against the
    database's template ids, and drop Milvus collections left by an older key.

    `expected_ids` and `fetch` come from the store (`simkyc.service.registration.template_records`).
    Returns the index and the report of what was repaired (log `report.summary()`).
    """
    index = open_index(settings, discard_stale=True)
    report = reconcile(index, expected_ids, fetch)
    from simkyc.search._milvus import MilvusIndex

    if isinstance(index, MilvusIndex):
        index.drop_stale()
    if not report.ok:
        _log.warning("search index repaired at start: %s", report.summary())
    return index, report
