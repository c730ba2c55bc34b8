"""Shared CLI helpers: turning a `SimkycError` into a one-line message and exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from simkyc.errors import SimkycError

__all__ = ["console", "err_console", "fail", "refusals_exit_2"]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=code)


@contextmanager
def refusals_exit_2() -> Iterator[None]:
    """Any `SimkycError` inside becomes `REASON: message` on stderr and exit code 2, no traceback."""
    try:
        yield
    except SimkycError as exc:
        raise fail(f"{exc.reason}: {exc.message}") from None
