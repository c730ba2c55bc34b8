"""`simkyc serve`: the API and the outlet pages on one port.

The first start on an empty machine creates the SQLite database (and the key file) under
`SIMKYC_HOME`, a demo operator and outlet, an admin and one demo account per role, and prints
their one-time passwords: they are stored only as argon2 hashes, so they cannot be shown again.
"""

from __future__ import annotations

import gc
import secrets
import sys
import threading
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from simkyc.cli._common import console, fail, refusals_exit_2
from simkyc.config import Settings, get_settings
from simkyc.errors import SimkycError
from simkyc.service import auth
from simkyc.store.uow import Database

__all__ = ["FirstRun", "first_run_setup", "register"]

DEMO_OPERATOR = ("DEMO", "演示运营商 Demo Operator")
DEMO_OUTLET = ("DEMO-001", "演示营业厅 Demo Outlet")
ACTOR = "system:first-run"


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What the first start created: (role, user name, password) per account, and the outlet id."""

    accounts: tuple[tuple[str, str, str], ...]
    outlet_id: int


def _password() -> str:
    return secrets.token_urlsafe(12)


def first_run_setup(db: Database) -> FirstRun | None:
    """Seed an empty database with the demo operator, outlet and accounts; None if it has users."""
    if auth.count_users(db.engine) > 0:
        return None
    auth.ensure_operator(db, operator_id=DEMO_OPERATOR[0], name=DEMO_OPERATOR[1], actor=ACTOR)
    outlets = [o for o in auth.list_outlets(db.engine) if o["code"] == DEMO_OUTLET[0]]
    outlet = (
        outlets[0]
        if outlets
        else auth.create_outlet(
            db, code=DEMO_OUTLET[0], name=DEMO_OUTLET[1], operator_id=DEMO_OPERATOR[0], actor=ACTOR
        )
    )
    outlet_id = int(str(outlet["id"]))
    accounts: list[tuple[str, str, str]] = []
    for role, name in (
        (auth.Role.ADMIN, "admin"),
        (auth.Role.CLERK, "demo-clerk"),
        (auth.Role.SUPERVISOR, "demo-supervisor"),
        (auth.Role.AUDITOR, "demo-auditor"),
    ):
        password = _password()
        auth.create_user(
            db,
            username=name,
            password=password,
            role=role,
            outlet_id=outlet_id if role is auth.Role.CLERK else None,
            actor=ACTOR,
        )
        accounts.append((role.value, name, password))
    return FirstRun(accounts=tuple(accounts), outlet_id=outlet_id)


def _print_first_run(first: FirstRun, url: str) -> None:
    console.print("[bold]First start: demo outlet and accounts created.[/bold]")
    console.print("Passwords are shown once (only argon2 hashes are stored); write them down now.")
    for role, name, password in first.accounts:
        console.print(f"  {role:<11} {name:<16} {password}", highlight=False)
    console.print(f"Sign in as demo-clerk at {url} to register a customer.", highlight=False)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default SIMKYC_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SIMKYC_PORT, 8000).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes, on ports PORT .. PORT+N-1, supervised; N > 1 needs SIMKYC_REDIS_URL "
            "(put a reverse proxy in front: deploy/README.md).",
        ),
    ] = 1,
) -> None:
    """Run the REST API and the outlet pages (first start: creates the database and demo accounts)."""
    import uvicorn

    from simkyc.api.app import create_app, open_app_database

    settings: Settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    if workers > 1 and not settings.redis_url:
        raise fail(f"--workers {workers} needs SIMKYC_REDIS_URL: the workers share captures and limits there")
    with refusals_exit_2():
        db = open_app_database(settings)
        first = first_run_setup(db)
        if workers > 1:  # the once-only work, before N workers start together
            from simkyc.search import SearchSettings, search_transform

            search_transform(SearchSettings(key_file=settings.home / "search.key"))
            db.dispose()
        else:
            app = create_app(settings, db=db)
    url = f"http://{host}:{port}/"
    console.print(
        f"simkyc {settings.resolved_database_url.split('://')[0]} database: {settings.home}", highlight=False
    )
    if first is not None:
        _print_first_run(first, url)
    if workers > 1:
        from simkyc.cli._workers import Supervisor

        sys.stdout.flush()
        raise typer.Exit(Supervisor(host=host, port=port, workers=workers).run())
    console.print(f"Serving at {url}  (API docs {url}api/docs, metrics {url}metrics)", highlight=False)
    sys.stdout.flush()  # the one-time passwords must reach a log file before requests arrive
    threading.Thread(target=_warm_up, args=(app,), name="simkyc-warm-up", daemon=True).start()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _warm_up(app: Any) -> None:
    """Load the liveness and face models in the background, so the first customer does not wait."""
    from simkyc import bootstrap

    try:
        ctx = app.state.ctx
        for index_feed in ctx.index_feeds():  # this worker's 1:N indexes (one per embedder generation)
            index_feed.start()  # load it and follow the template feed
        with ctx.models_lock:
            ctx.liveness_models()
            bootstrap.face_pipeline()
            bootstrap.registration_thresholds()
    except SimkycError as exc:  # reported again, as a problem response, when a request needs them
        console.print(f"warning: {exc.reason}: {exc.message}", highlight=False)
    # The models and the app are a heap of long-lived objects: freeze them out of the collector's
    # oldest generation, whose full scans would otherwise stall the event loop for ~100 ms whenever
    # short-lived request objects (a platform check waiting for its audit commit) are promoted.
    gc.collect()
    gc.freeze()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
