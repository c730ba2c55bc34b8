"""Face commands (`verify`, `eval`): filled in by the face core."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
