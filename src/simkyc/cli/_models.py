"""`simkyc models`: every model file, its package version and checksum."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from simkyc.cli._common import console, refusals_exit_2
from simkyc.models.registry import model_files


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the model files simkyc uses, located in their installed packages and checked by SHA-256."""
    with refusals_exit_2():
        files = model_files()
    if as_json:
        rows = [
            {
                "name": f.name,
                "package": f.spec.package,
                "version": f.version,
                "source": "npm" if f.spec.npm else "pypi",
                "licence": f.licence,
                "provenance": f.provenance,
                "sha256": f.sha256,
                "path": str(f.path),
                "description": f.spec.description,
            }
            for f in files
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("model", "package", "version", "licence", "sha256", "description")
    for f in files:
        package = f"{f.spec.package} (npm)" if f.spec.npm else f.spec.package
        table.add_row(f.name, package, f.version, f.licence, f.sha256, f.spec.description)
    console.print(table)
