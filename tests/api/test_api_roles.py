"""Roles on every route: nothing but sign-in, the platform check and ops endpoints answers without a
session, and each role gets only what it is allowed."""

from __future__ import annotations

import re

import pytest
from apikit import Api

PUBLIC = {("POST", "/api/auth/login"), ("POST", "/api/platform/check")}


def _staff_routes(api: Api) -> list[tuple[str, str]]:
    """Every /api operation in the OpenAPI document except the public ones, with dummy path values."""
    spec = api.client.get("/api/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        if path.startswith("/api/"):
            for method in ops:
                if (method.upper(), path) not in PUBLIC:
                    out.append((method.upper(), re.sub(r"\{[^}]+\}", "13800000000", path)))
    return sorted(out)


def test_every_staff_route_needs_a_session(api: Api) -> None:
    routes = _staff_routes(api)
    assert len(routes) >= 20
    for method, path in routes:
        r = api.client.request(method, path)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["reason"] == "NOT_AUTHENTICATED"


def test_forged_bearer_is_refused(api: Api) -> None:
    r = api.client.get("/api/registrations", headers={"Authorization": "Bearer v1.e30.AAAA"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        ("demo-clerk", "GET", "/api/admin/users", None),
        ("demo-clerk", "GET", "/api/reviews", None),
        ("demo-clerk", "GET", "/api/audit", None),
        ("demo-clerk", "POST", "/api/reviews/x/decision", {"approve": True, "comment": "ok"}),
        ("demo-auditor", "POST", "/api/reviews/x/decision", {"approve": True, "comment": "ok"}),
        ("demo-auditor", "POST", "/api/admin/keys", {"platform": "p"}),
        ("demo-auditor", "POST", "/api/numbers/13800000000/cancel", None),
        ("demo-auditor", "GET", "/api/reviews/x/evidence/live", None),
        (
            "demo-supervisor",
            "POST",
            "/api/admin/users",
            {"username": "x", "password": "12345678", "role": "admin"},
        ),
        ("demo-auditor", "POST", "/api/customers/report", {"id_number": "110105199001010010"}),
        ("admin", "POST", "/api/reviews/x/decision", {"approve": True, "comment": "ok"}),
        ("admin", "GET", "/api/reviews/x/evidence/live", None),
        ("admin", "POST", "/api/registrations/x/finish", None),
    ],
)
def test_role_refusals(api: Api, who: str, method: str, path: str, body: object) -> None:
    r = api.client.request(method, path, headers=api.headers[who], json=body)
    assert r.status_code == 403, r.text
    assert r.json()["reason"] == "FORBIDDEN"


@pytest.mark.parametrize("who", ["demo-auditor", "demo-supervisor", "admin"])
def test_readers_can_read_audit_and_dashboard(api: Api, who: str) -> None:
    assert api.client.get("/api/audit", headers=api.headers[who]).status_code == 200
    assert api.client.get("/api/audit/verify", headers=api.headers[who]).json()["ok"] is True
    assert api.client.get("/api/dashboard", headers=api.headers[who]).status_code == 200


def test_only_admin_manages_users_outlets_keys(api: Api) -> None:
    admin = api.headers["admin"]
    assert api.client.get("/api/admin/outlets", headers=admin).status_code == 200
    r = api.client.post(
        "/api/admin/outlets", headers=admin, json={"code": "C-3", "name": "C", "operator_id": "DEMO"}
    )
    assert r.status_code == 201
    r = api.client.post(
        "/api/admin/outlets", headers=admin, json={"code": "C-3", "name": "C", "operator_id": "DEMO"}
    )
    assert r.status_code == 409
    users = api.client.get("/api/admin/users", headers=admin).json()
    assert all("password" not in str(u) for u in users)
