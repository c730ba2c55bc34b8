"""`simkyc audit verify|checkpoint`: check the hash chain and signed checkpoints; sign the head."""

from __future__ import annotations

from typing import Annotated

import typer

from simkyc.cli._common import console, err_console, refusals_exit_2

__all__ = ["audit_app", "register"]

audit_app = typer.Typer(no_args_is_help=True, help="Tamper-evident audit log.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    trust: Annotated[
        list[str] | None, typer.Option(help="Extra trusted checkpoint public key (hex), repeatable.")
    ] = None,
) -> None:
    """Verify the whole log. Exit 0 intact, 1 tampered (each problem printed)."""
    from simkyc import bootstrap
    from simkyc.service.audit import verify_audit

    with refusals_exit_2():
        rep = verify_audit(bootstrap.database(), extra_public_keys=set(trust or []))
    console.print(
        f"entries {rep.entries}  checkpoints {rep.checkpoints}  head {rep.head_seq}:{rep.head_hash[:16]}",
        highlight=False,
        soft_wrap=True,
    )
    if rep.ok:
        console.print("audit log OK")
        return
    for p in rep.problems:
        err_console.print(f"AUDIT_CHAIN_BROKEN: {p}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the current head with the Ed25519 key and print it (publish this line)."""
    from simkyc import bootstrap
    from simkyc.service.audit import checkpoint_now
    from simkyc.store.audit import public_key_hex

    with refusals_exit_2():
        db = bootstrap.database()
        head = checkpoint_now(db)
    if head is None:
        console.print("audit log is empty")
        return
    console.print(
        f"seq {head[0]} hash {head[1]} key {public_key_hex(db.keys)}", highlight=False, soft_wrap=True
    )
