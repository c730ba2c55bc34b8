"""`simkyc admin create-user|reset-password`: staff accounts from the command line (audited).

The first start prints one-time passwords; these are the way back when one is lost, without deleting
the database. A new password is generated and printed once (only its argon2 hash is stored), or read
from stdin with `--password-stdin` (for a password manager). Both run as the service layer's use cases
(`simkyc.service.auth`), so the audit log records who did it (`cli:<login name>`).
"""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import Annotated

import typer

from simkyc.cli._common import console, refusals_exit_2
from simkyc.errors import InputError, NotFoundError, Reason

__all__ = ["admin_app", "register"]

admin_app = typer.Typer(no_args_is_help=True, help="Staff accounts: create one, reset a password.")

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin instead of generating one.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated)."""
    if not from_stdin:
        return secrets.token_urlsafe(12), True
    text = sys.stdin.readline().rstrip("\r\n")
    if len(text) < 8:
        raise InputError(Reason.INVALID_REQUEST, "the password read from stdin has fewer than 8 characters")
    return text, False


def _show(role: str, username: str, password: str, generated: bool) -> None:
    if generated:
        console.print(f"  {role:<11} {username:<16} {password}", highlight=False, markup=False)
        console.print("The password is shown once (only its argon2 hash is stored).", highlight=False)


@admin_app.command("create-user")
def create_user(
    username: Annotated[str, typer.Argument(help="The new account's user name.")],
    role: Annotated[str, typer.Option(help="clerk, supervisor, auditor or admin.")],
    outlet: Annotated[
        str | None, typer.Option(help="Outlet code (required for a clerk, e.g. DEMO-001).")
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a staff account and print its password once."""
    from simkyc import bootstrap
    from simkyc.service import auth

    with refusals_exit_2():
        try:
            chosen = auth.Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in auth.Role)
            raise InputError(Reason.INVALID_REQUEST, f"--role {role!r}: use one of {roles}") from None
        db = bootstrap.database()
        outlet_id = None
        if outlet is not None:
            found = [o for o in auth.list_outlets(db.engine) if o["code"] == outlet]
            if not found:
                raise NotFoundError(Reason.NOT_FOUND, f"no outlet {outlet!r}")
            outlet_id = int(str(found[0]["id"]))
        password, generated = _password(password_stdin)
        user = auth.create_user(
            db, username=username, password=password, role=chosen, outlet_id=outlet_id, actor=_actor()
        )
    console.print(f"created {user.role.value} {user.username} (id {user.id})", highlight=False, markup=False)
    _show(user.role.value, user.username, password, generated)


@admin_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="The account whose password is replaced.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Give an account a new password (printed once); the old one stops working at once."""
    from simkyc import bootstrap
    from simkyc.service import auth

    with refusals_exit_2():
        password, generated = _password(password_stdin)
        user = auth.set_password(bootstrap.database(), username=username, password=password, actor=_actor())
    console.print(f"password of {user.username} replaced", highlight=False, markup=False)
    _show(user.role.value, user.username, password, generated)
