"""Admin only: staff accounts, outlets and platform API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from simkyc.api.deps import Admin, Ctx
from simkyc.service import auth

router = APIRouter(prefix="/api/admin", tags=["admin"])

DB_INT_MAX = 2_147_483_647  # id columns are 32-bit on PostgreSQL: larger values are refused, not a 500
DbId = Annotated[int, Path(ge=0, le=DB_INT_MAX)]


class UserIn(BaseModel):
    """A new staff account; clerks need an outlet."""

    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=8, max_length=256)
    role: auth.Role
    outlet_id: int | None = Field(default=None, ge=0, le=DB_INT_MAX)


class UserOut(BaseModel):
    """A staff account (never the password hash)."""

    id: int
    username: str
    role: str
    outlet_id: int | None
    active: bool


class UserPatchIn(BaseModel):
    """Account changes; each ends the account's open sessions on every process at once."""

    active: bool | None = None
    role: auth.Role | None = None
    outlet_id: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    password: str | None = Field(default=None, min_length=8, max_length=256)


class OutletIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    operator_id: str = Field(min_length=1, max_length=32)


class OutletOut(BaseModel):
    id: int
    code: str
    name: str
    operator_id: str
    active: bool


class ApiKeyIn(BaseModel):
    platform: str = Field(min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    """A platform key's record; `token` is present only in the response that created it."""

    id: int
    platform: str
    scopes: list[str]
    active: bool
    token: str | None = None


def _actor(p: auth.Principal) -> str:
    return f"{p.role.value}:{p.user_id}"


def _user(u: auth.StaffPublic) -> UserOut:
    return UserOut(id=u.id, username=u.username, role=u.role.value, outlet_id=u.outlet_id, active=u.active)


def _key(k: auth.ApiKeyPublic, token: str | None = None) -> ApiKeyOut:
    return ApiKeyOut(id=k.id, platform=k.platform, scopes=list(k.scopes), active=k.active, token=token)


@router.get("/users")
def list_users(*, ctx: Ctx, admin: Admin) -> list[UserOut]:
    """Every staff account."""
    return [_user(u) for u in auth.list_users(ctx.read_engine)]


@router.post("/users", status_code=201)
def create_user(*, ctx: Ctx, admin: Admin, body: UserIn) -> UserOut:
    """Add a staff account (argon2-hashed password)."""
    return _user(
        auth.create_user(
            ctx.db,
            username=body.username,
            password=body.password,
            role=body.role,
            outlet_id=body.outlet_id,
            actor=_actor(admin),
        )
    )


@router.patch("/users/{user_id}")
def set_user_active(*, ctx: Ctx, admin: Admin, user_id: DbId, body: UserPatchIn) -> UserOut:
    """Enable or disable an account, change its role and outlet, or set a new password; the account's
    sessions end at once on every process."""
    out = auth.update_user(
        ctx.db,
        user_id=user_id,
        actor=_actor(admin),
        active=body.active,
        role=body.role,
        outlet_id=body.outlet_id,
        password=body.password,
    )
    ctx.sessions.forget()
    return _user(out)


@router.get("/outlets")
def list_outlets(*, ctx: Ctx, admin: Admin) -> list[OutletOut]:
    """Every outlet."""
    return [OutletOut.model_validate(o) for o in auth.list_outlets(ctx.read_engine)]


@router.post("/outlets", status_code=201)
def create_outlet(*, ctx: Ctx, admin: Admin, body: OutletIn) -> OutletOut:
    """Add an outlet of an existing operator."""
    return OutletOut.model_validate(
        auth.create_outlet(
            ctx.db, code=body.code, name=body.name, operator_id=body.operator_id, actor=_actor(admin)
        )
    )


@router.get("/keys")
def list_keys(*, ctx: Ctx, admin: Admin) -> list[ApiKeyOut]:
    """Every platform key (no secrets)."""
    return [_key(k) for k in auth.list_api_keys(ctx.read_engine)]


@router.post("/keys", status_code=201)
def create_key(*, ctx: Ctx, admin: Admin, body: ApiKeyIn) -> ApiKeyOut:
    """Mint a platform key scoped to the platform check; the token is shown only here."""
    record, token = auth.create_api_key(
        ctx.db, platform=body.platform, pepper=ctx.api_keys.pepper, actor=_actor(admin)
    )
    return _key(record, token)


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(*, ctx: Ctx, admin: Admin, key_id: DbId) -> None:
    """Revoke a platform key at once."""
    auth.revoke_api_key(ctx.db, key_id=key_id, actor=_actor(admin))
    ctx.api_keys.forget()
