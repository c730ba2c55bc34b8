"""The FastAPI app factory: `create_app(settings)` wires the database, keys, routers, error
handling, size caps, metrics and the web pages. Nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from simkyc import __version__
from simkyc.api.context import AppContext, build_context
from simkyc.api.docs import install_docs
from simkyc.api.middleware import BodySizeLimit, MetricsMiddleware
from simkyc.api.openapi_problems import install_problem_schema
from simkyc.api.problems import install_problem_handlers
from simkyc.api.routes import admin, audit, auth, documents, numbers, platform, registrations, reviews
from simkyc.config import Settings, get_settings
from simkyc.store.crypto import load_keyring
from simkyc.store.uow import Database, open_database

__all__ = ["create_app", "open_app_database"]

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static"


def _operation_id(route: APIRoute) -> str:
    """Clean OpenAPI operation ids: `<tag>-<function name>` (e.g. `registrations-open_registration`)."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def open_app_database(settings: Settings) -> Database:
    """The key ring and the migrated database named by `settings` (created on first use)."""
    keys = load_keyring(env_json=settings.keys, key_file=settings.resolved_key_file)
    return open_database(settings.resolved_database_url, keys)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the app; `db` may be passed by tests or `simkyc serve`, else it is opened from `settings`."""
    settings = settings or get_settings()
    db = db or open_app_database(settings)
    ctx: AppContext = build_context(settings, db=db)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for index_feed in ctx.index_feeds():
            index_feed.stop()
        ctx.platform_audit.close()

    app = FastAPI(
        lifespan=lifespan,
        title="simkyc",
        version=__version__,
        summary="Real-name phone-number registration with face verification.",
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served from the installed Swagger UI files: simkyc.api.docs
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    install_problem_schema(app)  # the OpenAPI document declares every problem+json response
    for module in (auth, registrations, documents, numbers, reviews, audit, platform, admin):
        app.include_router(module.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness probe for load balancers: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], response_model=None)
    def readyz() -> dict[str, object] | Response:
        """Readiness probe: the database and Redis answer and the 1:N index is current (else 503)."""
        from simkyc.api.problems import problem_response
        from simkyc.api.readiness import readiness
        from simkyc.errors import Reason

        ready, checks = readiness(ctx)
        if ready:
            return {"status": "ready", **checks}
        return problem_response(503, Reason.NOT_READY.value, Reason.NOT_READY.message, detail=checks)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics (requests, latency, decisions, platform checks, refusals)."""
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/web/index.html")

    install_docs(app)
    app.mount("/web", StaticFiles(directory=STATIC_DIR, html=True), name="web")
    app.add_middleware(MetricsMiddleware, metrics=ctx.metrics)
    app.add_middleware(BodySizeLimit, max_bytes=int(settings.max_request_mb * 1024 * 1024))
    return app
