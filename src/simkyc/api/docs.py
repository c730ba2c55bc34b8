"""`/api/docs`: Swagger UI served from an installed package's files, so the docs work offline.

FastAPI's default page loads Swagger UI's script and stylesheet from a CDN (and its favicon from
fastapi.tiangolo.com): blank on an outlet network without internet. `swagger-ui-bundle-v2` (PyPI;
the Swagger UI `dist` files, version in its folder name) ships them; they are mounted under
`/api/docs/assets` and the page refers only to this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from simkyc.errors import ModelError, Reason

__all__ = ["ASSETS_URL", "install_docs", "swagger_ui_dir"]

ASSETS_URL = "/api/docs/assets"
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def swagger_ui_dir() -> Path:
    """The installed Swagger UI files; MODEL_MISSING-style refusal naming the package when absent."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        raise ModelError(
            Reason.MODEL_MISSING, "Swagger UI files missing: pip install swagger-ui-bundle-v2"
        ) from None
    path = Path(str(swagger_ui_path))
    missing = [f for f in _FILES if not (path / f).is_file()]
    if missing:
        raise ModelError(Reason.MODEL_MISSING, f"swagger-ui-bundle-v2 lacks {', '.join(missing)}")
    return path


def install_docs(app: FastAPI, *, openapi_url: str = "/api/openapi.json") -> None:
    """Mount Swagger UI's files and the `/api/docs` page that uses only them."""
    assets = swagger_ui_dir()
    app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        )
