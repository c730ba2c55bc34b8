"""Shared CLI helpers: turning a `SimkycError` into a one-line message and exit code 2."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from simkyc.errors import SimkycError

__all__ = ["console", "err_console", "fail", "refusals_exit_2"]

PIPED_WIDTH = 4096


class _Console(Console):
    """A rich console that, when its output is not a terminal, is as wide as the lines it prints:
    piped or redirected output (`simkyc models | grep`, `> file`) is never wrapped or truncated at the
    80 columns rich assumes otherwise. COLUMNS, when set, still wins."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal and not os.environ.get("COLUMNS"):
            return ConsoleDimensions(PIPED_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = _Console()
err_console = _Console(stderr=True)


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)  # one line, always
    return typer.Exit(code=code)


@contextmanager
def refusals_exit_2() -> Iterator[None]:
    """Any `SimkycError` inside becomes `REASON: message` on stderr and exit code 2, no traceback."""
    try:
        yield
    except SimkycError as exc:
        raise fail(f"{exc.reason}: {exc.message}") from None


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A transient bar for long CLI work; yields the `progress(done, total)` callback the eval code takes."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("work", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress
