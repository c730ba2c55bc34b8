"""A secret, keyed orthogonal transform applied to every template before it enters an index.

Why: a stolen index of raw templates could be matched against any other face
database. Rotating every template by a secret orthogonal matrix keeps all cosine
scores exactly (so accuracy is unchanged) while templates protected under two
different keys no longer match each other (unlinkable across operators), and a
new key makes a leaked index useless: it is rebuilt from the database's
encrypted templates (renewable).

Limits, stated plainly: this is not encryption. Anyone who holds the key, or
about `dim` pairs of raw and protected templates, can undo it. The templates at
rest in the database are AES-GCM encrypted by `simkyc.store`; the transform
protects the search index, which must hold vectors it can compute on.

Derivation (independent of numpy's RNG, which may change between releases):
HMAC-SHA256 extracts a pseudo-random key from the secret; SHAKE-256 expands it
into 53-bit uniforms; Box-Muller turns them into a Gaussian matrix; its QR
factor, with the signs of R's diagonal folded in, is a Haar-uniform orthogonal
matrix.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simkyc.errors import InputError, Reason

__all__ = ["ProtectedTransform", "load_or_create_key", "write_key"]

_CONTEXT = b"simkyc/search/orthogonal-transform/v1"
MIN_KEY_BYTES = 16


def _gaussian(prk: bytes, info: bytes, count: int) -> npt.NDArray[np.float64]:
    pairs = (count + 1) // 2
    stream = hashlib.shake_256(prk + info).digest(16 * pairs)
    words = np.frombuffer(stream, dtype="<u8")
    uniform = ((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # in (0, 1)
    u1, u2 = uniform[0::2], uniform[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    normals = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])
    return normals[:count]


@dataclass(frozen=True, slots=True)
class ProtectedTransform:
    """An orthogonal matrix derived from a secret key; `key_id` is a public fingerprint of the key.

    Build it with `ProtectedTransform.from_key(key, dim=128)`; apply it with
    `transform(templates)` to one (D,) template or an (N, D) batch.
    """

    key_id: str
    matrix: npt.NDArray[np.float32] = field(repr=False)

    @classmethod
    def from_key(cls, key: bytes, *, dim: int = 128) -> ProtectedTransform:
        """Derive the transform for `dim`-d templates from `key` (at least 16 random bytes)."""
        if len(key) < MIN_KEY_BYTES:
            raise InputError(Reason.KEY_MISSING, f"the search key must be at least {MIN_KEY_BYTES} bytes")
        if dim < 2:
            raise InputError(Reason.INVALID_REQUEST, "the template dimension must be at least 2")
        prk = hmac.new(_CONTEXT, key, hashlib.sha256).digest()
        gauss = _gaussian(prk, b"matrix/%d" % dim, dim * dim).reshape(dim, dim)
        q, r = np.linalg.qr(gauss)
        q = q * np.sign(np.diag(r))  # Haar-uniform, and unique for a given Gaussian draw
        key_id = hmac.new(prk, b"key-id", hashlib.sha256).hexdigest()[:16]
        return cls(key_id=key_id, matrix=np.ascontiguousarray(q, dtype=np.float32))

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    def __call__(self, templates: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Protect one template (D,) or a batch (N, D); norms and dot products are preserved."""
        out = np.asarray(templates, dtype=np.float32) @ self.matrix.T
        return np.ascontiguousarray(out, dtype=np.float32)


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte search key at `path`, creating it (mode 0600) on first use.

    Creation is create-if-absent (a hard link of a fully written file), so threads or workers
    starting together agree on one key. Losing this key costs nothing but a rebuild of the index
    from the database.
    """
    if not path.is_file():
        tmp = _written_tmp(path, os.urandom(32))
        try:
            os.link(tmp, path)  # fails if another thread or process created it first: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) < MIN_KEY_BYTES:
        raise InputError(Reason.KEY_MISSING, f"the search key file {path} is too short")
    return key


def write_key(path: Path, key: bytes) -> None:
    """Atomically write `key` to `path` with mode 0600 (replacing an older key)."""
    os.replace(_written_tmp(path, key), path)


def _written_tmp(path: Path, key: bytes) -> Path:
    """`key` in a fsynced 0600 file beside `path`, under a name no other thread or process uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp
