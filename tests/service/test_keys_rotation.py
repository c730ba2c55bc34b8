"""`simkyc keys rotate`: everything re-encrypted under a new key while another writer keeps going."""

from __future__ import annotations

import threading
from pathlib import Path

from regkit import THRESHOLDS, assessment, document, make_deps, seed, unit_frames
from sqlalchemy import select

from simkyc.service import registration as reg
from simkyc.store import Database, open_database
from simkyc.store.crypto import load_keyring
from simkyc.store.rotation import count_by_key, rotate_keys
from simkyc.store.schema import identity


def _populate(deps: reg.RegistrationDeps, s, start: int, count: int) -> None:  # type: ignore[no-untyped-def]
    for n in range(start, start + count):
        o = reg.open_registration(
            reg.OpenRegistration(
                document=document(n),
                phone=f"1860000{n:04d}",
                outlet_id=s.outlet_id,
                clerk_id=s.clerk_id,
                consent=True,
            ),
            deps=deps,
        )
        score = 0.85 if n % 3 == 0 else 0.95  # every third goes to REVIEW (encrypted evidence)
        if n % 5 != 4:  # every fifth stays OPEN (encrypted ID photo)
            reg.record_decision(
                o.registration_id,
                assessment(score=score, frames=unit_frames(2)),
                deps=deps,
                actor="t",
                thresholds=THRESHOLDS,
            )


def test_rotation_reencrypts_everything_while_another_process_writes(db_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    db = open_database(db_url, load_keyring(env_json=None, key_file=key_file))
    s = seed(db)
    deps = make_deps(db)
    _populate(deps, s, 0, 15)
    old = db.keys.active
    assert set(count_by_key(db)) == {old}

    # a second "process": its own engine and its own copy of the ring, read from the same file
    other = Database(
        engine=open_database(db_url, load_keyring(env_json=None, key_file=key_file)).engine,
        keys=load_keyring(env_json=None, key_file=key_file),
    )
    other_deps = make_deps(other)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            _populate(other_deps, s, 100, 12)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    rep = rotate_keys(db, grace_seconds=0.5)
    t.join()
    assert not errors, errors
    # rows the other writer committed under the old key after the last pass: one more rotation-free pass
    from simkyc.store.rotation import reencrypt_pass

    reencrypt_pass(db, target=rep.new_key_id)
    used = count_by_key(db)
    assert set(used) == {rep.new_key_id}, used
    assert sum(rep.reencrypted.values()) >= 15
    assert rep.new_key_id != old
    # every encrypted value still decrypts, through the use cases
    with db.engine.connect() as c:
        n_ids = len(c.execute(select(identity.c.id)).all())
    assert n_ids == 27
    for n in (0, 3, 100, 103):
        assert reg.customer_report(document(n).id_number, staff_id=s.supervisor_id, deps=deps) is not None
    ids, fetch = reg.template_records(db)
    assert len(fetch(frozenset(ids))) == len(ids) > 0
    # the old key left the ring only if nothing used it any more; a fresh process reads everything
    fresh = load_keyring(env_json=None, key_file=key_file)
    assert fresh.active == rep.new_key_id
    if old in rep.retired:
        assert old not in fresh.encryption
    db2 = Database(engine=db.engine, keys=fresh)
    ids2, fetch2 = reg.template_records(db2)
    assert len(fetch2(frozenset(ids2))) == len(ids2)
    db.dispose()


def _readable(db_url: str, key_file: Path) -> int:
    """Decrypt every encrypted value with a fresh process's view of the ring; returns how many."""
    from simkyc.store.fields import aad_row
    from simkyc.store.schema import ENCRYPTED_COLUMNS, metadata

    ring = load_keyring(env_json=None, key_file=key_file)
    db = open_database(db_url, ring, run_migrations=False)
    n = 0
    with db.engine.connect() as c:
        for table, (col,) in ENCRYPTED_COLUMNS.items():
            for row in c.execute(
                select(metadata.tables[table]).where(metadata.tables[table].c[col].is_not(None))
            ).mappings():
                ring.decrypt(row["key_id"], row[col], aad=aad_row(table, row))
                n += 1
    db.dispose()
    return n


def test_rotation_killed_midway_loses_nothing_and_can_be_rerun(db_url: str, tmp_path: Path) -> None:
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    key_file = tmp_path / "keys.json"
    db = open_database(db_url, load_keyring(env_json=None, key_file=key_file))
    s = seed(db)
    _populate(make_deps(db), s, 0, 40)
    total = _readable(db_url, key_file)
    rng = random.Random(7)
    worker = Path(__file__).with_name("rotate_worker.py")
    kills = 0
    for k in range(3):
        ready = tmp_path / f"ready_{k}"
        proc = subprocess.Popen([sys.executable, str(worker), db_url, str(key_file), str(ready)])
        deadline = time.monotonic() + 120
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        assert _readable(db_url, key_file) == total  # nothing lost, whatever the kill point
    db.keys.refresh(force=True)
    rep = rotate_keys(db, grace_seconds=0)  # a complete run finishes the job
    assert set(count_by_key(db)) == {rep.new_key_id}
    assert set(load_keyring(env_json=None, key_file=key_file).encryption) == {rep.new_key_id}
    assert _readable(db_url, key_file) == total
    print(
        f"\nrotation crash [{db.dialect}]: {kills} SIGKILLs during rotation, {total} encrypted values, 0 lost"
    )
    db.dispose()
