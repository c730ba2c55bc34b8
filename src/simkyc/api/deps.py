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
from simkyc.service.access import Action, roles_for
from simkyc.service.auth import PLATFORM_SCOPE, ApiKeyPublic, Principal, Role, require_role

__all__ = [
    "Admin",
    "AnyStaff",
    "Clerk",
    "ClerkOrSupervisor",
    "Ctx",
    "PlatformKey",
    "Reader",
    "Reporter",
    "Supervisor",
    "allowed",
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
    now = ctx.clock()
    principal = ctx.signer.verify(creds.credentials, now=now)
    # the database says whether the session and the account still stand (cached for <= 2 s)
    ctx.sessions.check(
        session_id=principal.session_id,
        user_id=principal.user_id,
        role=principal.role.value,
        outlet_id=principal.outlet_id,
        now=now,
    )
    return principal


async def _audit_refusal(ctx: AppContext, principal: Principal, exc: AuthError, *, action: str) -> None:
    """Every refusal of a signed-in caller is audited (its own transaction, off the event loop)."""
    from fastapi.concurrency import run_in_threadpool

    from simkyc.service.registration.refusals import audit_refusal

    await run_in_threadpool(
        audit_refusal,
        ctx.db,
        exc,
        actor=f"{principal.role.value}:{principal.user_id}",
        obj="route",
        details={"action": action},
        action="access.refused",
    )


def allowed(action: Action) -> object:
    """A dependency admitting the roles the authorization table grants `action` (refusals audited)."""
    roles = tuple(Role(r) for r in roles_for(action) if r in Role.__members__.values())

    async def check(ctx: Ctx, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        try:
            return require_role(principal, *roles)
        except AuthError as exc:
            await _audit_refusal(ctx, principal, exc, action=action.value)
            raise

    check.__name__ = "may_" + action.value.replace(".", "_")
    return Depends(check)


# The role aliases routes name, each bound to an action of the authorization table
# (`simkyc.service.access.TABLE`), so the table and the routes cannot disagree.
AnyStaff = Annotated[Principal, allowed(Action.SESSION)]
Clerk = Annotated[Principal, allowed(Action.REGISTRATION_OPEN)]
ClerkOrSupervisor = Annotated[Principal, allowed(Action.NUMBER_CANCEL)]
Reporter = Annotated[Principal, allowed(Action.CUSTOMER_REPORT)]
Supervisor = Annotated[Principal, allowed(Action.REVIEW_DECIDE)]
Reader = Annotated[Principal, allowed(Action.AUDIT_READ)]
Admin = Annotated[Principal, allowed(Action.ADMIN)]


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
