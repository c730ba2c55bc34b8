"""An on-disk cache of per-image embedding results, so re-running an evaluation costs nothing.

Key: image path + SHA-256 of its bytes + the system's key (embedder name and
version, detector, pipeline revision) + the condition applied (e.g. "chip").
A changed file, model or condition therefore never reuses a stale template.
SQLite, so several worker processes may read and write it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["EmbedRecord", "EmbeddingCache", "cache_key", "file_digest"]


@dataclass(frozen=True, slots=True)
class EmbedRecord:
    """What one system made of one image: a template, or the reason it could not (NO_FACE, ...)."""

    template: npt.NDArray[np.float32] | None
    reason: str | None = None
    detector: str = ""
    findings: tuple[str, ...] = ()
    face_px: float = 0.0

    @property
    def ok(self) -> bool:
        return self.template is not None


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(rel_path: str, digest: str, system_key: str, condition: str) -> str:
    return hashlib.sha256(f"{rel_path}\0{digest}\0{system_key}\0{condition}".encode()).hexdigest()


class EmbeddingCache:
    """`get`/`put` of `EmbedRecord` by key; `path=None` keeps it in memory (tests)."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", timeout=60)
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS emb "
            "(key TEXT PRIMARY KEY, template BLOB, dim INT, meta TEXT NOT NULL)"
        )
        self._db.commit()

    def get(self, key: str) -> EmbedRecord | None:
        row = self._db.execute("SELECT template, dim, meta FROM emb WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        blob, _dim, meta_text = row
        meta = json.loads(meta_text)
        template = np.frombuffer(blob, dtype=np.float32).copy() if blob is not None else None
        return EmbedRecord(
            template=template,
            reason=meta.get("reason"),
            detector=meta.get("detector", ""),
            findings=tuple(meta.get("findings", ())),
            face_px=float(meta.get("face_px", 0.0)),
        )

    def put(self, key: str, record: EmbedRecord) -> None:
        blob = None if record.template is None else np.asarray(record.template, np.float32).tobytes()
        dim = 0 if record.template is None else int(record.template.size)
        meta = {
            "reason": record.reason,
            "detector": record.detector,
            "findings": list(record.findings),
            "face_px": record.face_px,
        }
        self._db.execute(
            "INSERT OR REPLACE INTO emb (key, template, dim, meta) VALUES (?, ?, ?, ?)",
            (key, blob, dim, json.dumps(meta)),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()
