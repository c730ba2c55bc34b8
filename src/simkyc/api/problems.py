"""RFC 9457 problem details: every refusal leaves the API as `application/problem+json` with a `reason`.

One mapping from the exception tree (and a few reasons) to HTTP statuses lives here, so routes only
raise `SimkycError`s and never pick status codes themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from simkyc.errors import (
    AuthError,
    ConflictError,
    DocumentError,
    FaceError,
    InputError,
    LivenessError,
    ModelError,
    NotFoundError,
    PolicyError,
    Reason,
    SimkycError,
)

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_response", "status_for"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("simkyc.api")

_BY_REASON: dict[Reason, int] = {
    Reason.NOT_AUTHENTICATED: 401,
    Reason.API_KEY_INVALID: 401,
    Reason.FORBIDDEN: 403,
    Reason.NOT_FOUND: 404,
    Reason.REQUEST_TOO_LARGE: 413,
    Reason.IMAGE_TOO_LARGE: 413,
    Reason.RATE_LIMITED: 429,
    Reason.LIVENESS_LOCKED: 429,
    Reason.REGISTRATION_STATE: 409,
    Reason.PHONE_NUMBER_TAKEN: 409,
    Reason.AUDIT_CHAIN_BROKEN: 500,
    Reason.KEY_MISSING: 503,
    Reason.NOT_READY: 503,
}

_BY_CLASS: tuple[tuple[type[SimkycError], int], ...] = (
    (AuthError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ModelError, 503),
    (InputError, 400),
    (DocumentError, 422),
    (FaceError, 422),
    (LivenessError, 422),
    (PolicyError, 422),
)


def status_for(exc: SimkycError) -> int:
    """The HTTP status of a refusal: by reason first, then by exception class, else 400."""
    if exc.reason in _BY_REASON:
        return _BY_REASON[exc.reason]
    for cls, status in _BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 400


def problem_response(
    status: int,
    reason: str,
    message: str,
    *,
    detail: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; `title` is the reason code, `detail` its plain-language message."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": reason,
        "status": status,
        "reason": reason,
        "detail": message,
    }
    if detail:
        body["extra"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _simkyc_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimkycError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    retry = exc.detail.get("retry_after")
    if isinstance(retry, int | float):
        headers["Retry-After"] = str(max(1, round(retry)))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(status, exc.reason.value, exc.message, detail=exc.detail, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))} for err in exc.errors()
    ]
    return problem_response(
        422, Reason.INVALID_REQUEST.value, Reason.INVALID_REQUEST.message, detail={"fields": fields}
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    reason = {
        401: Reason.NOT_AUTHENTICATED,
        403: Reason.FORBIDDEN,
        404: Reason.NOT_FOUND,
        413: Reason.REQUEST_TOO_LARGE,
    }.get(exc.status_code, Reason.INVALID_REQUEST)
    message = reason.message if exc.status_code in (401, 403, 404, 413) else str(exc.detail)
    return problem_response(exc.status_code, reason.value, message, headers=getattr(exc, "headers", None))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error: %s", type(exc).__name__)
    return problem_response(500, "INTERNAL_ERROR", "An internal error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through the problem+json responses above."""
    app.add_exception_handler(SimkycError, _simkyc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
