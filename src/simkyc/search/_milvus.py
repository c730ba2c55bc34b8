"""1:N search on Milvus through `pymilvus.MilvusClient`: milvus-lite locally, a cluster at scale.

The same client code talks to a local milvus-lite file (`uri="/path/m.db"`) and
to a distributed Milvus (`uri="http://host:19530"`, `token="user:password"`).
The collection name carries the transform's key id: vectors protected under
another key live in another collection, so a key rotation starts an empty
collection that is filled by a rebuild, and the old one is dropped afterwards.

Candidates come back with their stored float32 vectors and are re-ranked exactly
here, so a site may choose a compressed Milvus index type (IVF_PQ, HNSW_SQ, ...)
without losing score precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from simkyc.errors import InputError, Reason
from simkyc.search._transform import ProtectedTransform
from simkyc.search._types import MAX_KEY_LENGTH, Hit, IndexRecord, as_matrix, as_vector, check_key

__all__ = ["MilvusIndex"]

_BATCH = 5000
_DEFAULT_INDEX: dict[str, Any] = {"index_type": "IVF_FLAT", "params": {"nlist": 1024}}
_DEFAULT_SEARCH: dict[str, Any] = {"nprobe": 32}


class MilvusIndex:
    """A `TemplateIndex` on one Milvus collection.

    **Parameters:**
    * **uri** - a milvus-lite file path, or `http(s)://host:port` of a Milvus server or cluster.
    * **transform** - the keyed `ProtectedTransform`.
    * **token** - *(optional)* `user:password` or an API token for a secured cluster.
    * **collection** - *(optional)* name prefix; the key id is appended.
    * **index_type**, **index_params**, **search_params** - *(optional)* the Milvus vector index
      (default IVF_FLAT nlist=1024, nprobe=32: supported by milvus-lite and every cluster).
    * **candidates** - how many candidates to fetch for exact re-ranking (at least k).
    """

    name: ClassVar[str] = "milvus"

    def __init__(
        self,
        uri: str,
        transform: ProtectedTransform,
        *,
        token: str = "",
        collection: str = "simkyc_templates",
        index_type: str | None = None,
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
        candidates: int = 64,
        db_name: str = "",
    ) -> None:
        from pymilvus import MilvusClient

        self.transform = transform
        self.dim = transform.dim
        self.uri = uri
        self.collection = f"{collection}_{transform.key_id}"
        self.collection_prefix = collection
        self.candidates = candidates
        self._index_type = index_type or str(_DEFAULT_INDEX["index_type"])
        self._index_params = index_params if index_params is not None else dict(_DEFAULT_INDEX["params"])
        self._search_params = search_params if search_params is not None else dict(_DEFAULT_SEARCH)
        kwargs: dict[str, Any] = {"uri": uri}
        if token:
            kwargs["token"] = token
        if db_name:
            kwargs["db_name"] = db_name
        self._client = MilvusClient(**kwargs)
        if not self._client.has_collection(self.collection):
            self._create()
        self._client.load_collection(self.collection)

    def __repr__(self) -> str:
        return f"<MilvusIndex {self.collection} on {self.uri}>"

    @property
    def key_id(self) -> str:
        return self.transform.key_id

    def _create(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_KEY_LENGTH * 4)
        schema.add_field("identity", DataType.VARCHAR, max_length=MAX_KEY_LENGTH * 4)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        index = self._client.prepare_index_params()
        index.add_index(
            field_name="vector", index_type=self._index_type, metric_type="IP", params=self._index_params
        )
        self._client.create_collection(self.collection, schema=schema, index_params=index)

    def stale_collections(self) -> list[str]:
        """Collections of this prefix built under other keys (drop them once a rebuild is done)."""
        prefix = f"{self.collection_prefix}_"
        return [
            name
            for name in self._client.list_collections()
            if name.startswith(prefix) and name != self.collection
        ]

    def drop_stale(self) -> list[str]:
        dropped = self.stale_collections()
        for name in dropped:
            self._client.drop_collection(name)
        return dropped

    # -- writes -------------------------------------------------------------------------------------
    def _upsert(self, ids: list[str], identities: list[str], raw: npt.NDArray[np.float32]) -> None:
        protected = self.transform(raw)
        rows = [
            {"id": i, "identity": who, "vector": vec}
            for i, who, vec in zip(ids, identities, protected, strict=True)
        ]
        self._client.upsert(self.collection, rows)

    def add(self, template_id: str, identity_key: str, template: npt.NDArray[np.float32]) -> None:
        self._upsert(
            [check_key(template_id, "template id")],
            [check_key(identity_key, "identity key")],
            as_vector(template, self.dim)[None, :],
        )

    def add_many(self, records: Iterable[IndexRecord]) -> int:
        total = 0
        batch: list[IndexRecord] = []
        for record in [*records, None]:
            if record is not None:
                batch.append(record)
            if batch and (record is None or len(batch) == _BATCH):
                self._upsert(
                    [check_key(r.template_id, "template id") for r in batch],
                    [check_key(r.identity_key, "identity key") for r in batch],
                    as_matrix(np.stack([r.template for r in batch]), self.dim),
                )
                total += len(batch)
                batch = []
        return total

    def add_arrays(self, ids: list[str], identities: list[str], templates: npt.NDArray[np.float32]) -> int:
        """Bulk insert from parallel lists; ids must be new (insert, not upsert: faster)."""
        if not (len(ids) == len(identities) == len(templates)):
            raise InputError(Reason.INVALID_REQUEST, "ids, identities and templates differ in length")
        for start in range(0, len(ids), _BATCH):
            stop = start + _BATCH
            protected = self.transform(as_matrix(templates[start:stop], self.dim))
            rows = [
                {"id": check_key(i, "template id"), "identity": check_key(w, "identity key"), "vector": v}
                for i, w, v in zip(ids[start:stop], identities[start:stop], protected, strict=True)
            ]
            self._client.insert(self.collection, rows)
        return len(ids)

    def remove(self, template_id: str) -> bool:
        found = self._client.get(self.collection, ids=[template_id], output_fields=["id"])
        if not found:
            return False
        self._client.delete(self.collection, ids=[template_id])
        return True

    def clear(self) -> None:
        self._client.drop_collection(self.collection)
        self._create()
        self._client.load_collection(self.collection)

    def save(self) -> None:
        """Milvus persists on its own; a flush seals the segments so a restart sees every write."""
        self._client.flush(self.collection)

    def close(self) -> None:
        self._client.close()

    # -- reads --------------------------------------------------------------------------------------
    def count(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def ids(self) -> set[str]:
        found: set[str] = set()
        iterator = self._client.query_iterator(
            self.collection, batch_size=10_000, filter="", output_fields=["id"]
        )
        try:
            while batch := iterator.next():
                found.update(str(row["id"]) for row in batch)
        finally:
            iterator.close()
        return found

    def identity_of(self, template_id: str) -> str | None:
        rows = self._client.get(self.collection, ids=[template_id], output_fields=["identity"])
        return str(rows[0]["identity"]) if rows else None

    def search(self, template: npt.NDArray[np.float32], k: int = 10) -> list[Hit]:
        if k <= 0:
            return []
        probe = self.transform(as_vector(template, self.dim))
        result = self._client.search(
            self.collection,
            data=[probe.tolist()],
            limit=max(k, self.candidates),
            output_fields=["identity", "vector"],
            search_params={"metric_type": "IP", "params": self._search_params},
        )
        rows = list(result[0]) if result else []
        if not rows:
            return []
        vectors = np.asarray([row["entity"]["vector"] for row in rows], dtype=np.float32)
        scores = vectors @ probe  # exact re-ranking on the stored float32 vectors
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(str(rows[i]["id"]), str(rows[i]["entity"]["identity"]), float(scores[i])) for i in order]
