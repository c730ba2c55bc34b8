"""1:N duplicate-face search over protected templates.

Every backend implements `TemplateIndex` and protects vectors with a keyed
`ProtectedTransform` before storing or searching them:

- `NumpyIndex`: exact (float32 matrix product), atomic file persistence;
- `HnswIndex`: usearch HNSW candidates re-ranked exactly, for large galleries;
- `MilvusIndex`: `pymilvus.MilvusClient(uri)`, milvus-lite locally or a cluster.

`find_duplicates` returns other identities above the duplicate threshold;
`check_consistency`, `reconcile` and `rebuild` keep an index equal to the database, and
`FollowedIndex` keeps it equal while other workers commit (the template change feed).
"""

from simkyc.search._duplicates import DuplicateCandidate, find_duplicates
from simkyc.search._follow import FollowedIndex, read_seq_file
from simkyc.search._hnsw import HnswIndex
from simkyc.search._maintenance import ConsistencyReport, check_consistency, rebuild, reconcile
from simkyc.search._milvus import MilvusIndex
from simkyc.search._numpy import NumpyIndex
from simkyc.search._settings import (
    SearchSettings,
    generation_settings,
    open_index,
    open_reconciled,
    search_transform,
)
from simkyc.search._transform import ProtectedTransform, load_or_create_key
from simkyc.search._types import Hit, IndexRecord, TemplateIndex

__all__ = [
    "ConsistencyReport",
    "DuplicateCandidate",
    "FollowedIndex",
    "Hit",
    "HnswIndex",
    "IndexRecord",
    "MilvusIndex",
    "NumpyIndex",
    "ProtectedTransform",
    "SearchSettings",
    "TemplateIndex",
    "check_consistency",
    "find_duplicates",
    "generation_settings",
    "load_or_create_key",
    "open_index",
    "open_reconciled",
    "read_seq_file",
    "rebuild",
    "reconcile",
    "search_transform",
]
