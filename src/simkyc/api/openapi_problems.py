"""The OpenAPI document declares every problem+json response the API can give.

Routes raise `SimkycError`s and the handlers in `simkyc.api.problems` turn them into RFC 9457
problems; FastAPI cannot see that, so without this every 4xx would be undocumented, and its own
default 422 schema (`HTTPValidationError`) would describe a body simkyc never sends. Generated
clients and fuzzers (tests/api/test_api_schemathesis.py) read the real contract from here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["API_PROBLEMS", "OPS_PROBLEMS", "install_problem_schema"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `reason` is simkyc's stable reason code.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "reason": {"type": "string"},
        "detail": {"type": "string"},
        "extra": {"type": "object"},
    },
    "required": ["type", "title", "status", "reason", "detail"],
}

_WHY = {
    "400": "Malformed input (reason INVALID_REQUEST, IMAGE_UNREADABLE, PHONE_NUMBER_INVALID, ...)",
    "401": "Not signed in, session ended, or a bad API key (NOT_AUTHENTICATED, API_KEY_INVALID)",
    "403": "The role or the presence the authorization table requires is missing (FORBIDDEN, ...)",
    "404": "Not found, or outside the caller's scope (NOT_FOUND)",
    "409": "Conflicts with the current state (REGISTRATION_STATE, PHONE_NUMBER_TAKEN)",
    "413": "Request or image too large (REQUEST_TOO_LARGE, IMAGE_TOO_LARGE)",
    "422": "Validation, document, face or policy refusal (INVALID_REQUEST, ID_*, QUOTA_EXCEEDED, ...)",
    "429": "Rate limit, open-capture limit, sign-in delay or lockout (RATE_LIMITED, LIVENESS_LOCKED)",
    "503": "Not ready, or a model, key or calibration file is missing",
}
API_PROBLEMS = tuple(_WHY)
OPS_PROBLEMS = ("413", "503")


def _problem(status: str) -> dict[str, Any]:
    return {
        "description": _WHY[status],
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def install_problem_schema(app: FastAPI) -> None:
    """Make `app.openapi()` declare the problem responses of every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path, ops in spec.get("paths", {}).items():
            statuses = API_PROBLEMS if path.startswith("/api/") else OPS_PROBLEMS
            for op in ops.values():
                responses = op.setdefault("responses", {})
                for status in statuses:
                    responses[status] = _problem(status)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
