"""Atomic, pickle-free persistence for the embedded indexes.

A crash mid-save must leave the previous file intact: write a temporary file in
the same directory, fsync it, `os.replace` it over the old one, fsync the
directory. Files are `.npz` archives of plain arrays read with
`allow_pickle=False`, plus a small JSON header saying what they hold.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from simkyc.errors import ConflictError, Reason

__all__ = [
    "Op",
    "append_journal",
    "drop_journal",
    "journal_path",
    "read_arrays",
    "read_journal",
    "write_arrays",
]

FORMAT = "simkyc-search-index"
VERSION = 1


def write_arrays(path: Path, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> None:
    """Atomically replace `path` with an npz holding `arrays` and a JSON `header`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, **header}
    payload: dict[str, Any] = {**arrays, "header": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_arrays(path: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The header and arrays of a file written by `write_arrays`.

    :raises ConflictError: INDEX_INCONSISTENT when the file is not such a file or is damaged.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        header = json.loads(io.BytesIO(arrays.pop("header").tobytes()).read().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ConflictError(Reason.INDEX_INCONSISTENT, f"cannot read the index file {path.name}") from exc
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ConflictError(Reason.INDEX_INCONSISTENT, f"{path.name} is not a simkyc index file")
    return header, arrays


# --- journal: cheap durable saves between snapshots ------------------------------------------------

Op = tuple[str, str, str, "npt.NDArray[np.float32] | None"]
"""("put", template_id, identity_key, protected vector) or ("del", template_id, "", None)."""


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def append_journal(path: Path, generation: str, ops: list[Op]) -> int:
    """Append `ops` to the journal of the snapshot `generation` and fsync; returns bytes written.

    Why: a registration adds one template, and rewriting a 1M-template snapshot (0.5 GB) for it
    is wasteful; a journal line per change is durable at once and replayed on load.
    """
    jpath = journal_path(path)
    lines = []
    if not jpath.exists():
        lines.append(json.dumps({"generation": generation}))
    for op, template_id, identity, vector in ops:
        entry: dict[str, str] = {"op": op, "id": template_id}
        if vector is not None:
            entry["who"] = identity
            entry["v"] = base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()
        lines.append(json.dumps(entry))
    data = ("\n".join(lines) + "\n").encode()
    fd = os.open(jpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(data)


def read_journal(path: Path, generation: str) -> list[Op]:
    """The journal's operations when it belongs to snapshot `generation` (else none: it is stale).

    A torn last line (a crash mid-append) is ignored; that change is repaired by the start-up
    reconcile against the database.
    """
    jpath = journal_path(path)
    if not jpath.is_file():
        return []
    lines = jpath.read_text().splitlines()
    try:
        if not lines or json.loads(lines[0]).get("generation") != generation:
            return []
    except json.JSONDecodeError:
        return []
    ops: list[Op] = []
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            vector = (
                np.frombuffer(base64.b64decode(entry["v"]), dtype="<f4").astype(np.float32)
                if "v" in entry
                else None
            )
            ops.append((entry["op"], entry["id"], entry.get("who", ""), vector))
        except (json.JSONDecodeError, KeyError, ValueError):
            break
    return ops


def drop_journal(path: Path) -> None:
    journal_path(path).unlink(missing_ok=True)
