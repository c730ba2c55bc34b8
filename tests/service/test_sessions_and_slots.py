"""Sessions, sign-in delays and open-capture slots in the database (issue 14), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from regkit import Clock, document, make_deps, seed
from sqlalchemy import update

from simkyc.errors import AuthError, PolicyError, Reason
from simkyc.service import auth
from simkyc.service import registration as reg
from simkyc.service.sessions import SessionStore, SignInThrottle
from simkyc.store import Database
from simkyc.store.schema import staff_user


def test_a_session_ends_for_every_store_on_the_database(db: Database) -> None:
    s = seed(db)
    with db.engine.begin() as conn:
        conn.execute(update(staff_user).where(staff_user.c.id == s.clerk_id).values(password_hash="h1"))
    one, other = SessionStore(engine=db.engine), SessionStore(engine=db.engine, cache_s=0.0)
    with db.engine.begin() as conn:
        one.open(conn, session_id="sid-1", user_id=s.clerk_id, pw_hash="h1", now=1000.0, ttl=1800)
    check = dict(session_id="sid-1", user_id=s.clerk_id, role="clerk", outlet_id=s.outlet_id)
    one.check(**check, now=1001.0)  # type: ignore[arg-type]
    other.check(**check, now=1001.0)  # type: ignore[arg-type]
    with pytest.raises(AuthError):  # a token claiming another role
        other.check(**{**check, "role": "supervisor"}, now=1001.0)  # type: ignore[arg-type]
    one.end("sid-1", now=1002.0)
    for store in (one, other, SessionStore(engine=db.engine)):
        with pytest.raises(AuthError):
            store.check(**check, now=1003.0)  # type: ignore[arg-type]
    with db.engine.begin() as conn:  # a new password ends every older session
        one.open(conn, session_id="sid-2", user_id=s.clerk_id, pw_hash="h1", now=1004.0, ttl=1800)
        conn.execute(update(staff_user).where(staff_user.c.id == s.clerk_id).values(password_hash="h2"))
    with pytest.raises(AuthError):
        other.check(**{**check, "session_id": "sid-2"}, now=1005.0)  # type: ignore[arg-type]
    with pytest.raises(AuthError):  # expired
        SessionStore(engine=db.engine).check(**{**check, "session_id": "sid-2"}, now=1004.0 + 1801)  # type: ignore[arg-type]


def test_sign_in_delays_grow_per_pair_and_stay_short_per_account(db: Database) -> None:
    seed(db)
    throttle = SignInThrottle(pepper=b"p" * 32)
    now = 5000.0
    with db.engine.begin() as conn:
        for k in range(8):
            throttle.failed(conn, username="clerk1", client="203.0.113.9", now=now + k * 0.01)
        with pytest.raises(PolicyError) as exc:
            throttle.check(conn, username="clerk1", client="203.0.113.9", now=now + 1)
        assert exc.value.reason is Reason.RATE_LIMITED and exc.value.detail["retry_after"] > 8
        with pytest.raises(PolicyError) as exc:  # the account alone: a short wait from elsewhere
            throttle.check(conn, username="clerk1", client="198.51.100.7", now=now + 1)
        assert float(str(exc.value.detail["retry_after"])) <= 8
        throttle.check(conn, username="clerk1", client="198.51.100.7", now=now + 9)
        throttle.check(conn, username="super1", client="198.51.100.7", now=now + 1)  # other accounts: free


def test_open_capture_slots_are_counted_per_clerk_and_freed_by_time(db: Database) -> None:
    clock = Clock()
    s = seed(db)
    deps = dataclasses.replace(
        make_deps(db, clock=clock), limits=reg.CaptureLimits(per_clerk=2, per_outlet=5)
    )

    def open_one(n: int) -> reg.Opened:
        cmd = reg.OpenRegistration(document(n), f"1370000{n:04d}", s.outlet_id, s.clerk_id, consent=True)
        return reg.open_registration(cmd, deps=deps)

    open_one(1)
    open_one(2)
    with pytest.raises(PolicyError) as exc:
        open_one(3)
    assert exc.value.reason is Reason.RATE_LIMITED and exc.value.detail["limit"] == "clerk"
    clock.advance(seconds=deps.policy.challenge_ttl_seconds + deps.limits.grace_s + 1)  # type: ignore[union-attr]
    open_one(4)  # abandoned captures freed their slots


def test_a_disabled_account_is_refused_by_the_use_cases(db: Database) -> None:
    s = seed(db)
    auth.set_user_active(db, user_id=s.supervisor_id, active=False, actor="t")
    with pytest.raises(AuthError) as exc:
        reg.customer_report(document(1).id_number, staff_id=s.supervisor_id, deps=make_deps(db))
    assert exc.value.reason is Reason.NOT_AUTHENTICATED


def test_a_revoked_platform_key_is_refused_by_every_process_within_two_seconds(db: Database) -> None:
    pepper = b"p" * 32
    record, token = auth.create_api_key(db, platform="shop", pepper=pepper, actor="test")
    here, there = (
        auth.ApiKeyVerifier(engine=db.engine, pepper=pepper),
        auth.ApiKeyVerifier(engine=db.engine, pepper=pepper),
    )
    assert there.verify(token, scope=auth.PLATFORM_SCOPE, now=100.0).id == record.id  # cached there now
    auth.revoke_api_key(db, key_id=record.id, actor="test")
    here.forget()  # what the revoking process does
    with pytest.raises(AuthError):
        here.verify(token, scope=auth.PLATFORM_SCOPE, now=100.1)
    with pytest.raises(AuthError):  # the other process, once its short cache has run out
        there.verify(token, scope=auth.PLATFORM_SCOPE, now=100.0 + there.ttl + 0.01)
    assert there.ttl <= 2.0
