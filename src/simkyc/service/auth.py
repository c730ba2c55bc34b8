"""Staff sign-in, sessions, roles, platform API keys and rate limits.

Why each piece looks the way it does:

- Passwords are argon2id hashes (argon2-cffi). An unknown user name still costs one argon2
  verification against a dummy hash, so response time does not reveal which names exist.
- Sessions are short-lived signed tokens (HMAC-SHA256 over a compact JSON payload). They carry the
  user id, role and outlet, so a route needs no database read to enforce roles; signing out adds the
  token id to a revocation set that lives until the token would have expired anyway.
- Platform API keys are 256-bit random secrets: a keyed SHA-256 is enough to store them (argon2 would
  make the platform check, which must serve >1,000 requests/s, pay 50 ms per call for no gain, since
  the secret cannot be guessed). Only the hash and a short public prefix are kept.
- Rate limits are token buckets per key, in this process's memory. (The liveness lockout, which
  must hold across processes and restarts, is in the database: `simkyc.service.lockout`.)

Everything takes `now` (seconds, monotonic or epoch, the caller's choice) so tests need no sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from simkyc.errors import AuthError, ConflictError, InputError, NotFoundError, PolicyError, Reason
from simkyc.service.sessions import SessionStore, SignInThrottle
from simkyc.store.schema import api_key, operator, outlet, staff_session, staff_user
from simkyc.store.uow import Database

__all__ = [
    "PLATFORM_SCOPE",
    "ApiKeyPublic",
    "ApiKeySecret",
    "ApiKeyVerifier",
    "Principal",
    "RateLimiter",
    "Role",
    "SessionSigner",
    "StaffPublic",
    "audit_logout",
    "authenticate",
    "count_users",
    "create_api_key",
    "create_outlet",
    "create_user",
    "ensure_operator",
    "hash_api_key",
    "hash_password",
    "list_api_keys",
    "list_outlets",
    "list_users",
    "new_api_key",
    "parse_api_key",
    "require_role",
    "revoke_api_key",
    "set_user_active",
    "update_user",
    "verify_password",
    "verify_password_or_dummy",
]


class Role(StrEnum):
    """Staff roles; what each may do is decided in the routes with `require_role`."""

    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in staff member as the API sees them (no password hash, no secrets)."""

    user_id: int
    username: str
    role: Role
    outlet_id: int | None
    session_id: str = ""
    expires_at: float = 0.0


def require_role(principal: Principal, *roles: Role) -> Principal:
    """Return `principal` if their role is one of `roles`, else raise AuthError(FORBIDDEN)."""
    if principal.role not in roles:
        raise AuthError(Reason.FORBIDDEN, f"This needs the role {' or '.join(r.value for r in roles)}.")
    return principal


# --- passwords ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash string (salt and parameters included) for storage."""
    if not password:
        raise AuthError(Reason.INVALID_REQUEST, "The password must not be empty.")
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches `stored_hash`; a malformed hash is a mismatch, never an exception."""
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password_or_dummy(stored_hash: str | None, password: str) -> bool:
    """Verify against `stored_hash`, or burn the same time on a dummy hash when the user is unknown."""
    if stored_hash is None:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(stored_hash, password)


# --- sessions ------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SessionSigner:
    """Issues and checks signed session tokens `v1.<payload>.<mac>`; `ttl` seconds of validity."""

    key: bytes
    ttl: float = 1800.0
    _revoked: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, *, user_id: int, username: str, role: Role, outlet_id: int | None, now: float) -> str:
        """A new token for this user, valid until `now + ttl`."""
        payload = {
            "u": user_id,
            "n": username,
            "r": role.value,
            "o": outlet_id,
            "x": round(now + self.ttl, 3),
            "s": secrets.token_urlsafe(9),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"v1.{body}.{self._mac(body)}"

    def verify(self, token: str, *, now: float) -> Principal:
        """The principal a token stands for; AuthError(NOT_AUTHENTICATED) if forged, expired or revoked."""
        if not token.isascii():  # header bytes beyond ASCII: never a token of ours (and no 500)
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session token is malformed.")
        try:
            version, body, mac = token.split(".")
        except ValueError:
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session token is malformed.") from None
        if version != "v1" or not hmac.compare_digest(mac, self._mac(body)):
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session token is not valid.")
        try:
            data = json.loads(_unb64(body))
            principal = Principal(
                user_id=int(data["u"]),
                username=str(data["n"]),
                role=Role(data["r"]),
                outlet_id=None if data["o"] is None else int(data["o"]),
                session_id=str(data["s"]),
                expires_at=float(data["x"]),
            )
        except (ValueError, KeyError, TypeError):
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session token is not valid.") from None
        if principal.expires_at <= now:
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session has expired; please sign in again.")
        if principal.session_id in self._revoked:
            raise AuthError(Reason.NOT_AUTHENTICATED, "The session was closed; please sign in again.")
        return principal

    def revoke(self, principal: Principal, *, now: float) -> None:
        """Sign out: the token stays refused until it would have expired."""
        with self._lock:
            self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
            self._revoked[principal.session_id] = principal.expires_at

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode("ascii"), hashlib.sha256).digest()[:24])


# --- platform API keys ------------------------------------------------------------------------------------

_KEY_PREFIX = "sk"


@dataclass(frozen=True, slots=True)
class ApiKeySecret:
    """A freshly minted key: `token` is shown once to the admin; `prefix` and `key_hash` are stored."""

    token: str
    prefix: str
    key_hash: str


def hash_api_key(token: str, *, pepper: bytes) -> str:
    """Keyed SHA-256 of a key (hex); the pepper keeps a stolen table useless on its own."""
    return hmac.new(pepper, token.encode("ascii"), hashlib.sha256).hexdigest()


def new_api_key(*, pepper: bytes) -> ApiKeySecret:
    """Mint `sk_<prefix>_<secret>`; the stored hash covers the whole token."""
    prefix = secrets.token_hex(4)
    token = f"{_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return ApiKeySecret(token=token, prefix=prefix, key_hash=hash_api_key(token, pepper=pepper))


def parse_api_key(token: str) -> tuple[str, str]:
    """Split a presented key into (prefix, secret); AuthError(API_KEY_INVALID) when malformed."""
    if not token.isascii():
        raise AuthError(Reason.API_KEY_INVALID)
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX or len(parts[1]) != 8 or not parts[2]:
        raise AuthError(Reason.API_KEY_INVALID)
    return parts[1], parts[2]


# --- rate limits -----------------------------------------------------------------------------------------


@dataclass
class RateLimiter:
    """Token buckets per key: `rate` requests per second sustained, bursts up to `burst`."""

    rate: float
    burst: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key: str, *, now: float) -> None:
        """Take one token for `key`, or raise PolicyError(RATE_LIMITED) with `retry_after` seconds."""
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
                raise PolicyError(Reason.RATE_LIMITED, detail={"retry_after": round(wait, 3)})
            self._buckets[key] = (tokens - 1.0, now)


# --- staff accounts, outlets and API keys in the database -------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffPublic:
    """A staff account as shown to admins (never the hash)."""

    id: int
    username: str
    role: Role
    outlet_id: int | None
    active: bool


@dataclass(frozen=True, slots=True)
class ApiKeyPublic:
    """A platform key as listed to admins: the platform, scopes and state, never the secret or hash."""

    id: int
    platform: str
    scopes: tuple[str, ...]
    active: bool


PLATFORM_SCOPE = "platform:check"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def authenticate(
    db: Database,
    *,
    username: str,
    password: str,
    signer: SessionSigner,
    now: float,
    client: str = "-",
    sessions: SessionStore | None = None,
    throttle: SignInThrottle | None = None,
) -> tuple[str, Principal]:
    """Check a password and open a session: (token, principal); AuthError(NOT_AUTHENTICATED) otherwise.

    The same argon2 work is done whether or not the user exists, and the refusal does not say which
    of user name or password was wrong. Sign-ins and refusals of known accounts are audited. With
    `throttle`, failures delay further attempts per account, address and pair (PolicyError
    RATE_LIMITED before any argon2 work, see `simkyc.service.sessions`); with `sessions`, the session
    is recorded so sign-out and account changes hold on every process.
    """
    with db.engine.connect() as conn:
        if throttle is not None:
            throttle.check(conn, username=username, client=client, now=now)
        row = conn.execute(
            sa.select(
                staff_user.c.id,
                staff_user.c.username,
                staff_user.c.password_hash,
                staff_user.c.role,
                staff_user.c.outlet_id,
                staff_user.c.active,
            ).where(staff_user.c.username == username)
        ).first()
    ok = verify_password_or_dummy(None if row is None else row.password_hash, password)
    granted = row is not None and ok and bool(row.active)
    token = ""
    if granted:
        assert row is not None
        token = signer.issue(
            user_id=row.id, username=row.username, role=Role(row.role), outlet_id=row.outlet_id, now=now
        )
    with db.uow() as uow:
        started: list[str] = []
        if throttle is not None:
            if granted:
                throttle.succeeded(uow.conn, username=username, client=client)
            else:
                started = throttle.failed(uow.conn, username=username, client=client, now=now)
        if row is not None:
            uow.audit(
                actor=f"{row.role}:{row.id}",
                action="auth.login" if granted else "auth.login_refused",
                obj=f"staff:{row.id}",
                details={} if granted else {"why": "inactive" if ok else "password"},
            )
        if started:
            uow.audit(
                actor="anonymous" if row is None else f"{row.role}:{row.id}",
                action="auth.throttled",
                obj="staff:-" if row is None else f"staff:{row.id}",
                details={"keys": started},
            )
        if granted and sessions is not None:
            assert row is not None
            principal = signer.verify(token, now=now)
            sessions.open(
                uow.conn,
                session_id=principal.session_id,
                user_id=row.id,
                pw_hash=row.password_hash,
                now=now,
                ttl=signer.ttl,
            )
        uow.commit()
    if not granted:
        raise AuthError(Reason.NOT_AUTHENTICATED, "Wrong user name or password.")
    return token, signer.verify(token, now=now)


def audit_logout(db: Database, principal: Principal) -> None:
    """Sign-outs are audited like sign-ins."""
    with db.uow() as uow:
        uow.audit(
            actor=f"{principal.role.value}:{principal.user_id}",
            action="auth.logout",
            obj=f"staff:{principal.user_id}",
        )
        uow.commit()


def update_user(
    db: Database,
    *,
    user_id: int,
    actor: str,
    active: bool | None = None,
    role: Role | None = None,
    outlet_id: int | None = None,
    password: str | None = None,
) -> StaffPublic:
    """Change an account; its open sessions end at once on every process (see `simkyc.service.sessions`).

    A role or outlet change, a new password or disabling the account makes every token issued before
    it invalid, because each check compares the token and its session with the account row.
    """
    values: dict[str, object] = {}
    if active is not None:
        values["active"] = active
    if role is not None:
        values["role"] = role.value
        values["outlet_id"] = outlet_id
        if role is Role.CLERK and outlet_id is None:
            raise InputError(Reason.INVALID_REQUEST, "A clerk must belong to an outlet.")
    if password is not None:
        if len(password) < 8:
            raise InputError(Reason.INVALID_REQUEST, "The password must have at least 8 characters.")
        values["password_hash"] = hash_password(password)
    if not values:
        raise InputError(Reason.INVALID_REQUEST, "Nothing to change.")
    with db.uow() as uow:
        conn = uow.conn
        if values.get("outlet_id") is not None and (
            conn.execute(sa.select(outlet.c.id).where(outlet.c.id == values["outlet_id"])).first() is None
        ):
            raise NotFoundError(Reason.NOT_FOUND, "No such outlet.")
        done = conn.execute(sa.update(staff_user).where(staff_user.c.id == user_id).values(**values)).rowcount
        if not done:
            raise NotFoundError(Reason.NOT_FOUND, "No such user.")
        conn.execute(
            sa.update(staff_session)
            .where(staff_session.c.user_id == user_id, staff_session.c.ended_at.is_(None))
            .values(ended_at=_utcnow())
        )
        changed = sorted(k for k in values if k != "password_hash") + (["password"] if password else [])
        uow.audit(actor=actor, action="staff.update", obj=f"staff:{user_id}", details={"changed": changed})
        uow.commit()
    return next(u for u in list_users(db.engine) if u.id == user_id)


def create_user(
    db: Database, *, username: str, password: str, role: Role, outlet_id: int | None, actor: str
) -> StaffPublic:
    """Add a staff account; clerks must belong to an outlet; ConflictError if the name is taken."""
    if role is Role.CLERK and outlet_id is None:
        raise InputError(Reason.INVALID_REQUEST, "A clerk must belong to an outlet.")
    if not username or len(username) > 128:
        raise InputError(Reason.INVALID_REQUEST, "The user name must have 1 to 128 characters.")
    if len(password) < 8:
        raise InputError(Reason.INVALID_REQUEST, "The password must have at least 8 characters.")
    hashed = hash_password(password)
    try:
        with db.uow() as uow:
            conn = uow.conn
            if (
                outlet_id is not None
                and conn.execute(sa.select(outlet.c.id).where(outlet.c.id == outlet_id)).first() is None
            ):
                raise NotFoundError(Reason.NOT_FOUND, "No such outlet.")
            new_id = conn.execute(
                sa.insert(staff_user).values(
                    username=username,
                    password_hash=hashed,
                    role=role.value,
                    outlet_id=outlet_id,
                    active=True,
                    created_at=_utcnow(),
                )
            ).inserted_primary_key
            assert new_id is not None
            uow.audit(
                actor=actor,
                action="staff.create",
                obj=f"staff:{new_id[0]}",
                details={"username": username, "role": role.value, "outlet": outlet_id},
            )
            uow.commit()
    except IntegrityError:
        raise ConflictError(Reason.INVALID_REQUEST, "That user name is taken.") from None
    return StaffPublic(int(new_id[0]), username, role, outlet_id, True)


def list_users(engine: Engine) -> list[StaffPublic]:
    """Every staff account, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                staff_user.c.id,
                staff_user.c.username,
                staff_user.c.role,
                staff_user.c.outlet_id,
                staff_user.c.active,
            ).order_by(staff_user.c.id)
        ).all()
    return [StaffPublic(r.id, r.username, Role(r.role), r.outlet_id, bool(r.active)) for r in rows]


def set_user_active(db: Database, *, user_id: int, active: bool, actor: str) -> StaffPublic:
    """Enable or disable an account: a disabled account cannot sign in, and its sessions are refused on
    every process within the session check's cache time (`simkyc.service.sessions`)."""
    with db.uow() as uow:
        done = uow.conn.execute(
            sa.update(staff_user).where(staff_user.c.id == user_id).values(active=active)
        ).rowcount
        if not done:
            raise NotFoundError(Reason.NOT_FOUND, "No such user.")
        uow.audit(actor=actor, action="staff.enable" if active else "staff.disable", obj=f"staff:{user_id}")
        uow.commit()
    return next(u for u in list_users(db.engine) if u.id == user_id)


def set_password(db: Database, *, username: str, password: str, actor: str) -> StaffPublic:
    """Replace an account's password (argon2 hash only), audited as `staff.password_reset`."""
    if len(password) < 8:
        raise InputError(Reason.INVALID_REQUEST, "The password must have at least 8 characters.")
    hashed = hash_password(password)
    with db.uow() as uow:
        row = uow.conn.execute(sa.select(staff_user.c.id).where(staff_user.c.username == username)).first()
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, f"No staff account {username!r}.")
        uow.conn.execute(sa.update(staff_user).where(staff_user.c.id == row.id).values(password_hash=hashed))
        uow.audit(actor=actor, action="staff.password_reset", obj=f"staff:{row.id}")
        uow.commit()
    return next(u for u in list_users(db.engine) if u.id == row.id)


def count_users(engine: Engine) -> int:
    """How many staff accounts exist (0 means a first start)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(staff_user)).scalar_one())


def ensure_operator(db: Database, *, operator_id: str, name: str, actor: str) -> None:
    """Create the operator row if it is missing."""
    with db.uow() as uow:
        if uow.conn.execute(sa.select(operator.c.id).where(operator.c.id == operator_id)).first() is None:
            uow.conn.execute(sa.insert(operator).values(id=operator_id, name=name))
            uow.audit(actor=actor, action="operator.create", obj=f"operator:{operator_id}")
            uow.commit()


def create_outlet(db: Database, *, code: str, name: str, operator_id: str, actor: str) -> dict[str, object]:
    """Add an outlet of an existing operator; ConflictError if the code is taken."""
    try:
        with db.uow() as uow:
            conn = uow.conn
            if conn.execute(sa.select(operator.c.id).where(operator.c.id == operator_id)).first() is None:
                raise NotFoundError(Reason.NOT_FOUND, "No such operator.")
            new_id = conn.execute(
                sa.insert(outlet).values(code=code, name=name, operator_id=operator_id, active=True)
            ).inserted_primary_key
            assert new_id is not None
            uow.audit(actor=actor, action="outlet.create", obj=f"outlet:{new_id[0]}", details={"code": code})
            uow.commit()
    except IntegrityError:
        raise ConflictError(Reason.INVALID_REQUEST, "That outlet code is taken.") from None
    return {"id": int(new_id[0]), "code": code, "name": name, "operator_id": operator_id, "active": True}


def list_outlets(engine: Engine) -> list[dict[str, object]]:
    """Every outlet with its operator."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                outlet.c.id, outlet.c.code, outlet.c.name, outlet.c.operator_id, outlet.c.active
            ).order_by(outlet.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def create_api_key(
    db: Database,
    *,
    platform: str,
    pepper: bytes,
    actor: str,
    scopes: tuple[str, ...] = (PLATFORM_SCOPE,),
) -> tuple[ApiKeyPublic, str]:
    """Mint a key for a platform: (its public record, the token to hand over once)."""
    minted = new_api_key(pepper=pepper)
    with db.uow() as uow:
        new_id = uow.conn.execute(
            sa.insert(api_key).values(
                platform=platform,
                key_hash=minted.key_hash,
                scopes=" ".join(scopes),
                active=True,
                created_at=_utcnow(),
            )
        ).inserted_primary_key
        assert new_id is not None
        uow.audit(
            actor=actor,
            action="api_key.create",
            obj=f"api_key:{new_id[0]}",
            details={"platform": platform, "scopes": list(scopes)},
        )
        uow.commit()
    return ApiKeyPublic(int(new_id[0]), platform, scopes, True), minted.token


def list_api_keys(engine: Engine) -> list[ApiKeyPublic]:
    """Every platform key, without secrets."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(api_key.c.id, api_key.c.platform, api_key.c.scopes, api_key.c.active).order_by(
                api_key.c.id
            )
        ).all()
    return [ApiKeyPublic(r.id, r.platform, tuple(r.scopes.split()), bool(r.active)) for r in rows]


def revoke_api_key(db: Database, *, key_id: int, actor: str) -> None:
    """Deactivate a key (refused at once in this process; other processes within the cache ttl)."""
    with db.uow() as uow:
        done = uow.conn.execute(
            sa.update(api_key).where(api_key.c.id == key_id).values(active=False)
        ).rowcount
        if not done:
            raise NotFoundError(Reason.NOT_FOUND, "No such API key.")
        uow.audit(actor=actor, action="api_key.revoke", obj=f"api_key:{key_id}")
        uow.commit()


@dataclass
class ApiKeyVerifier:
    """Checks presented platform keys against the stored hashes, with a short in-memory cache.

    The cache holds only keyed hashes and platform names, for `ttl` seconds, so the platform check
    does not pay a database read per request; revocation in this process clears it at once, in any
    other process sharing the database within `ttl` (2 s, as sessions: one read per key and 2 s).
    """

    engine: Engine
    pepper: bytes
    ttl: float = 2.0
    _cache: dict[str, tuple[float, ApiKeyPublic | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, token: str, *, scope: str, now: float) -> ApiKeyPublic:
        """The key's record, or AuthError(API_KEY_INVALID / FORBIDDEN)."""
        parse_api_key(token)
        digest = hash_api_key(token.strip(), pepper=self.pepper)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            record = cached[1]
        else:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(api_key.c.id, api_key.c.platform, api_key.c.scopes, api_key.c.active).where(
                        api_key.c.key_hash == digest
                    )
                ).first()
            record = (
                None
                if row is None
                else ApiKeyPublic(row.id, row.platform, tuple(row.scopes.split()), row.active)
            )
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl, record)
        if record is None or not record.active:
            raise AuthError(Reason.API_KEY_INVALID)
        if scope not in record.scopes:
            raise AuthError(Reason.FORBIDDEN, f"This key lacks the scope {scope}.")
        return record

    def forget(self) -> None:
        """Drop the cache (after a revocation)."""
        with self._lock:
            self._cache.clear()
