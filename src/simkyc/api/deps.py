"""Route dependencies as `Annotated` aliases: the app context, the signed-in staff member by role,
and the platform key.

Every staff route names the roles it admits through one of these aliases, so a route without a role
check cannot be written by accident (tests/api/test_api_roles.py walks the whole route table).
The dependencies are `async` because they only do in-memory work (HMAC checks, cached key
lookups): that spares each request a hop through the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from simkyc.api.context import AppContext
from simkyc.errors import AuthError, Reason
from simkyc.service.auth import PLATFORM_SCOPE, ApiKeyPublic, Principal, Role, require_role

__all__ = [
    "Admin",
    "AnyStaff",
    "Auditor",
    "Clerk",
    "ClerkOrSupervisor",
    "Ctx",
    "PlatformKey",
    "Reader",
    "Supervisor",
    "get_ctx",
]

_bearer = HTTPBearer(auto_error=False, description="Session token from POST /api/auth/login")


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_principal(
    ctx: Ctx, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The staff member behind the bearer token; AuthError(NOT_AUTHENTICATED) without a valid one."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise AuthError(Reason.NOT_AUTHENTICATED)
    return ctx.signer.verify(creds.credentials, now=ctx.clock())


def _roles(*roles: Role) -> object:
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        return require_role(principal, *roles)

    check.__name__ = "require_" + "_or_".join(r.value for r in roles)
    return Depends(check)


AnyStaff = Annotated[Principal, _roles(Role.CLERK, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)]
Clerk = Annotated[Principal, _roles(Role.CLERK)]
ClerkOrSupervisor = Annotated[Principal, _roles(Role.CLERK, Role.SUPERVISOR)]
Supervisor = Annotated[Principal, _roles(Role.SUPERVISOR)]
Reader = Annotated[Principal, _roles(Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)]
Auditor = Annotated[Principal, _roles(Role.AUDITOR, Role.ADMIN)]
Admin = Annotated[Principal, _roles(Role.ADMIN)]


async def get_platform_key(
    ctx: Ctx,
    x_api_key: Annotated[str | None, Header(description="Platform API key (sk_...)")] = None,
) -> ApiKeyPublic:
    """The calling platform's key, checked (hash, scope) and rate-limited per key."""
    if not x_api_key:
        raise AuthError(Reason.API_KEY_INVALID, "Send the platform key in the X-API-Key header.")
    now = ctx.clock()
    record = ctx.api_keys.verify(x_api_key, scope=PLATFORM_SCOPE, now=now)
    ctx.platform_limiter.check(str(record.id), now=now)
    return record


PlatformKey = Annotated[ApiKeyPublic, Depends(get_platform_key)]
