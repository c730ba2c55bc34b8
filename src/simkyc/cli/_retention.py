"""`simkyc retention run`: apply the data-class retention table and report what was removed."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from simkyc.cli._common import console, refusals_exit_2

__all__ = ["register", "retention_app"]

retention_app = typer.Typer(
    no_args_is_help=True, help="Retention sweeps (rules in the policy file's retention section)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def run() -> None:
    """Delete what the retention rules say is due; print the counts per data class."""
    from simkyc import bootstrap
    from simkyc.config import get_settings
    from simkyc.service.retention import run_retention

    with refusals_exit_2():
        rep = run_retention(
            bootstrap.database(),
            rules=bootstrap.policy().retention,
            now=datetime.now(UTC),
            lockout=bootstrap.lockout_config(get_settings()),
        )
    for line in rep.lines():
        console.print(line, highlight=False, soft_wrap=True)
