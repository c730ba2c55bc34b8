"""What the outlet page needs from the API (issue 17): the clerk's outlet by code and name and the
card reader bridge's address, ethnicity and issuing authority kept with the intake, a "no face in
view" signal while streaming, and API docs that load nothing from the internet."""

from __future__ import annotations

import json
import re

import numpy as np
from apikit import Api, jpeg, new_id_number, new_phone, open_registration


def test_me_names_the_outlet_and_the_reader_bridge(api: Api) -> None:
    me = api.client.get("/api/auth/me", headers=api.headers["demo-clerk"]).json()
    assert me["outlet_code"] == "DEMO-001" and me["outlet_name"]
    assert me["reader_bridge_url"] == api.ctx.settings.reader_bridge_url
    sup = api.client.get("/api/auth/me", headers=api.headers["demo-supervisor"]).json()
    assert sup["outlet_code"] is None and sup["reader_bridge_url"] is None


def test_docs_load_only_local_files(api: Api) -> None:
    page = api.client.get("/api/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href|url)\s*[=:]\s*[\'"]([^\'"]+)[\'"]', page.text)
    assert urls and all(u.startswith("/api/") for u in urls), urls
    assert "http://" not in page.text and "https://" not in page.text
    js = api.client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and b"SwaggerUIBundle" in js.content
    assert api.client.get("/api/docs/assets/swagger-ui.css").status_code == 200
    assert api.client.get("/api/openapi.json").json()["openapi"].startswith("3.")


def test_ethnicity_and_issuer_are_taken(api: Api, face_a: tuple[bytes, bytes]) -> None:
    opened = open_registration(api, face_a[0], ethnicity="01", issuer="北京市公安局朝阳分局")
    assert opened["status"] == "OPEN"
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data={
            "fields": json.dumps(
                {
                    "name": "张三",
                    "id_number": new_id_number(),
                    "sex": "M",
                    "birth_date": "1990-01-01",
                    "phone_number": new_phone(),
                    "consent": True,
                    "ethnicity": "火星",
                }
            )
        },
        files={"portrait": ("p.jpg", face_a[0], "image/jpeg")},
    )
    assert r.status_code == 422 and r.json()["reason"] == "ID_RECORD_INVALID"


def test_frames_say_whether_a_face_is_in_view(api: Api, face_a: tuple[bytes, bytes]) -> None:
    opened = open_registration(api, face_a[0])
    t0 = float(opened["challenge"]["issued_at"]) + 0.3  # type: ignore[index]
    rng = np.random.default_rng(3)
    wall = [jpeg(rng.integers(90, 110, (480, 640, 3), dtype=np.uint8)) for _ in range(3)]
    r = api.client.post(
        f"/api/registrations/{opened['id']}/frames",
        headers=api.headers["demo-clerk"],
        data={"timestamps": str([t0 + 0.1 * i for i in range(3)])},
        files=[("frames", (f"f{i}.jpg", b, "image/jpeg")) for i, b in enumerate(wall)],
    )
    assert r.status_code == 200, r.text
    assert r.json()["face_in_view"] is False and r.json()["finished"] is False
    face = face_a[1]
    r = api.client.post(
        f"/api/registrations/{opened['id']}/frames",
        headers=api.headers["demo-clerk"],
        data={"timestamps": str([t0 + 0.5])},
        files=[("frames", ("f.jpg", face, "image/jpeg"))],
    )
    assert r.status_code == 200, r.text
    assert r.json()["face_in_view"] is True
