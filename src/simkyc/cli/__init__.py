"""The `simkyc` command line.

Each area registers its commands from its own module (`register(app)`), so the
root stays a list. Exit codes: 0 success (a match, a pass), 1 a negative decision,
2 unusable input or a usage error, with a one-line reason on stderr, 3 an internal error
(`simkyc.cli._entry`). Third-party log lines only with `--verbose`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from simkyc.cli import (
    _accuracy,
    _admin,
    _audit,
    _documents,
    _faces,
    _fusion,
    _keys,
    _liveness,
    _models,
    _reader,
    _register,
    _retention,
    _search,
    _serve,
)
from simkyc.cli._entry import SimkycTyper, set_verbose

app = SimkycTyper(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show third-party log lines and internal tracebacks.")
    ] = False,
) -> None:
    set_verbose(verbose)


for _module in (
    _models,
    _faces,
    _accuracy,
    _fusion,
    _serve,
    _documents,
    _register,
    _keys,
    _audit,
    _retention,
    _search,
    _liveness,
    _reader,
    _admin,
):
    _module.register(app)

__all__ = ["app"]
