"""`simkyc keys show|rotate`: the key ring (ids only, never key material) and rotation."""

from __future__ import annotations

from typing import Annotated

import typer

from simkyc.cli._common import console, refusals_exit_2

__all__ = ["keys_app", "register"]

keys_app = typer.Typer(no_args_is_help=True, help="Encryption keys: show key ids, rotate.")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("show")
def show() -> None:
    """Key ids in the ring, the active one, and how many encrypted rows each protects."""
    from simkyc import bootstrap
    from simkyc.store.audit import public_key_hex
    from simkyc.store.rotation import count_by_key

    with refusals_exit_2():
        db = bootstrap.database()
        used = count_by_key(db)
        ring = db.keys
    for kid in sorted(ring.encryption):
        mark = "*" if kid == ring.active else " "
        console.print(f"{mark} {kid}  rows {used.get(kid, 0)}", highlight=False, soft_wrap=True)
    console.print(f"audit signing public key {public_key_hex(ring)}", highlight=False, soft_wrap=True)


@keys_app.command("rotate")
def rotate(
    keep_old: Annotated[bool, typer.Option("--keep-old", help="Keep retired keys in the ring.")] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds to wait for in-flight writers before the last pass.")
    ] = 2.0,
) -> None:
    """New active key; re-encrypt every row under it while the service runs; drop unused old keys."""
    from simkyc import bootstrap
    from simkyc.store.rotation import rotate_keys

    with refusals_exit_2():
        rep = rotate_keys(bootstrap.database(), grace_seconds=grace, keep_old=keep_old)
    console.print(f"active key {rep.new_key_id}", highlight=False, soft_wrap=True)
    for table, n in rep.reencrypted.items():
        console.print(f"re-encrypted {table}: {n}", highlight=False, soft_wrap=True)
    console.print(f"retired {', '.join(rep.retired) or '-'}", highlight=False, soft_wrap=True)
    if rep.still_used:
        console.print(f"still in use (run again): {rep.still_used}", highlight=False, soft_wrap=True)
