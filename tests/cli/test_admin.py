"""`simkyc admin create-user` and `reset-password`: the way back from a lost first-run password,
through the service layer, audited, without deleting the home folder."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from simkyc import bootstrap
from simkyc.api.queries import audit_entries
from simkyc.cli import app
from simkyc.cli._entry import run
from simkyc.cli._serve import first_run_setup
from simkyc.config import get_settings
from simkyc.errors import AuthError
from simkyc.service import auth


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIMKYC_HOME", str(tmp_path))
    monkeypatch.delenv("SIMKYC_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    first_run_setup(bootstrap.database())
    yield tmp_path
    get_settings.cache_clear()


def _sign_in(username: str, password: str) -> auth.Principal:
    signer = auth.SessionSigner(key=b"k" * 32)
    return auth.authenticate(
        bootstrap.database(), username=username, password=password, signer=signer, now=time.time()
    )[1]


def _password(out: str, username: str) -> str:
    found = re.search(rf"^\s+\w+\s+{re.escape(username)}\s+(\S+)\s*$", out, re.M)
    assert found, out
    return found.group(1)


def test_create_user_then_reset_password(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = typer.main.get_command(app)
    assert run(command, ["admin", "create-user", "clerk-2", "--role", "clerk", "--outlet", "DEMO-001"]) == 0
    first = _password(capsys.readouterr().out, "clerk-2")
    who = _sign_in("clerk-2", first)
    assert who.role is auth.Role.CLERK and who.outlet_id is not None

    assert run(command, ["admin", "reset-password", "clerk-2"]) == 0
    second = _password(capsys.readouterr().out, "clerk-2")
    assert second != first and len(second) >= 16
    assert _sign_in("clerk-2", second).username == "clerk-2"
    with pytest.raises(AuthError):
        _sign_in("clerk-2", first)

    actions = [(e["action"], e["actor"]) for e in audit_entries(bootstrap.database().engine, limit=20)]
    assert any(a == "staff.create" and actor.startswith("cli") for a, actor in actions)
    assert any(a == "staff.password_reset" and actor.startswith("cli") for a, actor in actions)
    # the password never reaches the audit log
    text = str(audit_entries(bootstrap.database().engine, limit=50))
    assert first not in text and second not in text


def test_reset_password_from_stdin(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    command = typer.main.get_command(app)
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    assert run(command, ["admin", "reset-password", "demo-auditor", "--password-stdin"]) == 0
    assert "a-long-enough-password" not in capsys.readouterr().out
    assert _sign_in("demo-auditor", "a-long-enough-password").role is auth.Role.AUDITOR
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run(command, ["admin", "reset-password", "demo-auditor", "--password-stdin"]) == 2
    assert "fewer than 8" in capsys.readouterr().err


def test_clerk_needs_an_existing_outlet(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = typer.main.get_command(app)
    assert run(command, ["admin", "create-user", "c3", "--role", "clerk"]) == 2
    assert "outlet" in capsys.readouterr().err
    assert run(command, ["admin", "create-user", "c3", "--role", "clerk", "--outlet", "NOPE"]) == 2
    assert "no outlet 'NOPE'" in capsys.readouterr().err
    assert run(command, ["admin", "create-user", "admin", "--role", "admin"]) == 2
    assert "taken" in capsys.readouterr().err
