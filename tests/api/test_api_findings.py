"""Regression tests for the ten findings of issue 14's hostile-clerk probe, one test per finding.

Each fails on the code before issue 14 (a2e1561): there another outlet's or operator's clerk could
re-verify, suspend, cancel and read any customer's numbers, a 97-byte PNG became a 108 MB blob,
sign-outs did not reach other processes, odd bytes and numbers gave 500s, one clerk could take
every capture slot, sign-in was not throttled, platform checks answered just before a SIGKILL were
missing from the audit log, and bad names, chunked oversize bodies and undeclared problem responses
went through.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from accesskit import bound_number, noise_jpeg
from apikit import Api, intake, jpeg, login, new_id_number, new_phone, open_registration, second_app
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import func, select

from simkyc.service import auth
from simkyc.service import registration as reg
from simkyc.store.fields import aad_id_photo, arrays_from_bytes
from simkyc.store.schema import audit_entry, face_template, phone_number, registration

OTHER_OPERATOR = "OTHER"


@pytest.fixture(scope="module")
def other(api: Api) -> str:
    """A clerk of another operator (`clerk-x`), and a second clerk at the demo outlet (`clerk-a2`)."""
    db = api.ctx.db
    if "clerk-x" not in api.headers:
        auth.ensure_operator(db, operator_id=OTHER_OPERATOR, name="Other operator", actor="test")
        outlet_x = int(
            str(auth.create_outlet(db, code="X-001", name="X", operator_id=OTHER_OPERATOR, actor="t")["id"])
        )
        auth.create_user(
            db,
            username="clerk-x",
            password="clerk-x-password",
            role=auth.Role.CLERK,
            outlet_id=outlet_x,
            actor="t",
        )
        demo_outlet = next(o for o in auth.list_outlets(db.engine) if o["code"] == "DEMO-001")["id"]
        auth.create_user(
            db,
            username="clerk-a2",
            password="clerk-a2-password",
            role=auth.Role.CLERK,
            outlet_id=int(str(demo_outlet)),
            actor="t",
        )
        api.headers["clerk-x"] = login(api.client, "clerk-x", "clerk-x-password")
        api.headers["clerk-a2"] = login(api.client, "clerk-a2", "clerk-a2-password")
    return "clerk-x"


def _status(api: Api, phone: str) -> str:
    with api.ctx.engine.connect() as c:
        return str(
            c.execute(select(phone_number.c.status).where(phone_number.c.number == phone)).scalar_one()
        )


def _refusals(api: Api) -> int:
    with api.ctx.engine.connect() as c:
        return int(
            c.execute(
                select(func.count()).select_from(audit_entry).where(audit_entry.c.action == "access.refused")
            ).scalar_one()
        )


def _grey_frame_capture(api: Api, registration_id: str, clerk: str = "demo-clerk") -> dict[str, object]:
    """One grey frame timed 5 s before the epoch (a stale, replayed-looking capture), then finish."""
    grey = jpeg(np.full((120, 160, 3), 128, dtype=np.uint8))
    r = api.client.post(
        f"/api/registrations/{registration_id}/frames",
        headers=api.headers[clerk],
        data={"timestamps": "[-5]"},
        files=[("frames", ("0.jpg", grey, "image/jpeg"))],
    )
    assert r.status_code == 200, r.text
    r = api.client.post(f"/api/registrations/{registration_id}/finish", headers=api.headers[clerk])
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def test_finding_01_reverification_is_scoped_to_the_operator_and_never_suspends_on_a_failed_capture(
    api: Api, other: str
) -> None:
    _, phone = bound_number(api)
    before = _refusals(api)
    r = api.client.post(f"/api/numbers/{phone}/reverify", headers=api.headers["clerk-x"])
    assert r.status_code == 404 and r.json()["reason"] == "NOT_FOUND"  # another operator's number
    assert _refusals(api) == before + 1  # the refusal is audited
    # the clerk's own operator: a stale one-frame capture is a RETRY, the customer keeps the number
    r = api.client.post(f"/api/numbers/{phone}/reverify", headers=api.headers["demo-clerk"])
    assert r.status_code == 201, r.text
    out = _grey_frame_capture(api, r.json()["id"])
    assert out["status"] == "RETRY" and out["kind"] == "reverify", out
    assert "STALE_OR_REPLAYED_FRAMES" in str(out["reasons"])
    assert _status(api, phone) == "active"


def test_finding_02_a_clerk_cannot_cancel_a_customer_who_is_not_present(api: Api, other: str) -> None:
    _, phone = bound_number(api)
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=api.headers["clerk-b"])  # another outlet
    assert r.status_code == 403 and r.json()["reason"] == "CUSTOMER_NOT_PRESENT"
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=api.headers["clerk-x"])  # another operator
    assert r.status_code == 404
    r = api.client.post(  # a presence check that is not this customer's (nor approved) does not count
        f"/api/numbers/{phone}/cancel", headers=api.headers["clerk-b"], json={"presence": "0" * 32}
    )
    assert r.status_code == 403
    assert _status(api, phone) == "active"
    with api.ctx.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(face_template)).scalar_one() >= 1
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=api.headers["demo-supervisor"])
    assert r.status_code == 200 and _status(api, phone) == "cancelled"  # a supervisor may


def test_finding_03_the_report_without_the_customer_shows_masked_numbers_only(api: Api, other: str) -> None:
    number, phone = bound_number(api)
    r = api.client.post("/api/customers/report", headers=api.headers["clerk-b"], json={"id_number": number})
    assert r.status_code == 200
    assert [n["number"] for n in r.json()] == [reg.mask_phone(phone)] and phone not in r.text
    r = api.client.post("/api/customers/report", headers=api.headers["clerk-x"], json={"id_number": number})
    assert r.status_code == 200 and r.json() == []  # another operator's clerk sees none of them
    r = api.client.post(
        "/api/customers/report",
        headers=api.headers["clerk-b"],
        json={"id_number": number, "presence": "1" * 32},
    )
    assert phone not in r.text
    r = api.client.post(
        "/api/customers/report", headers=api.headers["demo-supervisor"], json={"id_number": number}
    )
    assert [n["number"] for n in r.json()] == [phone]


def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of `width` x `height` black pixels: a few kB that decode to width*height*3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    rows = zlib.compress(bytes((1 + (width + 7) // 8) * height), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_finding_04_image_headers_are_checked_by_kind_and_portraits_are_stored_as_bounded_jpeg(
    api: Api,
) -> None:
    bomb = _png_bomb(6000, 6000)
    assert len(bomb) < 10_000  # decodes to 108 MB of pixels
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(new_id_number(), new_phone()),
        files={"portrait": ("p.png", bomb, "image/png")},
    )
    assert r.status_code == 413 and r.json()["reason"] == "IMAGE_TOO_LARGE", r.text
    # a camera frame over 1920x1080 is refused from its header, before any decoding
    opened = open_registration(api, noise_jpeg(1))
    big = io.BytesIO()
    PILImage.new("RGB", (6000, 6000), (90, 90, 90)).save(big, format="JPEG", quality=30)
    r = api.client.post(
        f"/api/registrations/{opened['id']}/frames",
        headers=api.headers["demo-clerk"],
        data={"timestamps": json.dumps([time.time()])},
        files=[("frames", ("0.jpg", big.getvalue(), "image/jpeg"))],
    )
    assert r.status_code == 413 and r.json()["reason"] == "IMAGE_TOO_LARGE", r.text
    # the open registration keeps its portrait as a small JPEG, never as raw pixels
    portrait = noise_jpeg(2, (1000, 800))
    opened = open_registration(api, portrait)
    with api.ctx.engine.connect() as c:
        row = c.execute(select(registration).where(registration.c.id == opened["id"])).one()
    arrays = arrays_from_bytes(api.ctx.keys.decrypt(row.key_id, row.id_photo_enc, aad=aad_id_photo(row.id)))
    assert "id_photo" not in arrays and bytes(arrays["id_photo_jpeg"][:3]) == b"\xff\xd8\xff"
    stored = PILImage.open(io.BytesIO(bytes(arrays["id_photo_jpeg"])))
    assert max(stored.size) <= 640 and len(row.id_photo_enc) < 1000 * 800 * 3 // 4


def test_finding_05_sign_out_and_account_changes_hold_on_every_process_and_after_restart(api: Api) -> None:
    admin = api.headers["admin"]
    made = api.client.post(
        "/api/admin/users",
        headers=admin,
        json={
            "username": "clerk-s",
            "password": "clerk-s-password",
            "role": "clerk",
            "outlet_id": api.outlet_b,
        },
    ).json()
    first = login(api.client, "clerk-s", "clerk-s-password")
    second = login(api.client, "clerk-s", "clerk-s-password")
    assert api.client.post("/api/auth/logout", headers=first).status_code == 204
    assert api.client.get("/api/auth/me", headers=first).status_code == 401
    with second_app(api) as other_process:  # a second `simkyc serve` on the same database
        assert other_process.client.get("/api/auth/me", headers=first).status_code == 401
        assert other_process.client.get("/api/auth/me", headers=second).status_code == 200
    with second_app(api) as restarted:
        assert restarted.client.get("/api/auth/me", headers=first).status_code == 401
    # disabling the account ends its other session at once, here and in every other process
    r = api.client.patch(f"/api/admin/users/{made['id']}", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert api.client.get("/api/auth/me", headers=second).status_code == 401
    _, phone = bound_number(api, clerk="clerk-b")
    with second_app(api) as other_process:
        r = other_process.client.post(f"/api/numbers/{phone}/cancel", headers=second)
        assert r.status_code == 401
        r = other_process.client.post(
            "/api/customers/report", headers=second, json={"id_number": new_id_number()}
        )
        assert r.status_code == 401
    # the service layer refuses the disabled account too, whatever token the caller holds (CLI)
    with pytest.raises(auth.AuthError):
        reg.cancel_number(phone, staff_id=int(made["id"]), deps=api.ctx.registration_deps())
    # a role change and a password change end sessions too
    api.client.patch(f"/api/admin/users/{made['id']}", headers=admin, json={"active": True})
    third = login(api.client, "clerk-s", "clerk-s-password")
    api.client.patch(
        f"/api/admin/users/{made['id']}", headers=admin, json={"role": "supervisor", "outlet_id": None}
    )
    assert api.client.get("/api/auth/me", headers=third).status_code == 401
    fourth = login(api.client, "clerk-s", "clerk-s-password")
    api.client.patch(f"/api/admin/users/{made['id']}", headers=admin, json={"password": "new-password-1"})
    with second_app(api) as other_process:
        assert other_process.client.get("/api/auth/me", headers=fourth).status_code == 401


def test_finding_06_odd_bytes_huge_numbers_and_deep_json_are_4xx_never_500(api: Api) -> None:
    r = api.client.get("/api/auth/me", headers={"Authorization": b"Bearer v1.\xc3\xa9\xff.x"})
    assert r.status_code == 401 and r.json()["reason"] == "NOT_AUTHENTICATED"
    r = api.client.post(
        "/api/platform/check",
        headers={"X-API-Key": b"sk_12345678_\xe4\xb8\xad\xff"},
        json={"name": "a", "id_number": new_id_number(), "phone": new_phone()},
    )
    assert r.status_code == 401 and r.json()["reason"] == "API_KEY_INVALID"
    huge = str(2**63)
    for method, path, body in (
        ("GET", f"/api/audit?before_seq={huge}", None),
        ("GET", f"/api/registrations?outlet_id={huge}", None),
        ("PATCH", f"/api/admin/users/{huge}", {"active": False}),
        ("DELETE", f"/api/admin/keys/{huge}", None),
        (
            "POST",
            "/api/admin/users",
            {"username": "u-huge", "password": "12345678", "role": "clerk", "outlet_id": 2**63},
        ),
    ):
        r = api.client.request(method, path, headers=api.headers["admin"], json=body)
        assert 400 <= r.status_code < 500 and r.json()["reason"], (path, r.status_code, r.text)
    deep = "[" * 1000 + "]" * 1000
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data={"fields": '{"name": ' + deep + "}"},
        files={"portrait": ("p.jpg", noise_jpeg(), "image/jpeg")},
    )
    assert r.status_code == 400 and r.json()["reason"] == "INVALID_REQUEST", r.text
    opened = open_registration(api, noise_jpeg(3))
    frame = ("frames", ("0.jpg", noise_jpeg(4), "image/jpeg"))
    for stamps in (deep, "[" + "9" * 310 + "]", "[1e999]", '{"a": 1}'):
        r = api.client.post(
            f"/api/registrations/{opened['id']}/frames",
            headers=api.headers["demo-clerk"],
            data={"timestamps": stamps},
            files=[frame],
        )
        assert r.status_code == 400 and r.json()["reason"] == "INVALID_REQUEST", (stamps[:20], r.text)


def test_finding_07_one_clerk_cannot_take_every_capture_slot(api: Api) -> None:
    db = api.ctx.db
    outlets = []
    for code in ("L-001", "L-002"):
        outlets.append(
            int(str(auth.create_outlet(db, code=code, name=code, operator_id="DEMO", actor="t")["id"]))
        )
    for name, outlet in (("clerk-l1", outlets[0]), ("clerk-l2", outlets[0]), ("clerk-l3", outlets[1])):
        auth.create_user(
            db, username=name, password=f"{name}-password", role=auth.Role.CLERK, outlet_id=outlet, actor="t"
        )
        api.headers[name] = login(api.client, name, f"{name}-password")

    def try_open(limited: Api, clerk: str) -> httpx.Response:
        return limited.client.post(
            "/api/registrations",
            headers=limited.headers[clerk],
            data=intake(new_id_number(), new_phone()),
            files={"portrait": ("p.jpg", noise_jpeg(5), "image/jpeg")},
        )

    with second_app(api, captures_per_clerk=2, captures_per_outlet=3) as limited:
        assert [try_open(limited, "clerk-l1").status_code for _ in range(3)] == [201, 201, 429]
        r = try_open(limited, "clerk-l1")
        assert r.status_code == 429 and r.json()["reason"] == "RATE_LIMITED", r.text
        assert int(r.headers["retry-after"]) >= 1
        # another clerk of the outlet still gets a slot, up to the outlet's limit
        assert [try_open(limited, "clerk-l2").status_code for _ in range(2)] == [201, 429]
        # a clerk of another outlet is not affected
        assert try_open(limited, "clerk-l3").status_code == 201
    # the count is in the database: another process agrees
    with second_app(api, captures_per_clerk=2, captures_per_outlet=3) as again:
        assert try_open(again, "clerk-l1").status_code == 429


def test_finding_08_sign_in_is_throttled_without_locking_out_the_real_clerk(api: Api) -> None:
    auth.create_user(
        api.ctx.db,
        username="clerk-t",
        password="clerk-t-password",
        role=auth.Role.CLERK,
        outlet_id=api.outlet_b,
        actor="t",
    )

    def audited() -> int:
        with api.ctx.engine.connect() as c:
            return int(
                c.execute(
                    select(func.count())
                    .select_from(audit_entry)
                    .where(audit_entry.c.action == "auth.login_refused")
                ).scalar_one()
            )

    before = audited()
    with TestClient(api.app, client=("192.0.2.8", 40000)) as stranger:
        codes = [
            stranger.post(
                "/api/auth/login", json={"username": "clerk-t", "password": f"guess-{i}"}
            ).status_code
            for i in range(20)
        ]
    assert codes[:3] == [401, 401, 401] and codes.count(429) >= 15, codes
    assert audited() - before <= 5  # throttled attempts cost no argon2 check and no audit write
    # the stranger keeps guessing; the real clerk from elsewhere waits seconds, never a lockout
    throttle, signer, db = api.ctx.throttle, api.ctx.signer, api.ctx.db
    now = time.time()
    for k in range(30):
        with pytest.raises((auth.AuthError, auth.PolicyError)):
            auth.authenticate(
                db,
                username="clerk-t",
                password="x",
                signer=signer,
                now=now + k,
                client="192.0.2.8",
                throttle=throttle,
            )
    later = now + 30 + 9
    token, who = auth.authenticate(
        db,
        username="clerk-t",
        password="clerk-t-password",
        signer=signer,
        now=later,
        client="198.51.100.4",
        throttle=throttle,
    )
    assert token and who.username == "clerk-t"


def _free_port() -> int:
    for port in range(8240, 8299):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 8240-8298")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path, str]]:
    """A real `simkyc serve` on a fresh home with one platform key: (process, base URL, home, key)."""
    from simkyc.api.context import derive_key
    from simkyc.store import open_database
    from simkyc.store.crypto import load_keyring

    home = tmp_path / "home"
    db = open_database(
        f"sqlite:///{home / 'simkyc.db'}", load_keyring(env_json=None, key_file=home / "keys.json")
    )
    auth.ensure_operator(db, operator_id="DEMO", name="Demo", actor="test")
    _, key = auth.create_api_key(db, platform="shop", pepper=derive_key(db.keys, "api-key"), actor="test")
    db.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "SIMKYC_HOME": str(home),
        "SIMKYC_PLATFORM_RATE_PER_S": "100000",
        "SIMKYC_PLATFORM_BURST": "100000",
    }
    env.pop("SIMKYC_DATABASE_URL", None)
    env.pop("SIMKYC_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from simkyc.cli import app; app()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("simkyc serve did not start")
    try:
        yield proc, base, home, key
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_finding_09_platform_checks_answered_before_a_sigkill_are_all_audited(
    server: tuple[subprocess.Popen[bytes], str, Path, str],
) -> None:
    proc, base, home, key = server
    answered = 0
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as client:
        for i in range(150):
            r = client.post(
                "/api/platform/check",
                json={"name": "张三", "id_number": new_id_number(), "phone": f"1391234{i:04d}"},
            )
            assert r.status_code == 200, r.text
            answered += 1
    os.kill(proc.pid, signal.SIGKILL)  # at once: nothing left the process after the last answer
    proc.wait(timeout=10)
    from simkyc.store import open_database
    from simkyc.store.crypto import load_keyring

    db = open_database(
        f"sqlite:///{home / 'simkyc.db'}", load_keyring(env_json=None, key_file=home / "keys.json")
    )
    try:
        with db.engine.connect() as c:
            rows = c.execute(
                select(audit_entry.c.details).where(audit_entry.c.action == "platform.check")
            ).scalars()
            audited = sum(int(json.loads(d)["count"]) for d in rows)
    finally:
        db.dispose()
    assert audited == answered


def test_finding_10_names_chunked_uploads_the_openapi_contract_and_the_reverification_kind(
    api: Api, other: str
) -> None:
    for bad in ("   ", "张\x00三", "张\u200b三", "\u202e三张"):
        r = api.client.post(
            "/api/registrations",
            headers=api.headers["demo-clerk"],
            data=intake(new_id_number(), new_phone(), name=bad),
            files={"portrait": ("p.jpg", noise_jpeg(8), "image/jpeg")},
        )
        assert r.status_code == 422 and r.json()["reason"] == "NAME_INVALID", (repr(bad), r.text)
    # a body over the cap sent in chunks (no Content-Length) is 413, as a declared one is
    boundary = "simkycboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="fields"\r\n\r\n'
        + json.dumps(json.loads(intake(new_id_number(), new_phone())["fields"]))
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="portrait"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(5 * 16):  # 5 MB against the test app's 4 MB cap
            yield b"\xff" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = api.client.post(
        "/api/registrations",
        headers={**api.headers["demo-clerk"], "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=chunks(),
    )
    assert r.status_code == 413 and r.json()["reason"] == "REQUEST_TOO_LARGE", r.text
    # the OpenAPI document declares the problem responses
    spec = api.client.get("/api/openapi.json").json()
    op = spec["paths"]["/api/registrations"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "409", "413", "422", "429"):
        assert "application/problem+json" in op[status]["content"], status
    # a re-verification's finish says what it is
    _, phone = bound_number(api)
    r = api.client.post(f"/api/numbers/{phone}/reverify", headers=api.headers["demo-clerk"])
    out = api.client.post(
        f"/api/registrations/{r.json()['id']}/finish", headers=api.headers["demo-clerk"]
    ).json()
    assert out["kind"] == "reverify", out
