"""Field encryption (AES-256-GCM under key ids), keyed ID lookups (HMAC-SHA256), the key ring.

Where keys come from, in order:

1. `SIMKYC_KEYS`: the key ring as JSON (for deployments with a secret manager), read-only;
2. the key file `SIMKYC_KEY_FILE` (default `~/.simkyc/keys.json`), created with mode 0600 on
   first use with fresh random keys.

The ring (JSON) holds::

    {"version": 1,
     "active": "k-20261122-3f9a",                # key id new ciphertext is written under
     "encryption": {"k-20261122-3f9a": "<base64 32 bytes>", ...},   # every readable key
     "lookup": "<base64 32 bytes>",               # HMAC key for ID-number and name lookups
     "signing": "<base64 32 bytes>",              # Ed25519 seed for audit checkpoints
     "challenge": "<base64 32 bytes>"}            # HMAC key for liveness challenges

A ciphertext is `nonce (12 bytes) || AES-GCM(ciphertext + tag)`, stored with its key id in the
row. The associated data binds it to its place (`table:column:row`), so a ciphertext copied
into another row does not decrypt. The lookup key is separate from the encryption keys and is
never rotated by `simkyc keys rotate` (that would orphan every lookup hash).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from simkyc.errors import Reason, SimkycError

__all__ = ["KeyRing", "KeyRingSource", "load_keyring", "new_key_id"]

_NONCE = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise SimkycError(Reason.KEY_MISSING, "a key in the key ring is not 32 bytes")
    return raw


def new_key_id(now: datetime | None = None) -> str:
    """A readable, unique key id: `k-YYYYMMDD-<8 hex>`."""
    now = now or datetime.now(UTC)
    return f"k-{now:%Y%m%d}-{secrets.token_hex(4)}"


@dataclass
class KeyRing:
    """All keys simkyc uses. Thread-safe to read; mutated only by rotation."""

    active: str
    encryption: dict[str, bytes]
    lookup: bytes
    signing: bytes
    challenge: bytes
    source: KeyRingSource | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never print key material
        return f"KeyRing(active={self.active!r}, ids={sorted(self.encryption)})"

    # -- encryption -------------------------------------------------------------------------
    def encrypt(self, plaintext: bytes, *, aad: str) -> tuple[str, bytes]:
        """Encrypt under the active key; returns (key_id, blob)."""
        nonce = os.urandom(_NONCE)
        blob = nonce + AESGCM(self.encryption[self.active]).encrypt(nonce, plaintext, aad.encode())
        return self.active, blob

    def decrypt(self, key_id: str, blob: bytes, *, aad: str) -> bytes:
        """Decrypt a blob written under `key_id`; refreshes from the file once on an unknown id."""
        key = self.encryption.get(key_id)
        if key is None and self.source is not None:
            self.refresh(force=True)
            key = self.encryption.get(key_id)
        if key is None:
            raise SimkycError(Reason.KEY_MISSING, f"encryption key {key_id!r} is not in the key ring")
        try:
            return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad.encode())
        except InvalidTag:
            raise SimkycError(
                Reason.KEY_MISSING, "ciphertext does not authenticate (wrong key or place)"
            ) from None

    def encrypt_json(self, obj: Any, *, aad: str) -> tuple[str, bytes]:
        return self.encrypt(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode(), aad=aad)

    def decrypt_json(self, key_id: str, blob: bytes, *, aad: str) -> Any:
        return json.loads(self.decrypt(key_id, blob, aad=aad))

    # -- lookups ----------------------------------------------------------------------------
    def lookup_hash(self, id_number: str) -> str:
        """HMAC-SHA256 (hex) of a normalised ID number: the only way the database finds an ID."""
        return hmac.new(self.lookup, b"id:" + id_number.strip().upper().encode(), hashlib.sha256).hexdigest()

    def name_hash(self, name: str) -> str:
        """HMAC-SHA256 (hex) of a normalised name (NFKC, no spaces, casefolded)."""
        norm = "".join(unicodedata.normalize("NFKC", name).split()).casefold()
        return hmac.new(self.lookup, b"name:" + norm.encode(), hashlib.sha256).hexdigest()

    # -- signing ----------------------------------------------------------------------------
    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.signing)

    # -- persistence ------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "active": self.active,
                "encryption": {k: _b64(v) for k, v in sorted(self.encryption.items())},
                "lookup": _b64(self.lookup),
                "signing": _b64(self.signing),
                "challenge": _b64(self.challenge),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, *, source: KeyRingSource | None = None) -> KeyRing:
        try:
            d = json.loads(text)
            enc = {str(k): _unb64(v) for k, v in d["encryption"].items()}
            ring = cls(
                active=str(d["active"]),
                encryption=enc,
                lookup=_unb64(d["lookup"]),
                signing=_unb64(d["signing"]),
                challenge=_unb64(d["challenge"]),
                source=source,
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise SimkycError(
                Reason.KEY_MISSING, f"the key ring is malformed ({type(exc).__name__})"
            ) from None
        if ring.active not in ring.encryption:
            raise SimkycError(Reason.KEY_MISSING, "the active key id is not in the key ring")
        return ring

    @classmethod
    def generate(cls) -> KeyRing:
        kid = new_key_id()
        return cls(
            active=kid,
            encryption={kid: AESGCM.generate_key(bit_length=256)},
            lookup=secrets.token_bytes(32),
            signing=secrets.token_bytes(32),
            challenge=secrets.token_bytes(32),
        )

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the key file if it changed (another process rotated keys)."""
        if self.source is None or self.source.path is None:
            return
        mtime = self.source.path.stat().st_mtime_ns
        if not force and mtime == self.source.mtime_ns:
            return
        fresh = KeyRing.from_json(self.source.path.read_text())
        self.active, self.encryption = fresh.active, fresh.encryption
        self.source.mtime_ns = mtime

    def save(self) -> None:
        """Write the ring back to its file atomically (0600). Refused for a ring from the environment."""
        if self.source is None or self.source.path is None:
            raise SimkycError(Reason.KEY_MISSING, "keys come from SIMKYC_KEYS: update that secret instead")
        _write_private(self.source.path, self.to_json())
        self.source.mtime_ns = self.source.path.stat().st_mtime_ns


@dataclass
class KeyRingSource:
    """Where a ring was read from (None path = the environment)."""

    path: Path | None
    mtime_ns: int = 0


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_keyring(*, env_json: str | None, key_file: Path) -> KeyRing:
    """The ring from `env_json` (SIMKYC_KEYS) if set, else from `key_file`, created 0600 if absent."""
    if env_json:
        return KeyRing.from_json(env_json, source=KeyRingSource(path=None))
    if not key_file.exists():
        # Write a complete file aside, then hard-link it into place: link() fails if the name
        # exists, so two processes starting at once agree on one ring and never see a partial file.
        key_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.new")
        _write_private(tmp, KeyRing.generate().to_json())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    src = KeyRingSource(path=key_file, mtime_ns=key_file.stat().st_mtime_ns)
    return KeyRing.from_json(key_file.read_text(), source=src)
