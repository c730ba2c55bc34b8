"""Sign in, sign out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from simkyc.api.context import AppContext
from simkyc.api.deps import AnyStaff, Ctx
from simkyc.service import auth

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    """User name and password of a staff account."""

    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """The signed-in staff member."""

    username: str
    role: str
    outlet_id: int | None
    expires_at: float
    outlet_code: str | None = None  # shown in the page's header with the name
    outlet_name: str | None = None
    reader_bridge_url: str | None = None  # clerks: where the outlet PC's card reader bridge answers


class LoginOut(BaseModel):
    """A session token to send as `Authorization: Bearer <token>` until `user.expires_at`."""

    token: str
    user: Me


def _me(ctx: AppContext, p: auth.Principal) -> Me:
    outlet = next((o for o in auth.list_outlets(ctx.db.engine) if o["id"] == p.outlet_id), None)
    return Me(
        username=p.username,
        role=p.role.value,
        outlet_id=p.outlet_id,
        expires_at=p.expires_at,
        outlet_code=None if outlet is None else str(outlet["code"]),
        outlet_name=None if outlet is None else str(outlet["name"]),
        reader_bridge_url=ctx.settings.reader_bridge_url if p.role is auth.Role.CLERK else None,
    )


@router.post("/login")
def login(*, ctx: Ctx, request: Request, body: LoginIn) -> LoginOut:
    """Open a short-lived session (argon2 check; the same cost for unknown names)."""
    token, principal = auth.authenticate(
        ctx.db,
        username=body.username,
        password=body.password,
        signer=ctx.signer,
        now=ctx.clock(),
        client=request.client.host if request.client is not None else "-",
        sessions=ctx.sessions,
        throttle=ctx.throttle,
    )
    return LoginOut(token=token, user=_me(ctx, principal))


@router.post("/logout", status_code=204)
def logout(*, ctx: Ctx, staff: AnyStaff) -> None:
    """Close this session: its token is refused from now on, by every process (within 2 s)."""
    now = ctx.clock()
    ctx.signer.revoke(staff, now=now)
    ctx.sessions.end(staff.session_id, now=now)
    auth.audit_logout(ctx.db, staff)


@router.get("/me")
def me(*, ctx: Ctx, staff: AnyStaff) -> Me:
    """Who the token belongs to, with role and outlet."""
    return _me(ctx, staff)
