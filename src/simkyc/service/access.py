"""Who may do what to whose data: the authorization table, applied in the service layer.

One table (`TABLE`) says, for every action, which role may take it, within which scope and with
what present at the counter. The API's route dependencies (`simkyc.api.deps.Allowed`) and the
registration use cases (`simkyc.service.registration.access.authorize`) both read it, so the web
pages, the REST API and the CLI obey the same rules. README "Roles and security" prints it
(`table_markdown()`), and tests/api/test_api_access_table.py walks it for every route and CLI command.

Scopes:
    own outlet    the registration was opened at the clerk's outlet
    own capture   the capture was opened by this clerk
    own operator  the number is held with the operator of the clerk's outlet
    any           no restriction beyond the role
    self          the caller's own session

Presence (acting on an existing customer's numbers): the customer's card read at the counter (chip
record or OCR: ID number and name) plus a passed live check matched against the stored template,
proven by an APPROVED presence check (`POST /api/customers/presence`, then frames and finish) of
the same clerk in the last `PRESENCE_MINUTES`; or a supervisor acting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from simkyc.errors import AuthError, Reason

__all__ = [
    "COMMANDS",
    "PRESENCE_MINUTES",
    "ROLES",
    "ROUTES",
    "TABLE",
    "Action",
    "Grant",
    "Presence",
    "Scope",
    "entrypoints",
    "grant_for",
    "roles_for",
    "table_markdown",
]

PRESENCE_MINUTES = 10.0
ROLES = ("clerk", "supervisor", "auditor", "admin", "platform", "console")


class Action(StrEnum):
    """Everything a caller can ask of simkyc that the table decides."""

    SESSION = "session"  # who am I, sign out
    DOCUMENT_OCR = "document.ocr"
    REGISTRATION_OPEN = "registration.open"
    CAPTURE = "registration.capture"  # stream frames, finish (registration, re-verification, presence)
    REGISTRATION_READ = "registration.read"
    REVIEW_READ = "review.read"
    REVIEW_EVIDENCE = "review.evidence"
    REVIEW_DECIDE = "review.decide"
    NUMBER_REVERIFY = "number.reverify"
    NUMBER_CANCEL = "number.cancel"
    CUSTOMER_PRESENCE = "customer.presence"
    CUSTOMER_REPORT = "customer.report"
    AUDIT_READ = "audit.read"
    ADMIN = "admin.manage"  # staff accounts, outlets, platform keys
    PLATFORM_CHECK = "platform.check"
    MAINTENANCE = "maintenance"  # keys, audit, retention, index, accounts, serve: the machine's operator
    LOCAL_TOOL = "local.tool"  # files in, results out (verify, liveness, OCR, eval): no customer data


class Scope(StrEnum):
    OWN_OUTLET = "own outlet"
    OWN_CAPTURE = "own capture"
    OWN_OPERATOR = "own operator"
    ANY = "any"
    SELF = "self"


class Presence(StrEnum):
    NONE = "-"
    CUSTOMER = "customer present (card + live match), else refused"
    CUSTOMER_OR_MASKED = "customer present (card + live match), else masked numbers only"
    CARD_AND_CONSENT = "the card read at the counter and the customer's consent"
    CARD = "the card read at the counter (ID number and name)"
    LIVE_CHECK = "the customer's live check (suspends only on a completed mismatch)"
    SUPERVISOR = "a supervisor (this role)"
    API_KEY = "an API key with scope platform:check"
    KEY_FILE = "the database and key file (local operator)"


@dataclass(frozen=True, slots=True)
class Grant:
    """One row of the table: `role` may take `action` within `scope` when `presence` holds."""

    action: Action
    role: str
    scope: Scope
    presence: Presence = Presence.NONE


_STAFF = ("clerk", "supervisor", "auditor", "admin")
_READERS = ("supervisor", "auditor", "admin")

TABLE: tuple[Grant, ...] = (
    *(Grant(Action.SESSION, r, Scope.SELF) for r in _STAFF),
    Grant(Action.DOCUMENT_OCR, "clerk", Scope.OWN_OUTLET),
    Grant(Action.REGISTRATION_OPEN, "clerk", Scope.OWN_OUTLET, Presence.CARD_AND_CONSENT),
    Grant(Action.CAPTURE, "clerk", Scope.OWN_CAPTURE),
    Grant(Action.REGISTRATION_READ, "clerk", Scope.OWN_OUTLET),
    *(Grant(Action.REGISTRATION_READ, r, Scope.ANY) for r in _READERS),
    *(Grant(Action.REVIEW_READ, r, Scope.ANY) for r in _READERS),
    Grant(Action.REVIEW_EVIDENCE, "supervisor", Scope.ANY),
    Grant(Action.REVIEW_DECIDE, "supervisor", Scope.ANY),
    Grant(Action.NUMBER_REVERIFY, "clerk", Scope.OWN_OPERATOR, Presence.LIVE_CHECK),
    Grant(Action.NUMBER_CANCEL, "clerk", Scope.OWN_OPERATOR, Presence.CUSTOMER),
    Grant(Action.NUMBER_CANCEL, "supervisor", Scope.ANY, Presence.SUPERVISOR),
    Grant(Action.CUSTOMER_PRESENCE, "clerk", Scope.OWN_OPERATOR, Presence.CARD),
    Grant(Action.CUSTOMER_REPORT, "clerk", Scope.OWN_OPERATOR, Presence.CUSTOMER_OR_MASKED),
    Grant(Action.CUSTOMER_REPORT, "supervisor", Scope.ANY, Presence.SUPERVISOR),
    *(Grant(Action.AUDIT_READ, r, Scope.ANY) for r in _READERS),
    Grant(Action.ADMIN, "admin", Scope.ANY),
    Grant(Action.PLATFORM_CHECK, "platform", Scope.ANY, Presence.API_KEY),
    Grant(Action.REGISTRATION_READ, "console", Scope.ANY, Presence.KEY_FILE),
    Grant(Action.PLATFORM_CHECK, "console", Scope.ANY, Presence.KEY_FILE),
    Grant(Action.MAINTENANCE, "console", Scope.ANY, Presence.KEY_FILE),
    Grant(Action.LOCAL_TOOL, "console", Scope.ANY),
)

# Where each action is reached. A route's roles come from its action (`simkyc.api.deps.allowed`); a
# CLI command acts as the staff account it names (`--clerk`, `--supervisor`, `--as`), or, for the
# machine's own tools, as the local operator ("console"). None: public (sign-in, ops probes).
ROUTES: dict[tuple[str, str], Action | None] = {
    ("POST", "/api/auth/login"): None,
    ("POST", "/api/auth/logout"): Action.SESSION,
    ("GET", "/api/auth/me"): Action.SESSION,
    ("POST", "/api/documents/ocr"): Action.DOCUMENT_OCR,
    ("POST", "/api/registrations"): Action.REGISTRATION_OPEN,
    ("GET", "/api/registrations"): Action.REGISTRATION_READ,
    ("GET", "/api/registrations/{registration_id}"): Action.REGISTRATION_READ,
    ("POST", "/api/registrations/{registration_id}/frames"): Action.CAPTURE,
    ("POST", "/api/registrations/{registration_id}/finish"): Action.CAPTURE,
    ("POST", "/api/numbers/{number}/reverify"): Action.NUMBER_REVERIFY,
    ("POST", "/api/numbers/{number}/cancel"): Action.NUMBER_CANCEL,
    ("POST", "/api/customers/presence"): Action.CUSTOMER_PRESENCE,
    ("POST", "/api/customers/report"): Action.CUSTOMER_REPORT,
    ("GET", "/api/reviews"): Action.REVIEW_READ,
    ("GET", "/api/reviews/{registration_id}"): Action.REVIEW_READ,
    ("GET", "/api/reviews/{registration_id}/evidence/{which}"): Action.REVIEW_EVIDENCE,
    ("POST", "/api/reviews/{registration_id}/decision"): Action.REVIEW_DECIDE,
    ("GET", "/api/audit"): Action.AUDIT_READ,
    ("GET", "/api/audit/verify"): Action.AUDIT_READ,
    ("GET", "/api/dashboard"): Action.AUDIT_READ,
    ("POST", "/api/platform/check"): Action.PLATFORM_CHECK,
    ("GET", "/api/admin/users"): Action.ADMIN,
    ("POST", "/api/admin/users"): Action.ADMIN,
    ("PATCH", "/api/admin/users/{user_id}"): Action.ADMIN,
    ("GET", "/api/admin/outlets"): Action.ADMIN,
    ("POST", "/api/admin/outlets"): Action.ADMIN,
    ("GET", "/api/admin/keys"): Action.ADMIN,
    ("POST", "/api/admin/keys"): Action.ADMIN,
    ("DELETE", "/api/admin/keys/{key_id}"): Action.ADMIN,
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
    ("GET", "/metrics"): None,
}

# CLI command -> (action, the option naming the acting staff account, or "console").
COMMANDS: dict[str, tuple[Action, str]] = {
    "register start": (Action.REGISTRATION_OPEN, "--clerk"),
    "register frames": (Action.CAPTURE, "--clerk"),
    "register reverify": (Action.NUMBER_REVERIFY, "--clerk"),
    "register presence": (Action.CUSTOMER_PRESENCE, "--clerk"),
    "register review": (Action.REVIEW_DECIDE, "--supervisor"),
    "register cancel": (Action.NUMBER_CANCEL, "--as"),
    "register report": (Action.CUSTOMER_REPORT, "--as"),
    "register status": (Action.REGISTRATION_READ, "console"),
    "register check": (Action.PLATFORM_CHECK, "console"),
    **{
        c: (Action.MAINTENANCE, "console")
        for c in (
            "admin create-user",
            "admin reset-password",
            "audit checkpoint",
            "audit verify",
            "index check",
            "index rebuild",
            "index rotate-key",
            "index stats",
            "keys rotate",
            "keys show",
            "retention run",
            "serve",
            "reader serve",
        )
    },
    **{
        c: (Action.LOCAL_TOOL, "console")
        for c in (
            "eval accuracy",
            "eval adapt",
            "eval calibrate",
            "eval calibrate-model",
            "eval embed-dev",
            "eval fuse",
            "eval run",
            "id-check",
            "id-ocr",
            "liveness",
            "models",
            "mrz",
            "reader read",
            "reader simulate",
            "verify",
        )
    },
}

_BY_ACTION: dict[Action, dict[str, Grant]] = {}
for _g in TABLE:
    _BY_ACTION.setdefault(_g.action, {})[_g.role] = _g


def roles_for(action: Action) -> tuple[str, ...]:
    """The roles the table admits for `action`, in table order."""
    return tuple(_BY_ACTION.get(action, {}))


def grant_for(action: Action, role: str) -> Grant:
    """The row for (`action`, `role`), or AuthError(FORBIDDEN) when the table has none."""
    grant = _BY_ACTION.get(action, {}).get(role)
    if grant is None:
        allowed = " or ".join(roles_for(action)) or "nobody"
        raise AuthError(Reason.FORBIDDEN, f"This needs the role {allowed}.", detail={"action": action.value})
    return grant


def entrypoints(action: Action) -> str:
    """The routes and CLI commands that reach `action`, for the README."""
    routes = [f"`{m} {p}`" for (m, p), a in ROUTES.items() if a is action]
    commands = [f"`simkyc {c}`" for c, (a, _) in COMMANDS.items() if a is action]
    if action in (Action.MAINTENANCE, Action.LOCAL_TOOL):
        commands = [f"`{c}`" for c, (a, _) in COMMANDS.items() if a is action]
    return ", ".join(routes + commands)


def table_markdown() -> str:
    """The table as README prints it: one row per action, each role that may take it with its scope
    and what must be present; every role not named is refused (403 FORBIDDEN, audited)."""
    lines = [
        "| action | reached by | who may, in which scope, with what present |",
        "| --- | --- | --- |",
    ]
    for action in Action:
        grants = _BY_ACTION.get(action, {}).values()
        who = "; ".join(
            f"**{g.role}**: {g.scope.value}"
            + ("" if g.presence is Presence.NONE else f", {g.presence.value}")
            for g in grants
        )
        lines.append(f"| `{action.value}` | {entrypoints(action)} | {who} |")
    return "\n".join(lines)
