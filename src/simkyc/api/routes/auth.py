"""Sign in, sign out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

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


class LoginOut(BaseModel):
    """A session token to send as `Authorization: Bearer <token>` until `user.expires_at`."""

    token: str
    user: Me


def _me(p: auth.Principal) -> Me:
    return Me(username=p.username, role=p.role.value, outlet_id=p.outlet_id, expires_at=p.expires_at)


@router.post("/login")
def login(*, ctx: Ctx, body: LoginIn) -> LoginOut:
    """Open a short-lived session (argon2 check; the same cost for unknown names)."""
    token, principal = auth.authenticate(
        ctx.db, username=body.username, password=body.password, signer=ctx.signer, now=ctx.clock()
    )
    return LoginOut(token=token, user=_me(principal))


@router.post("/logout", status_code=204)
def logout(*, ctx: Ctx, staff: AnyStaff) -> None:
    """Close this session: its token is refused from now on."""
    ctx.signer.revoke(staff, now=ctx.clock())


@router.get("/me")
def me(*, staff: AnyStaff) -> Me:
    """Who the token belongs to, with role and outlet."""
    return _me(staff)
