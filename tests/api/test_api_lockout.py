"""The liveness lockout through the API: failed captures for one ID lock it (429 LIVENESS_LOCKED), and
the lock is in the database, so a second app on the same database (another `simkyc serve` process,
or this one restarted) refuses the ID too. Window and expiry with an injected clock are in
tests/service/test_lockout.py."""

from __future__ import annotations

from apikit import Api, intake, new_id_number, new_phone, open_registration, second_app
from sqlalchemy import func, select

from simkyc.store.schema import liveness_failure


def _try_open(api: Api, number: str, portrait: bytes) -> tuple[int, dict[str, object], dict[str, str]]:
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(number, new_phone()),
        files={"portrait": ("p.jpg", portrait, "image/jpeg")},
    )
    return r.status_code, r.json(), dict(r.headers)


def _failures(api: Api, number: str) -> int:
    with api.ctx.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(liveness_failure)
                .where(liveness_failure.c.id_hash == api.ctx.keys.lookup_hash(number))
            ).scalar_one()
        )


def test_failed_captures_lock_the_id_in_every_app_on_the_database(
    api: Api, face_a: tuple[bytes, bytes]
) -> None:
    number = new_id_number()
    limit = api.ctx.settings.lockout_failures
    for k in range(limit):
        opened = open_registration(api, face_a[0], id_number=number)
        # finishing a capture that saw no frames fails liveness (nothing was performed)
        r = api.client.post(f"/api/registrations/{opened['id']}/finish", headers=api.headers["demo-clerk"])
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("RETRY", "REJECTED"), r.json()
        assert _failures(api, number) == k + 1

    status, body, headers = _try_open(api, number, face_a[0])
    assert status == 429, body
    assert body["reason"] == "LIVENESS_LOCKED"
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["retry-after"]) > 60
    assert number not in str(body)
    # another ID is not affected
    assert _try_open(api, new_id_number(), face_a[0])[0] == 201

    with second_app(api) as other:  # a fresh context: nothing in memory is shared with the first app
        status, body, _ = _try_open(other, number, face_a[0])
        assert status == 429 and body["reason"] == "LIVENESS_LOCKED"
        assert _try_open(other, new_id_number(), face_a[0])[0] == 201

    entries = api.client.get("/api/audit?limit=500", headers=api.headers["demo-auditor"]).json()
    assert any(e["action"] == "liveness.lockout" for e in entries)
    refused = [e for e in entries if e["action"] == "registration.refused"]
    assert sum(e["details"]["reason"] == "LIVENESS_LOCKED" for e in refused) >= 2
    assert number not in str(entries)
