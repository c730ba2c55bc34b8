"""Atomic, pickle-free persistence for the embedded indexes.

A crash mid-save must leave the previous file intact: write a temporary file in
the same directory, fsync it, `os.replace` it over the old one, fsync the
directory. Files are `.npz` archives of plain arrays read with
`allow_pickle=False`, plus a small JSON header saying what they hold.
"""

from __future__ import annotations

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

__all__ = ["read_arrays", "write_arrays"]

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
