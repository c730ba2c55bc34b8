"""Problem responses, size caps, OpenAPI ids, metrics and the web pages."""

from __future__ import annotations

import json

from apikit import Api, intake, new_id_number, new_phone


def test_request_over_the_cap_is_413_problem(api: Api) -> None:
    r = api.client.post(
        "/api/auth/login", content=b"x" * (5 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "REQUEST_TOO_LARGE"


def test_image_over_the_cap_is_413(api: Api) -> None:
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(new_id_number(), new_phone()),
        files={"portrait": ("p.jpg", b"\xff\xd8\xff" + b"0" * (1024 * 1024 + 10), "image/jpeg")},
    )
    assert r.status_code == 413
    assert r.json()["reason"] == "IMAGE_TOO_LARGE"


def test_validation_errors_are_problems_with_reason(api: Api) -> None:
    r = api.client.post("/api/auth/login", json={"username": ""})
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "INVALID_REQUEST" and body["status"] == 422
    assert body["extra"]["fields"]


def test_unknown_route_is_404_problem(api: Api) -> None:
    r = api.client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["reason"] == "NOT_FOUND"


def test_bad_intake_is_refused_with_document_reason(api: Api, face_a: tuple[bytes, bytes]) -> None:
    number = new_id_number()
    bad = number[:-1] + ("0" if number[-1] != "0" else "1")
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(bad, new_phone()),
        files={"portrait": ("p.jpg", face_a[0], "image/jpeg")},
    )
    assert r.status_code == 422
    assert r.json()["reason"] == "ID_NUMBER_CHECKSUM"
    assert number not in r.text and bad not in r.text


def test_consent_is_required(api: Api, face_a: tuple[bytes, bytes]) -> None:
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(new_id_number(), new_phone(), consent=False),
        files={"portrait": ("p.jpg", face_a[0], "image/jpeg")},
    )
    assert r.status_code == 422 and r.json()["reason"] == "CONSENT_MISSING"


def test_malformed_fields_json(api: Api) -> None:
    r = api.client.post("/api/registrations", headers=api.headers["demo-clerk"], data={"fields": "{not json"})
    assert r.status_code == 400 and r.json()["reason"] == "INVALID_REQUEST"


def test_openapi_operation_ids_are_clean_and_unique(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert "registrations-open_registration" in ids and "platform-check" in ids
    assert all(i.count("-") == 1 for i in ids)


def test_metrics_count_requests_by_route(api: Api) -> None:
    api.client.get("/api/auth/me", headers=api.headers["demo-clerk"])
    text = api.client.get("/metrics").text
    assert 'simkyc_http_requests_total{method="GET",route="/api/auth/me",status="200"}' in text
    assert "simkyc_http_request_seconds_bucket" in text


def test_pages_are_served_without_external_urls(api: Api) -> None:
    r = api.client.get("/", follow_redirects=True)
    assert r.status_code == 200 and "simkyc" in r.text
    for name in ("app.js", "i18n.js", "charts.js", "style.css", "index.html"):
        text = api.client.get(f"/web/{name}").text
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text
    assert "请眨眼" in api.client.get("/web/i18n.js").text


def test_clerk_lists_only_their_outlet(api: Api, face_a: tuple[bytes, bytes]) -> None:
    from apikit import open_registration

    mine = open_registration(api, face_a[0])
    theirs = open_registration(api, face_a[0], clerk="clerk-b")
    a = {
        r["id"]
        for r in api.client.get("/api/registrations", headers=api.headers["demo-clerk"]).json()["items"]
    }
    b = {
        r["id"] for r in api.client.get("/api/registrations", headers=api.headers["clerk-b"]).json()["items"]
    }
    assert mine["id"] in a and theirs["id"] not in a
    assert theirs["id"] in b and mine["id"] not in b
    assert (
        api.client.get(f"/api/registrations/{theirs['id']}", headers=api.headers["demo-clerk"]).status_code
        == 404
    )
    sup = {
        r["id"]
        for r in api.client.get("/api/registrations", headers=api.headers["demo-supervisor"]).json()["items"]
    }
    assert {mine["id"], theirs["id"]} <= sup
    # another clerk cannot feed or finish this capture
    r = api.client.post(f"/api/registrations/{mine['id']}/finish", headers=api.headers["clerk-b"])
    assert r.status_code == 404
    listed = json.dumps(api.client.get("/api/registrations", headers=api.headers["demo-clerk"]).json())
    assert str(mine["_id_number"]) not in listed  # masked only
