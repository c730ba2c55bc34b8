"""The 1:N index: `simkyc index stats|check|rebuild|rotate-key`.

    simkyc index stats         # backend, key id, templates held, where it lives
    simkyc index check         # compare with the database: exit 0 consistent, 1 not
    simkyc index rebuild       # refill from the database's encrypted templates
    simkyc index rotate-key    # new search key, then rebuild (old protected vectors become useless)

The backend and its location come from `SIMKYC_SEARCH_*` settings (`simkyc.search.SearchSettings`).
Each embedder generation (issue 13) has its own index under it (`simkyc.search.generation_settings`):
the current embedder's and, until every customer is re-enrolled, the previous one's.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from simkyc.cli._common import console, fail, refusals_exit_2

__all__ = ["index_app", "register"]

index_app = typer.Typer(no_args_is_help=True, help="The 1:N duplicate-face index: stats, check, rebuild.")


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")


def _where(index: object) -> str:
    path = getattr(index, "path", None)
    if path is not None:
        return str(path)
    return f"{getattr(index, 'uri', '?')} collection {getattr(index, 'collection', '?')}"


def _generations() -> list[tuple[str, Any]]:
    """(embedder name, search settings) of each template generation's index: the current embedder's
    first, then earlier ones (issue 13: templates of different embedders are never compared)."""
    from simkyc import bootstrap
    from simkyc.search import SearchSettings, generation_settings

    base = SearchSettings()
    pairs = [bootstrap.current_generation(), *bootstrap.older_generations()]
    return [(name, generation_settings(base, name, dim)) for name, dim in pairs]


@index_app.command("stats")
def stats() -> None:
    """Backend, key id, templates held and location of each generation's index (and the database's count)."""
    from simkyc import bootstrap
    from simkyc.search import open_index

    with refusals_exit_2():
        with bootstrap.database().uow() as uow:
            stored = uow.registrations.template_counts()
        for name, settings in _generations():
            index = open_index(settings, discard_stale=True)
            console.print(
                f"{name}: backend {settings.backend}  key {index.key_id}  templates {index.count()} "
                f"(database {stored.get(name, 0)})  dim {index.dim}\n  location {_where(index)}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        other = {k: v for k, v in stored.items() if k not in {n for n, _ in _generations()}}
        if other:
            console.print(f"templates of unknown embedders (never searched): {other}", highlight=False)


@index_app.command("check")
def check() -> None:
    """Compare each generation's index with the database's templates. Exit 0 consistent, 1 not."""
    from simkyc import bootstrap
    from simkyc.search import check_consistency, open_index
    from simkyc.service.registration import template_records

    ok = True
    with refusals_exit_2():
        for name, settings in _generations():
            index = open_index(settings, discard_stale=True)
            ids, _ = template_records(bootstrap.database(), name)
            report = check_consistency(index, ids)
            console.print(f"{name}: {report.summary()}", highlight=False, markup=False, soft_wrap=True)
            ok = ok and report.ok
    if not ok:
        raise typer.Exit(code=1)


def _rebuild() -> int:
    from simkyc import bootstrap
    from simkyc.search import MilvusIndex, open_index, rebuild
    from simkyc.service.registration import template_records

    total = 0
    for name, settings in _generations():
        index = open_index(settings, discard_stale=True)
        ids, fetch = template_records(bootstrap.database(), name)
        added = rebuild(index, fetch(frozenset(ids)))
        if isinstance(index, MilvusIndex):
            for stale in index.drop_stale():
                console.print(f"dropped collection {stale} (older key)", highlight=False, markup=False)
        console.print(
            f"{name}: rebuilt {added} templates under key {index.key_id} at {_where(index)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        total += added
    return total


@index_app.command("rebuild")
def rebuild_cmd() -> None:
    """Empty the index and refill it from the database (after a key rotation or a lost file)."""
    with refusals_exit_2():
        _rebuild()


@index_app.command("rotate-key")
def rotate_key(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the old key is overwritten.")] = False,
) -> None:
    """Write a new random search key to the key file, then rebuild the index under it."""
    import os

    from simkyc.search import SearchSettings
    from simkyc.search._transform import write_key

    settings = SearchSettings()
    if settings.key is not None:
        raise fail("the search key comes from SIMKYC_SEARCH_KEY: set a new value there, then `index rebuild`")
    if not yes:
        raise fail("this replaces the search key and rebuilds the index: add --yes")
    with refusals_exit_2():
        write_key(settings.resolved_key_file(), os.urandom(32))
        _rebuild()
