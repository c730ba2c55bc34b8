"""Re-verification of a bound number (`POST /api/numbers/{number}/reverify`, then frames and finish as
for a registration), checked live against the stored template.

The holder of real.mov is registered, then re-verified with the same clip (APPROVED). Then another
person (the woman of blink_r4onlyrishabh/default1.mp4) tries. Her clip blinks and nods, so a second
app on the same database issues that challenge (`seed_for("blink", "nod")`). She passes liveness, does
not match the template, and the number is suspended. Refusals: a number nobody holds, a malformed
number, and roles other than the clerk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apikit import Api, jpeg, new_id_number, new_phone, open_registration, second_app, seed_for, stream


def _codes(out: dict[str, object]) -> list[str]:
    return [r["code"] for r in out["reasons"]]  # type: ignore[attr-defined, index]


def _reverify(api: Api, phone: str, who: str = "demo-clerk") -> tuple[int, dict[str, object]]:
    r = api.client.post(f"/api/numbers/{phone}/reverify", headers=api.headers[who])
    return r.status_code, r.json()


def _status(api: Api, id_number: str, phone: str) -> str:
    report = api.client.post(  # a supervisor sees full numbers (a clerk: masked, without the customer)
        "/api/customers/report", headers=api.headers["demo-supervisor"], json={"id_number": id_number}
    ).json()
    return str(next(n["status"] for n in report if n["number"] == phone))


@pytest.fixture(scope="module")
def other_clip(videos_dir: Path) -> list[tuple[bytes, float]]:
    """Another person's clip (she blinks, then nods) as JPEG frames with their offsets."""
    from simkyc.service.liveness import read_video

    clip = read_video(videos_dir / "blink_r4onlyrishabh" / "default1.mp4")
    return [(jpeg(img, 85), off) for img, off in zip(clip.frames, clip.offsets, strict=True)]


@pytest.mark.slow
def test_holder_passes_and_another_face_fails_reverification(
    api: Api, live_clip: tuple[bytes, list[tuple[bytes, float]]], other_clip: list[tuple[bytes, float]]
) -> None:
    portrait, frames = live_clip
    number, phone = new_id_number(), new_phone()
    opened = open_registration(api, portrait, id_number=number, phone_number=phone)
    out = stream(api, str(opened["id"]), float(opened["challenge"]["issued_at"]), frames)  # type: ignore[index]
    assert out["status"] == "APPROVED", out

    # the holder, live again with the same clip
    status, again = _reverify(api, phone)
    assert status == 201, again
    assert again["status"] == "OPEN" and again["id_masked"] == opened["id_masked"]
    assert again["challenge"]["actions"] == ["turn_right", "turn_left"]  # type: ignore[index]
    assert number not in str(again)
    out = stream(api, str(again["id"]), float(again["challenge"]["issued_at"]), frames)  # type: ignore[index]
    assert out["status"] == "APPROVED" and out["kind"] == "reverify", out
    assert "FACE_MATCH" in _codes(out)
    assert number not in str(out)
    row = api.client.get(f"/api/registrations/{again['id']}", headers=api.headers["demo-clerk"]).json()
    assert row["kind"] == "reverify" and row["status"] == "APPROVED"
    assert _status(api, number, phone) == "active"

    # another person presents herself as the holder
    with second_app(api, challenge_test_seed=seed_for("blink", "nod")) as other:
        status, impostor = _reverify(other, phone)
        assert status == 201, impostor
        assert impostor["challenge"]["actions"] == ["blink", "nod"]  # type: ignore[index]
        out = stream(other, str(impostor["id"]), float(impostor["challenge"]["issued_at"]), other_clip)  # type: ignore[index]
    assert out["status"] == "REJECTED", out
    assert "FACE_MISMATCH" in _codes(out)
    assert _status(api, number, phone) == "suspended"

    actions = [
        e["action"]
        for e in api.client.get("/api/audit?limit=500", headers=api.headers["demo-auditor"]).json()
        if e["object"] in (f"registration:{again['id']}", f"registration:{impostor['id']}")
    ]
    assert actions.count("registration.reverify_open") == 2 and actions.count("registration.decide") == 2

    # the session's other tests register this face under new IDs: cancel, so his template leaves 1:N
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=api.headers["demo-supervisor"])
    assert r.status_code == 200, r.text


def test_a_number_nobody_holds_is_404(api: Api) -> None:
    status, body = _reverify(api, new_phone())
    assert status == 404 and body["reason"] == "NOT_FOUND"


def test_a_malformed_number_is_refused(api: Api) -> None:
    status, body = _reverify(api, "12345")
    assert 400 <= status < 500 and body["reason"] == "PHONE_NUMBER_INVALID"


@pytest.mark.parametrize("who", ["demo-auditor", "demo-supervisor", "admin"])
def test_only_clerks_reverify(api: Api, who: str) -> None:
    status, body = _reverify(api, new_phone(), who)
    assert status == 403 and body["reason"] == "FORBIDDEN"
