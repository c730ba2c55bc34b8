"""Whole flows through the API on a real clip: stream the live clip -> APPROVED; the platform check,
the customer report and cancelling; the same face under another ID -> REVIEW, decided by a supervisor
who sees the evidence. (The browser test drives the same API from the page.)"""

from __future__ import annotations

import pytest
from apikit import Api, new_id_number, new_phone, open_registration, stream

from simkyc.service import registration as reg

pytestmark = pytest.mark.slow


def _check(api: Api, key: str, **body: str) -> str:
    r = api.client.post("/api/platform/check", headers={"X-API-Key": key}, json=body)
    assert r.status_code == 200, r.text
    # the API's prepared-statement path agrees with the reference use case
    reference = reg.platform_check(**body, platform="test", deps=api.ctx.registration_deps(), audit=False)
    assert r.json()["result"] == reference
    return str(r.json()["result"])


def test_live_clip_registers_then_platform_report_cancel_review(
    api: Api, live_clip: tuple[bytes, list[tuple[bytes, float]]]
) -> None:
    portrait, frames = live_clip
    number, phone = new_id_number(), new_phone()
    opened = open_registration(api, portrait, id_number=number, phone_number=phone, name="王芳")
    assert opened["challenge"]["actions"] == ["turn_right", "turn_left"]  # type: ignore[index]
    out = stream(api, str(opened["id"]), float(opened["challenge"]["issued_at"]), frames)  # type: ignore[index]
    assert out["status"] == "APPROVED", out
    assert out["scores"]["match"] >= out["thresholds"]["accept"]  # type: ignore[index]
    assert number not in str(out)

    # the platform check, with a key minted by the admin
    key = api.client.post("/api/admin/keys", headers=api.headers["admin"], json={"platform": "app"}).json()[
        "token"
    ]
    assert _check(api, key, name="王芳", id_number=number, phone=phone) == "consistent"
    assert _check(api, key, name="王五", id_number=number, phone=phone) == "inconsistent"
    assert _check(api, key, name="王芳", id_number=new_id_number(), phone=phone) == "inconsistent"
    assert _check(api, key, name="王芳", id_number=number, phone=new_phone()) == "no_record"
    r = api.client.post(
        "/api/platform/check",
        headers={"X-API-Key": key + "x"},
        json={"name": "a", "id_number": number, "phone": phone},
    )
    assert r.status_code == 401 and r.json()["reason"] == "API_KEY_INVALID"

    # the holder's own report: masked while nobody proved the customer is at the counter ...
    report = api.client.post(
        "/api/customers/report", headers=api.headers["demo-clerk"], json={"id_number": number}
    )
    assert [n["number"] for n in report.json()] == [reg.mask_phone(phone)]
    # ... in full once the customer is: the card's ID number and name, then a live check against
    # the stored template (the same clip), streamed and finished like a registration
    r = api.client.post(
        "/api/customers/presence",
        headers=api.headers["demo-clerk"],
        json={"id_number": number, "name": "王芳"},
    )
    assert r.status_code == 201, r.text
    present = r.json()
    out_p = stream(api, str(present["id"]), float(present["challenge"]["issued_at"]), frames)
    assert out_p["status"] == "APPROVED" and out_p["kind"] == "presence", out_p
    report = api.client.post(
        "/api/customers/report",
        headers=api.headers["demo-clerk"],
        json={"id_number": number, "presence": present["id"]},
    )
    assert [n["number"] for n in report.json()] == [phone]

    # the same face under another ID: a supervisor must review
    other, phone2 = new_id_number(), new_phone()
    opened2 = open_registration(api, portrait, id_number=other, phone_number=phone2)
    out2 = stream(api, str(opened2["id"]), float(opened2["challenge"]["issued_at"]), frames)  # type: ignore[index]
    assert out2["status"] == "REVIEW", out2
    assert "DUPLICATE_FACE_OTHER_ID" in [r["code"] for r in out2["reasons"]]  # type: ignore[union-attr]
    cases = api.client.get("/api/reviews", headers=api.headers["demo-supervisor"]).json()
    case = next(c for c in cases if c["registration_id"] == opened2["id"])
    assert case["candidates"] and "*" in case["candidates"][0]["identity"]
    assert case["evidence"] == ["id_photo", "live"]
    img = api.client.get(
        f"/api/reviews/{opened2['id']}/evidence/live", headers=api.headers["demo-supervisor"]
    )
    assert (
        img.status_code == 200
        and img.headers["content-type"] == "image/jpeg"
        and img.content[:3] == b"\xff\xd8\xff"
    )
    assert img.headers["cache-control"] == "no-store"
    r = api.client.post(
        f"/api/reviews/{opened2['id']}/decision",
        headers=api.headers["demo-supervisor"],
        json={"approve": False, "comment": "same person as another subscriber"},
    )
    assert r.status_code == 200 and r.json()["status"] == "REJECTED"
    assert (
        api.client.get(f"/api/reviews/{opened2['id']}", headers=api.headers["demo-supervisor"]).json()[
            "evidence"
        ]
        == []
    )

    # cancelling the number: the platform no longer finds it
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=api.headers["demo-clerk"])
    assert r.status_code == 403 and r.json()["reason"] == "CUSTOMER_NOT_PRESENT"
    r = api.client.post(
        f"/api/numbers/{phone}/cancel", headers=api.headers["demo-clerk"], json={"presence": present["id"]}
    )
    assert r.status_code == 200 and r.json()["template_deleted"] is True
    assert _check(api, key, name="王芳", id_number=number, phone=phone) == "no_record"

    # every step is in the audit log, and the chain verifies
    api.ctx.platform_audit.flush()
    entries = api.client.get("/api/audit?limit=500", headers=api.headers["demo-auditor"]).json()
    checks = [  # the API's batched entries, and single ones from the CLI's checks (same database)
        i
        for e in entries
        if e["action"] == "platform.check"
        for i in e["details"].get("items", [e["details"]])
    ]
    assert len(checks) >= 5 and {i["answer"] for i in checks} == {"consistent", "inconsistent", "no_record"}
    assert phone not in str(entries) and number not in str(entries)  # masked numbers only
    actions = {
        e["action"]
        for e in api.client.get("/api/audit?limit=500", headers=api.headers["demo-auditor"]).json()
    }
    assert {
        "registration.open",
        "registration.decide",
        "review.close",
        "platform.check",
        "number.cancel",
    } <= actions
    assert api.client.get("/api/audit/verify", headers=api.headers["demo-auditor"]).json()["ok"] is True
    dash = api.client.get("/api/dashboard", headers=api.headers["demo-auditor"]).json()
    assert dash["total"] >= 2 and any(r["code"] == "DUPLICATE_FACE_OTHER_ID" for r in dash["reasons"])


def test_platform_key_rate_limit(api: Api) -> None:
    key = api.client.post("/api/admin/keys", headers=api.headers["admin"], json={"platform": "burst"}).json()[
        "token"
    ]
    body = {"name": "王芳", "id_number": new_id_number(), "phone": new_phone()}
    codes = [
        api.client.post("/api/platform/check", headers={"X-API-Key": key}, json=body).status_code
        for _ in range(30)
    ]
    assert codes.count(200) >= 20 and 429 in codes  # burst 20, 5/s
    revoked = api.client.get("/api/admin/keys", headers=api.headers["admin"]).json()[-1]["id"]
    assert api.client.delete(f"/api/admin/keys/{revoked}", headers=api.headers["admin"]).status_code == 204
    r = api.client.post("/api/platform/check", headers={"X-API-Key": key}, json=body)
    assert r.status_code == 401
