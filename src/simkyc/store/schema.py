"""The database schema as SQLAlchemy Core tables (one `metadata`; Alembic migrations mirror it).

Sensitive columns are `*_enc`: AES-256-GCM ciphertext (`simkyc.store.crypto`) under the row's
`key_id`. ID numbers are looked up only through `identity.id_hash` (HMAC-SHA256 under a separate
key); `identity.id_masked` is the only readable form. Raw images appear only in
`review_case.evidence_enc`, encrypted, and are deleted when the case closes or expires.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "ENCRYPTED_COLUMNS",
    "ROLES",
    "api_key",
    "audit_checkpoint",
    "audit_entry",
    "face_template",
    "identity",
    "liveness_failure",
    "login_failure",
    "metadata",
    "operator",
    "outlet",
    "phone_number",
    "registration",
    "review_case",
    "staff_session",
    "staff_user",
    "template_change",
]

ROLES = ("clerk", "supervisor", "auditor", "admin")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _ts(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


operator = Table(
    "operator",
    metadata,
    Column("id", String(32), primary_key=True),  # short code, e.g. "CMCC"
    Column("name", String(200), nullable=False),
)

outlet = Table(
    "outlet",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("operator_id", String(32), ForeignKey("operator.id"), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

staff_user = Table(
    "staff_user",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False, unique=True),
    Column("password_hash", String(512), nullable=False),
    Column("role", String(16), nullable=False),  # one of ROLES
    Column("outlet_id", Integer, ForeignKey("outlet.id"), nullable=True),  # clerks: exactly one outlet
    Column("active", Boolean, nullable=False, default=True),
    _ts("created_at"),
)

api_key = Table(
    "api_key",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(200), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("scopes", String(500), nullable=False, default=""),  # space-separated
    Column("active", Boolean, nullable=False, default=True),
    _ts("created_at"),
)

identity = Table(
    "identity",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("id_hash", String(64), nullable=False, unique=True),  # HMAC-SHA256 hex of the ID number
    Column("id_masked", String(32), nullable=False),
    Column("fields_enc", LargeBinary, nullable=False),  # JSON: id_number, name, birth_date, sex, ...
    Column("name_hash", String(64), nullable=False),  # HMAC of the normalised name (platform check)
    Column("key_id", String(32), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

phone_number = Table(
    "phone_number",
    metadata,
    Column("number", String(20), primary_key=True),
    Column("status", String(16), nullable=False),  # active | suspended | cancelled
    Column("operator_id", String(32), ForeignKey("operator.id"), nullable=False),
    Column("identity_id", Integer, ForeignKey("identity.id"), nullable=False),
    Column("registration_id", String(32), ForeignKey("registration.id"), nullable=False),
    _ts("bound_at"),
    _ts("cancelled_at", nullable=True),
    Index("ix_phone_number_identity_operator", "identity_id", "operator_id", "status"),
)

registration = Table(
    "registration",
    metadata,
    Column("id", String(32), primary_key=True),  # uuid4 hex, the public REG_ID
    Column("identity_id", Integer, ForeignKey("identity.id"), nullable=False),
    Column("phone_number", String(20), nullable=False),
    Column("operator_id", String(32), ForeignKey("operator.id"), nullable=False),
    Column("outlet_id", Integer, ForeignKey("outlet.id"), nullable=False),
    Column("clerk_id", Integer, ForeignKey("staff_user.id"), nullable=False),
    Column("kind", String(16), nullable=False, default="new"),  # new | reverify
    Column("status", String(16), nullable=False),  # OPEN | APPROVED | REJECTED | REVIEW | RETRY | EXPIRED
    Column("decision", String(16), nullable=True),
    Column("reasons", JSON, nullable=False, default=list),
    Column("scores", JSON, nullable=False, default=dict),
    Column("thresholds", JSON, nullable=False, default=dict),
    Column("model_name", String(64), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("policy_version", String(64), nullable=False),
    Column("document_source", String(16), nullable=False),  # chip | ocr | mrz
    Column("consent_text_version", String(64), nullable=False),
    _ts("consent_at"),
    Column("challenge", JSON, nullable=False),  # signed challenge: actions, nonce, issued_at, deadline, mac
    Column("challenge_nonce", String(64), nullable=False),  # single use: the status machine
    Column("test_seed", Integer, nullable=True),  # set only when a test fixed the challenge
    Column("attempts", Integer, nullable=False, default=0),
    Column("id_photo_enc", LargeBinary, nullable=True),  # encrypted ID portrait, only while OPEN
    Column("key_id", String(32), nullable=True),
    _ts("created_at"),
    _ts("decided_at", nullable=True),
    Column("decided_by", Integer, ForeignKey("staff_user.id"), nullable=True),
    # until when the capture holds one of its clerk's and outlet's open-capture slots (issue 14): the
    # challenge deadline plus a grace period, renewed at RETRY, cleared at the decision
    _ts("capture_until", nullable=True),
    Index("ix_registration_identity", "identity_id", "operator_id", "created_at"),
    Index("ix_registration_clerk_capture", "clerk_id", "capture_until"),
    Index("ix_registration_outlet_capture", "outlet_id", "capture_until"),
)

face_template = Table(
    "face_template",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity_id", Integer, ForeignKey("identity.id"), nullable=False),
    Column("registration_id", String(32), ForeignKey("registration.id"), nullable=False),
    Column("template_enc", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("model_name", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    _ts("created_at"),
    UniqueConstraint("identity_id", "model_name", name="uq_face_template_identity_model"),
)

review_case = Table(
    "review_case",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("registration_id", String(32), ForeignKey("registration.id"), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # open | closed | expired
    Column("reasons", JSON, nullable=False, default=list),
    Column("candidates", JSON, nullable=False, default=list),  # [{"identity": masked, "score": s}]
    Column("evidence_enc", LargeBinary, nullable=True),  # encrypted best frames + ID photo
    Column("key_id", String(32), nullable=True),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("closed_at", nullable=True),
    Column("closed_by", Integer, ForeignKey("staff_user.id"), nullable=True),
    Column("outcome", String(16), nullable=True),  # APPROVED | REJECTED
    Column("note", Text, nullable=True),
)

audit_entry = Table(
    "audit_entry",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    _ts("at"),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object", String(128), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    _ts("at"),
    Column("public_key", String(64), nullable=False),  # hex Ed25519 public key
    Column("signature", String(128), nullable=False),  # hex
)

# One row per failed liveness check, for the lockout (simkyc.service.lockout); kept only while it can
# still matter (window + lock period). Keyed by the ID's HMAC lookup key, like identity.id_hash.
liveness_failure = Table(
    "liveness_failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("id_hash", String(64), nullable=False),
    _ts("failed_at"),
    Index("ix_liveness_failure_id_hash", "id_hash", "failed_at"),
)

# The template change feed (simkyc.store.feed): one row per stored, replaced or deleted face template,
# written by triggers on face_template (migration 0003) in commit order; workers follow it to keep
# their 1:N index equal to the database. Rows outlive the template (ids only, no biometrics).
template_change = Table(
    "template_change",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("template_id", Integer, nullable=False),
    Column("identity_id", Integer, nullable=False),
    Column("op", String(8), nullable=False),  # put | del
    _ts("at"),
    # the embedder that made the template (its generation, issue 13; migration 0005): a worker's
    # index of one generation applies only its own changes. NULL on rows older than the migration.
    Column("model_name", String(64), nullable=True),
    sqlite_autoincrement=True,
)

# Staff sessions (simkyc.service.sessions, issue 14): one row per sign-in, keyed by the SHA-256 of the
# token's session id. A token is honoured only while its row is not ended, the account is active, its
# role and outlet are those the token carries and its password is the one signed in with
# (`password_tag`), so sign-outs and account changes hold on every process and across restarts.
staff_session = Table(
    "staff_session",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("staff_user.id"), nullable=False),
    Column("password_tag", String(32), nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("ended_at", nullable=True),
    Index("ix_staff_session_user", "user_id", "expires_at"),
)

# Failed sign-ins for the growing sign-in delays (simkyc.service.sessions): keyed by an HMAC of the
# account, the client address, or both; kept only while they can still delay anything.
login_failure = Table(
    "login_failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    _ts("failed_at"),
    Index("ix_login_failure_key", "key", "failed_at"),
)

# Tables whose rows carry encrypted columns, with those columns: the key-rotation work list.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "identity": ("fields_enc",),
    "registration": ("id_photo_enc",),
    "face_template": ("template_enc",),
    "review_case": ("evidence_enc",),
}
