"""The authorization table (`simkyc.service.access`, printed in README "Roles and security") walked for
every route and every CLI command: each role gets the documented answer, and for scoped actions each
scope (own outlet / own operator / own capture, or not) and each presence (customer present or not)
does too. A route or command missing from the table fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from accesskit import approve_presence, bound_number, noise_jpeg
from apikit import Api, login, new_id_number, new_phone, open_registration
from sqlalchemy import select

from simkyc.service import auth
from simkyc.service import registration as reg
from simkyc.service.access import COMMANDS, ROUTES, Action, roles_for, table_markdown
from simkyc.store.schema import staff_user

STAFF = {"clerk": "demo-clerk", "supervisor": "demo-supervisor", "auditor": "demo-auditor", "admin": "admin"}
README = Path(__file__).resolve().parents[2] / "README.md"


def _operations(api: Api) -> list[tuple[str, str]]:
    spec = api.client.get("/api/openapi.json").json()
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)


def test_every_route_and_command_is_in_the_table_and_the_readme_prints_it(api: Api) -> None:
    assert set(_operations(api)) == set(ROUTES), "add the route to simkyc.service.access.ROUTES"
    from simkyc.cli import app

    def leaves(cmd: object, prefix: tuple[str, ...] = ()) -> list[str]:
        subs = getattr(cmd, "commands", None)
        if not subs:
            return [" ".join(prefix)]
        return [leaf for name, sub in sorted(subs.items()) for leaf in leaves(sub, (*prefix, name))]

    assert set(leaves(typer.main.get_command(app))) == set(COMMANDS), "add the command to access.COMMANDS"
    assert table_markdown() in README.read_text(encoding="utf-8"), (
        "README is out of date: paste table_markdown()"
    )


def _request(api: Api, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    url = re.sub(
        r"\{[^}]+\}", lambda m: "2" if m.group(0) in ("{user_id}", "{key_id}") else "13900000000", path
    )
    url = url.replace("evidence/13900000000", "evidence/live")
    body = None if method in ("GET", "DELETE") else {}
    r = api.client.request(method, url, headers=headers, json=body)
    body = r.json() if r.headers.get("content-type", "").endswith("json") and r.content else {}
    return r.status_code, str(body.get("reason", "") if isinstance(body, dict) else "")


@pytest.mark.parametrize("role", sorted(STAFF))
def test_each_role_gets_the_documented_answer_on_every_route(api: Api, role: str) -> None:
    headers = api.headers[STAFF[role]]
    for (method, path), action in sorted(ROUTES.items(), key=lambda x: x[0]):
        if (
            action is None
            or action is Action.PLATFORM_CHECK
            or (method, path) == ("POST", "/api/auth/logout")
        ):
            continue  # public; platform keys below; signing out would end this role's session
        status, reason = _request(api, method, path, headers)
        if role in roles_for(action):
            assert status not in (401, 403) or reason == "CUSTOMER_NOT_PRESENT", (role, method, path, status)
        else:
            assert (status, reason) == (403, "FORBIDDEN"), (role, method, path, status, reason)


def test_the_platform_check_needs_a_key_not_a_session(api: Api) -> None:
    body = {"name": "王芳", "id_number": new_id_number(), "phone": new_phone()}
    for name in STAFF.values():
        r = api.client.post("/api/platform/check", headers=api.headers[name], json=body)
        assert r.status_code == 401 and r.json()["reason"] == "API_KEY_INVALID"
    key = api.client.post("/api/admin/keys", headers=api.headers["admin"], json={"platform": "walk"}).json()[
        "token"
    ]
    assert api.client.post("/api/platform/check", headers={"X-API-Key": key}, json=body).status_code == 200


@pytest.fixture(scope="module")
def foreign(api: Api) -> str:
    """A clerk of another operator (scope: not own operator, not own outlet)."""
    db = api.ctx.db
    if "clerk-w" not in api.headers:
        auth.ensure_operator(db, operator_id="WALK", name="Walk operator", actor="t")
        oid = int(str(auth.create_outlet(db, code="W-001", name="W", operator_id="WALK", actor="t")["id"]))
        auth.create_user(
            db,
            username="clerk-w",
            password="clerk-w-password",
            role=auth.Role.CLERK,
            outlet_id=oid,
            actor="t",
        )
        api.headers["clerk-w"] = login(api.client, "clerk-w", "clerk-w-password")
    return "clerk-w"


def _ids(api: Api, username: str) -> tuple[int, int]:
    with api.ctx.engine.connect() as c:
        row = c.execute(
            select(staff_user.c.id, staff_user.c.outlet_id).where(staff_user.c.username == username)
        ).one()
    return int(row.id), int(row.outlet_id)


def test_scopes_and_presence_for_clerks(api: Api, foreign: str) -> None:
    own, other_outlet, other_operator = (
        api.headers["demo-clerk"],
        api.headers["clerk-b"],
        api.headers[foreign],
    )
    # own outlet: registrations
    opened = open_registration(api, noise_jpeg(11))
    assert api.client.get(f"/api/registrations/{opened['id']}", headers=own).status_code == 200
    assert api.client.get(f"/api/registrations/{opened['id']}", headers=other_outlet).status_code == 404
    # own capture: only the clerk who opened it feeds or finishes it
    assert (
        api.client.post(f"/api/registrations/{opened['id']}/finish", headers=other_outlet).status_code == 404
    )
    assert api.client.post(f"/api/registrations/{opened['id']}/finish", headers=own).status_code == 200
    # own operator: re-verification, presence, report, cancel
    number, phone = bound_number(api)
    assert api.client.post(f"/api/numbers/{phone}/reverify", headers=other_operator).status_code == 404
    assert api.client.post(f"/api/numbers/{phone}/reverify", headers=other_outlet).status_code == 201
    card = {"id_number": number, "name": "张三"}
    assert api.client.post("/api/customers/presence", headers=other_operator, json=card).status_code == 404
    assert (
        api.client.post("/api/customers/presence", headers=own, json={**card, "name": "李四"}).status_code
        == 404
    )
    assert api.client.post("/api/customers/presence", headers=own, json=card).status_code == 201
    report = {"id_number": number}
    assert api.client.post("/api/customers/report", headers=other_operator, json=report).json() == []
    masked = api.client.post("/api/customers/report", headers=own, json=report).json()
    assert [n["number"] for n in masked] == [reg.mask_phone(phone)]
    clerk_id, outlet_id = _ids(api, "demo-clerk")
    present = approve_presence(api, number, "张三", clerk_id=clerk_id, outlet_id=outlet_id)
    full = api.client.post("/api/customers/report", headers=own, json={**report, "presence": present}).json()
    assert [n["number"] for n in full] == [phone]
    # another clerk cannot use this clerk's presence check
    r = api.client.post("/api/customers/report", headers=other_outlet, json={**report, "presence": present})
    assert phone not in r.text
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=other_outlet, json={"presence": present})
    assert r.status_code == 403 and r.json()["reason"] == "CUSTOMER_NOT_PRESENT"
    assert api.client.post(f"/api/numbers/{phone}/cancel", headers=other_operator).status_code == 404
    r = api.client.post(f"/api/numbers/{phone}/cancel", headers=own, json={"presence": present})
    assert r.status_code == 200, r.text
    # supervisors: any operator, no presence needed
    _, phone2 = bound_number(api, clerk=foreign)
    assert (
        api.client.post(f"/api/numbers/{phone2}/cancel", headers=api.headers["demo-supervisor"]).status_code
        == 200
    )


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The CLI in this process, on the API app's home (its database and keys)."""
    from simkyc import bootstrap
    from simkyc.cli import app
    from simkyc.config import get_settings

    monkeypatch.setenv("SIMKYC_HOME", str(api.ctx.settings.home))
    monkeypatch.delenv("SIMKYC_DATABASE_URL", raising=False)
    monkeypatch.delenv("SIMKYC_KEYS", raising=False)
    monkeypatch.setenv("SIMKYC_CAPTURES_PER_CLERK", "1000")  # as the API app of this test session
    monkeypatch.setenv("SIMKYC_CAPTURES_PER_OUTLET", "1000")
    for cached in (get_settings, bootstrap.keyring, bootstrap.database, bootstrap.registration_deps):
        cached.cache_clear()
    yield typer.main.get_command(app)
    for cached in (get_settings, bootstrap.keyring, bootstrap.database, bootstrap.registration_deps):
        cached.cache_clear()


def _run(command: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from simkyc.cli._entry import run

    code = run(command, argv)  # type: ignore[arg-type]
    out = capsys.readouterr()
    return code, out.out + out.err


def test_each_role_gets_the_documented_answer_from_every_cli_command(
    api: Api, cli: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from simkyc.core.documents.chip import chip_record_json
    from simkyc.core.images import encode_jpeg

    number = new_id_number()
    record = tmp_path / "card.json"
    portrait = __import__("numpy").random.default_rng(3).integers(0, 256, (126, 102, 3), dtype="uint8")
    record.write_text(
        chip_record_json(
            name="王芳",
            sex="1" if int(number[16]) % 2 else "2",
            birth_date=dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
            id_number=number,
            valid_from=dt.date(2020, 1, 1),
            valid_until=None,
            portrait=("jpeg", encode_jpeg(portrait)),
        ),
        encoding="utf-8",
    )
    video = tmp_path / "none.mp4"
    video.write_bytes(b"not a video")
    checked = set()
    for role, user in STAFF.items():
        held_id, held_phone = bound_number(api)
        argv_for = {
            "register start": ["register", "start", "--id-record", str(record), "--phone", new_phone(),
                               "--outlet", "DEMO-001", "--clerk", user, "--consent"],
            "register frames": ["register", "frames", "0" * 32, str(video), "--clerk", user],
            "register reverify": ["register", "reverify", held_phone, "--outlet", "DEMO-001",
                                  "--clerk", user],
            "register presence": ["register", "presence", "--id-number", held_id, "--name", "张三",
                                  "--outlet", "DEMO-001", "--clerk", user],
            "register review": ["register", "review", "0" * 32, "--supervisor", user, "--approve"],
            "register cancel": ["register", "cancel", held_phone, "--as", user],
            "register report": ["register", "report", held_id, "--as", user],
        }  # fmt: skip
        for name, argv in argv_for.items():
            action, acting = COMMANDS[name]
            assert acting != "console"
            code, text = _run(cli, argv, capsys)
            checked.add(name)
            if role not in roles_for(action):
                assert code == 2 and "FORBIDDEN" in text, (role, name, code, text)
                continue
            assert "FORBIDDEN" not in text, (role, name, text)
            if name == "register cancel" and role == "clerk":
                assert code == 2 and "CUSTOMER_NOT_PRESENT" in text
            if name == "register cancel" and role == "supervisor":
                assert code == 0 and "cancelled" in text
            if name == "register report" and role == "clerk":
                assert reg.mask_phone(held_phone) in text and held_phone not in text
            if name == "register report" and role == "supervisor":
                assert held_phone in text
            if name in ("register start", "register reverify", "register presence"):
                assert code == 0 and "challenge:" in text, (name, text)
    assert checked == {c for c, (_, acting) in COMMANDS.items() if acting != "console"}
    # the machine's own commands act as the local operator: the table says so, no staff role applies
    for name, (action, acting) in COMMANDS.items():
        if acting == "console":
            assert "console" in roles_for(action), name
    code, text = _run(
        cli, ["register", "check", "--name", "王芳", "--id-number", held_id, "--phone", held_phone], capsys
    )
    assert code in (0, 1) and text.strip().splitlines()[-1] in ("consistent", "inconsistent", "no_record")
    assert json.loads(json.dumps(roles_for(Action.PLATFORM_CHECK))) == ["platform", "console"]
