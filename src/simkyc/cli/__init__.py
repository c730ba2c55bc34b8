"""The `simkyc` command line.

Each area registers its commands from its own module (`register(app)`), so the
root stays a list. Exit codes: 0 success (a match, a pass), 1 a negative decision,
2 unusable input or a usage error, with a one-line reason on stderr.
"""

from __future__ import annotations

import typer

from simkyc.cli import (
    _accuracy,
    _audit,
    _documents,
    _faces,
    _keys,
    _liveness,
    _models,
    _register,
    _retention,
    _search,
    _serve,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])

for _module in (
    _models,
    _faces,
    _accuracy,
    _serve,
    _documents,
    _register,
    _keys,
    _audit,
    _retention,
    _search,
    _liveness,
):
    _module.register(app)

__all__ = ["app"]
