"""Sign-in, sessions and the auth primitives (argon2, signed tokens, rate limits)."""

from __future__ import annotations

import pytest
from apikit import Api, login

from simkyc.errors import AuthError, PolicyError, Reason
from simkyc.service import auth


def test_login_returns_role_and_outlet(api: Api) -> None:
    r = api.client.get("/api/auth/me", headers=api.headers["demo-clerk"])
    assert r.status_code == 200
    me = r.json()
    assert me["role"] == "clerk"
    assert me["outlet_id"] == api.first.outlet_id


@pytest.mark.parametrize("username", ["demo-clerk", "no-such-user"])
def test_wrong_password_and_unknown_user_look_the_same(api: Api, username: str) -> None:
    r = api.client.post("/api/auth/login", json={"username": username, "password": "wrong-password"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["reason"] == "NOT_AUTHENTICATED"
    assert r.json()["detail"] == "Wrong user name or password."


def test_logout_revokes_the_token(api: Api) -> None:
    pw = dict((n, p) for _, n, p in api.first.accounts)["demo-auditor"]
    headers = login(api.client, "demo-auditor", pw)
    assert api.client.get("/api/auth/me", headers=headers).status_code == 200
    assert api.client.post("/api/auth/logout", headers=headers).status_code == 204
    r = api.client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["reason"] == "NOT_AUTHENTICATED"


def test_disabled_user_cannot_sign_in(api: Api) -> None:
    admin = api.headers["admin"]
    r = api.client.post(
        "/api/admin/users",
        headers=admin,
        json={
            "username": "temp-clerk",
            "password": "temp-password",
            "role": "clerk",
            "outlet_id": api.first.outlet_id,
        },
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    login(api.client, "temp-clerk", "temp-password")
    assert (
        api.client.patch(f"/api/admin/users/{uid}", headers=admin, json={"active": False}).json()["active"]
        is False
    )
    r = api.client.post("/api/auth/login", json={"username": "temp-clerk", "password": "temp-password"})
    assert r.status_code == 401


def test_passwords_are_argon2_and_verify() -> None:
    h = auth.hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, "correct horse")
    assert not auth.verify_password(h, "correct horsE")
    assert not auth.verify_password("not-a-hash", "x")
    assert not auth.verify_password_or_dummy(None, "anything")


def test_session_tokens_expire_and_resist_tampering() -> None:
    signer = auth.SessionSigner(key=b"k" * 32, ttl=60)
    token = signer.issue(user_id=7, username="u", role=auth.Role.CLERK, outlet_id=3, now=1000.0)
    p = signer.verify(token, now=1059.0)
    assert (p.user_id, p.role, p.outlet_id) == (7, auth.Role.CLERK, 3)
    with pytest.raises(AuthError):
        signer.verify(token, now=1060.0)
    version, _body, mac = token.split(".")
    forged = auth.SessionSigner(key=b"x" * 32).issue(
        user_id=7, username="u", role=auth.Role.ADMIN, outlet_id=None, now=1000.0
    )
    with pytest.raises(AuthError):
        signer.verify(f"{version}.{forged.split('.')[1]}.{mac}", now=1001.0)
    with pytest.raises(AuthError):
        auth.SessionSigner(key=b"y" * 32).verify(token, now=1001.0)


def test_rate_limiter_refills() -> None:
    limiter = auth.RateLimiter(rate=2.0, burst=2.0)
    limiter.check("k", now=0.0)
    limiter.check("k", now=0.0)
    with pytest.raises(PolicyError) as exc:
        limiter.check("k", now=0.1)
    assert exc.value.reason is Reason.RATE_LIMITED
    limiter.check("other", now=0.1)  # per key
    limiter.check("k", now=0.6)  # one token back after 0.5 s


def test_api_keys_hash_and_parse() -> None:
    minted = auth.new_api_key(pepper=b"p" * 32)
    assert minted.token.startswith("sk_") and minted.token not in minted.key_hash
    assert auth.hash_api_key(minted.token, pepper=b"p" * 32) == minted.key_hash
    assert auth.hash_api_key(minted.token, pepper=b"q" * 32) != minted.key_hash
    with pytest.raises(AuthError):
        auth.parse_api_key("Bearer nonsense")
