from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from simkyc.errors import SimkycError
from simkyc.store.crypto import KeyRing, load_keyring


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "home" / "keys.json"
    ring = load_keyring(env_json=None, key_file=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_keyring(env_json=None, key_file=path)
    assert again.active == ring.active and again.lookup == ring.lookup


def test_environment_ring_wins_and_cannot_be_saved(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    env = load_keyring(env_json=ring.to_json(), key_file=tmp_path / "absent.json")
    assert env.active == ring.active
    assert not (tmp_path / "absent.json").exists()
    with pytest.raises(SimkycError):
        env.save()


def test_roundtrip_and_place_binding() -> None:
    ring = KeyRing.generate()
    kid, blob = ring.encrypt(b"110101199003078515", aad="identity:fields_enc:abc")
    assert b"110101199003078515" not in blob
    assert ring.decrypt(kid, blob, aad="identity:fields_enc:abc") == b"110101199003078515"
    with pytest.raises(SimkycError):  # moved to another row: does not authenticate
        ring.decrypt(kid, blob, aad="identity:fields_enc:other")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SimkycError):
        ring.decrypt(kid, tampered, aad="identity:fields_enc:abc")


def test_lookup_hash_is_keyed_and_normalised() -> None:
    a, b = KeyRing.generate(), KeyRing.generate()
    assert a.lookup_hash("11010119900307851x") == a.lookup_hash(" 11010119900307851X")
    assert a.lookup_hash("11010119900307851X") != b.lookup_hash("11010119900307851X")
    assert a.name_hash("张 三") == a.name_hash("张三")


def test_key_material_never_in_repr() -> None:
    ring = KeyRing.generate()
    text = repr(ring)
    assert ring.active in text
    for raw in json.loads(ring.to_json())["encryption"].values():
        assert raw not in text
