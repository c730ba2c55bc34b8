"""Builders for the search tests: templates with identity structure, and one factory per backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from search_builders import DIM, KEY_A, KEY_B, IndexFactory

from simkyc.search import HnswIndex, MilvusIndex, NumpyIndex, ProtectedTransform
from simkyc.search._types import TemplateIndex


@pytest.fixture(scope="session")
def transform_a() -> ProtectedTransform:
    return ProtectedTransform.from_key(KEY_A, dim=DIM)


@pytest.fixture(scope="session")
def transform_b() -> ProtectedTransform:
    return ProtectedTransform.from_key(KEY_B, dim=DIM)


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One milvus-lite file (one server process) for the session; each test uses its own collections."""
    return str(tmp_path_factory.mktemp("milvus") / "m.db")


@pytest.fixture(params=["numpy", "hnsw", pytest.param("milvus", marks=pytest.mark.milvus)])
def make_index(request: pytest.FixtureRequest, tmp_path: Path, milvus_uri: str) -> Iterator[IndexFactory]:
    """A factory for one backend; indexes made twice from it share storage (a restart)."""
    made: list[MilvusIndex] = []
    prefix = f"t_{uuid.uuid4().hex[:12]}"

    def factory(transform: ProtectedTransform) -> TemplateIndex:
        if request.param == "numpy":
            return NumpyIndex.open(tmp_path / "t.npz", transform)
        if request.param == "hnsw":
            # exact_below=0: even a tiny gallery goes through the graph and the re-ranking
            index = HnswIndex.open(tmp_path / "t.npz", transform)
            index.exact_below = 0
            return index
        milvus = MilvusIndex(
            milvus_uri, transform, collection=prefix, index_params={"nlist": 8}, search_params={"nprobe": 8}
        )
        made.append(milvus)
        return milvus

    factory.backend = request.param  # type: ignore[attr-defined]
    yield factory
    for index in made:
        index.close()
