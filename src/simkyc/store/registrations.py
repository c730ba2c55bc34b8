"""The registration use cases' queries, behind one repository (`uow.registrations`).

Every SQL statement the registration service runs lives here, so the service modules read as use
cases (who may act, what the policy says, what is written) and a query cannot slip past the
authorization entrance unnoticed. The repository runs inside the caller's unit of work: it never
commits, and encryption uses the unit of work's key ring.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from simkyc.core.policy import Holdings, Outcome
from simkyc.errors import ConflictError, Reason
from simkyc.store.fields import aad_identity, aad_template, template_from_bytes, template_to_bytes
from simkyc.store.schema import (
    face_template,
    identity,
    outlet,
    phone_number,
    registration,
    review_case,
    staff_user,
)

if TYPE_CHECKING:
    from simkyc.store.uow import UnitOfWork

__all__ = ["HELD", "RegistrationRepository", "aware", "identity_key", "template_key"]

HELD = ("active", "suspended")  # statuses that count against the quota


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything simkyc stores is UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def identity_key(identity_id: int) -> str:
    return f"i{identity_id}"


def template_key(template_id: int) -> str:
    return f"t{template_id}"


class RegistrationRepository:
    """Reads and writes of registrations, identities, numbers, templates and review cases."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    @property
    def conn(self) -> Any:
        return self.uow.conn

    # --- staff and outlets ---------------------------------------------------------------------

    def staff(self, user_id: int) -> Row[Any] | None:
        """(role, outlet_id, active, operator_id) of a staff account; operator only for outlet staff."""
        return self.conn.execute(  # type: ignore[no-any-return]
            select(staff_user.c.role, staff_user.c.outlet_id, staff_user.c.active, outlet.c.operator_id)
            .select_from(staff_user.outerjoin(outlet, outlet.c.id == staff_user.c.outlet_id))
            .where(staff_user.c.id == user_id)
        ).first()

    def outlet_operator(self, outlet_id: int) -> str:
        return str(
            self.conn.execute(select(outlet.c.operator_id).where(outlet.c.id == outlet_id)).scalar_one()
        )

    # --- identities ----------------------------------------------------------------------------

    def upsert_identity(self, fields: dict[str, Any], *, id_number: str, masked: str, now: datetime) -> int:
        """The identity row for this ID number (created on first sight), locked until commit."""
        keys = self.uow.keys
        id_hash = keys.lookup_hash(id_number)
        key_id, blob = keys.encrypt_json(fields, aad=aad_identity(id_hash))
        values = {
            "id_hash": id_hash,
            "id_masked": masked,
            "fields_enc": blob,
            "name_hash": keys.name_hash(fields["name"]),
            "key_id": key_id,
            "created_at": now,
            "updated_at": now,
        }
        ins = pg_insert(identity) if self.uow.dialect == "postgresql" else sqlite_insert(identity)
        self.conn.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["id_hash"]))
        row = self.conn.execute(select(identity.c.id).where(identity.c.id_hash == id_hash)).one()
        self.uow.lock_identity(row.id)
        return int(row.id)

    def identity_by_hash(self, id_hash: str) -> Row[Any] | None:
        """(id, id_masked, name_hash) of the identity with this lookup hash."""
        return self.conn.execute(  # type: ignore[no-any-return]
            select(identity.c.id, identity.c.id_masked, identity.c.name_hash).where(
                identity.c.id_hash == id_hash
            )
        ).first()

    def identity_hash(self, identity_id: int) -> str:
        return str(
            self.conn.execute(select(identity.c.id_hash).where(identity.c.id == identity_id)).scalar_one()
        )

    def identity_fields(self, identity_id: int) -> dict[str, Any]:
        row = self.conn.execute(
            select(identity.c.key_id, identity.c.fields_enc, identity.c.id_hash).where(
                identity.c.id == identity_id
            )
        ).one()
        data: dict[str, Any] = self.uow.keys.decrypt_json(
            row.key_id, row.fields_enc, aad=aad_identity(row.id_hash)
        )
        return data

    def refresh_identity(self, identity_id: int, arrays: dict[str, Any], now: datetime) -> None:
        """Store the card fields of an approved registration on its identity (a renewed card, a new name)."""
        if "fields" not in arrays:
            return
        fields = json.loads(np.asarray(arrays["fields"], dtype=np.uint8).tobytes())
        id_hash = self.identity_hash(identity_id)
        key_id, blob = self.uow.keys.encrypt_json(fields, aad=aad_identity(id_hash))
        self.conn.execute(
            update(identity)
            .where(identity.c.id == identity_id)
            .values(
                fields_enc=blob,
                key_id=key_id,
                name_hash=self.uow.keys.name_hash(fields["name"]),
                updated_at=now,
            )
        )

    def holdings(self, *, identity_id: int, operator_id: str) -> Holdings:
        held = self.conn.execute(
            select(phone_number.c.operator_id, func.count())
            .where(phone_number.c.identity_id == identity_id, phone_number.c.status.in_(HELD))
            .group_by(phone_number.c.operator_id)
        ).all()
        by_op = {r[0]: int(r[1]) for r in held}
        last = self.conn.execute(
            select(func.max(registration.c.decided_at)).where(
                registration.c.identity_id == identity_id,
                registration.c.operator_id == operator_id,
                registration.c.kind == "new",
                registration.c.status == Outcome.APPROVED.value,
            )
        ).scalar()
        return Holdings(
            active_with_operator=by_op.get(operator_id, 0),
            active_nationwide=sum(by_op.values()),
            last_new_with_operator=aware(last),
        )

    def candidates(self, hits: Sequence[tuple[str, float]]) -> list[tuple[str, str, float]]:
        """(identity key, masked ID, score) of each duplicate-search hit."""
        out = []
        for key, score in hits:
            masked = self.conn.execute(
                select(identity.c.id_masked).where(identity.c.id == int(key[1:]))
            ).scalar()
            out.append((key, masked or "?", float(score)))
        return out

    # --- registrations -------------------------------------------------------------------------

    def add_registration(self, **values: Any) -> None:
        self.conn.execute(insert(registration).values(**values))

    def get(self, registration_id: str) -> Row[Any] | None:
        return self.conn.execute(  # type: ignore[no-any-return]
            select(registration).where(registration.c.id == registration_id)
        ).first()

    def update(self, registration_id: str, **values: Any) -> None:
        self.conn.execute(update(registration).where(registration.c.id == registration_id).values(**values))

    def consent_version(self, registration_id: str) -> str:
        return str(
            self.conn.execute(
                select(registration.c.consent_text_version).where(registration.c.id == registration_id)
            ).scalar_one()
        )

    def public_view(self, registration_id: str) -> Row[Any] | None:
        return self.conn.execute(  # type: ignore[no-any-return]
            select(registration, identity.c.id_masked)
            .join(identity, identity.c.id == registration.c.identity_id)
            .where(registration.c.id == registration_id)
        ).first()

    def scores(self, registration_id: str) -> dict[str, Any]:
        return dict(
            self.conn.execute(
                select(registration.c.scores).where(registration.c.id == registration_id)
            ).scalar_one()
        )

    def open_captures(
        self, *, now: datetime, clerk_id: int | None = None, outlet_id: int | None = None
    ) -> tuple[int, datetime | None]:
        """How many captures of this clerk (or outlet) hold a slot now, and when the first one frees."""
        col = registration.c.clerk_id if clerk_id is not None else registration.c.outlet_id
        value = clerk_id if clerk_id is not None else outlet_id
        row = self.conn.execute(
            select(func.count(), func.min(registration.c.capture_until)).where(
                col == value, registration.c.capture_until > now
            )
        ).one()
        return int(row[0]), aware(row[1])

    def lock_capture_slots(self, *, clerk_id: int, outlet_id: int) -> None:
        """Serialise slot counting per clerk and outlet (PostgreSQL row locks; SQLite's writer lock)."""
        if self.uow.dialect == "postgresql":
            self.conn.execute(select(staff_user.c.id).where(staff_user.c.id == clerk_id).with_for_update())
            self.conn.execute(select(outlet.c.id).where(outlet.c.id == outlet_id).with_for_update())

    # --- numbers -------------------------------------------------------------------------------

    def held_numbers(self, identity_id: int, *, operator_id: str) -> list[str]:
        """The identity's held numbers with one operator."""
        return [
            str(n)
            for n in self.conn.execute(
                select(phone_number.c.number)
                .where(
                    phone_number.c.identity_id == identity_id,
                    phone_number.c.operator_id == operator_id,
                    phone_number.c.status.in_(HELD),
                )
                .order_by(phone_number.c.bound_at)
            ).scalars()
        ]

    def number(self, number: str) -> Row[Any] | None:
        return self.conn.execute(  # type: ignore[no-any-return]
            select(phone_number).where(phone_number.c.number == number)
        ).first()

    def held_number(self, number: str) -> Row[Any] | None:
        """The held (active or suspended) number with its holder's masked ID and lookup hash."""
        return self.conn.execute(  # type: ignore[no-any-return]
            select(phone_number, identity.c.id_masked, identity.c.id_hash)
            .join(identity, identity.c.id == phone_number.c.identity_id)
            .where(phone_number.c.number == number, phone_number.c.status.in_(HELD))
        ).first()

    def number_is_held(self, number: str) -> bool:
        return (
            self.conn.execute(
                select(phone_number.c.status).where(
                    phone_number.c.number == number, phone_number.c.status.in_(HELD)
                )
            ).first()
            is not None
        )

    def bind_number(self, reg: Any, now: datetime) -> None:
        existing = self.conn.execute(
            select(phone_number.c.status).where(phone_number.c.number == reg.phone_number)
        ).first()
        values = {
            "status": "active",
            "operator_id": reg.operator_id,
            "identity_id": reg.identity_id,
            "registration_id": reg.id,
            "bound_at": now,
            "cancelled_at": None,
        }
        if existing is None:
            self.conn.execute(insert(phone_number).values(number=reg.phone_number, **values))
        elif existing.status in HELD:  # never re-bind a number someone holds
            raise ConflictError(Reason.PHONE_NUMBER_TAKEN)
        else:
            self.conn.execute(
                update(phone_number)
                .where(phone_number.c.number == reg.phone_number, phone_number.c.status == "cancelled")
                .values(**values)
            )

    def set_number_status(self, number: str, status: str, *, only_held: bool = False) -> None:
        q = update(phone_number).where(phone_number.c.number == number)
        if only_held:
            q = q.where(phone_number.c.status.in_(HELD))
        self.conn.execute(q.values(status=status))

    def cancel(self, number: str, now: datetime) -> None:
        self.conn.execute(
            update(phone_number)
            .where(phone_number.c.number == number)
            .values(status="cancelled", cancelled_at=now)
        )

    def count_held(self, identity_id: int) -> int:
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(phone_number)
                .where(phone_number.c.identity_id == identity_id, phone_number.c.status.in_(HELD))
            ).scalar_one()
        )

    def number_records(self, identity_id: int) -> Sequence[Any]:
        """Every number ever bound to the identity, with the outlet code of its registration."""
        return self.conn.execute(  # type: ignore[no-any-return]
            select(phone_number, outlet.c.code)
            .join(registration, registration.c.id == phone_number.c.registration_id)
            .join(outlet, outlet.c.id == registration.c.outlet_id)
            .where(phone_number.c.identity_id == identity_id)
            .order_by(phone_number.c.bound_at)
        ).all()

    def active_owner(self, number: str) -> Row[Any] | None:
        """(id_hash, name_hash) of the active number's holder: the platform check's one read."""
        return self.conn.execute(  # type: ignore[no-any-return]
            select(identity.c.id_hash, identity.c.name_hash)
            .join(phone_number, phone_number.c.identity_id == identity.c.id)
            .where(phone_number.c.number == number, phone_number.c.status == "active")
        ).first()

    # --- templates -----------------------------------------------------------------------------

    def stored_template(self, identity_id: int) -> tuple[str, npt.NDArray[np.float32]] | None:
        """(model name, template) of one of the identity's stored face templates, decrypted."""
        found = self.stored_templates(identity_id)
        if not found:
            return None
        model = next(iter(found))
        return model, found[model]

    def stored_templates(self, identity_id: int) -> dict[str, npt.NDArray[np.float32]]:
        """The identity's stored templates by the embedder that made each (its generation), newest first.

        A customer enrolled before an embedder change keeps the old generation's template until a
        re-verification or a new registration re-enrols them (issue 13).
        """
        rows = self.conn.execute(
            select(face_template)
            .where(face_template.c.identity_id == identity_id)
            .order_by(face_template.c.created_at.desc(), face_template.c.id.desc())
        ).all()
        out: dict[str, npt.NDArray[np.float32]] = {}
        for t in rows:
            aad = aad_template(t.identity_id, t.model_name)
            out.setdefault(
                str(t.model_name),
                template_from_bytes(self.uow.keys.decrypt(t.key_id, t.template_enc, aad=aad)),
            )
        return out

    def store_template(
        self,
        *,
        identity_id: int,
        registration_id: str,
        template: npt.NDArray[np.float32],
        model: str,
        version: str,
        now: datetime,
    ) -> tuple[str, str, npt.NDArray[np.float32]]:
        """Insert or replace the identity's template for `model`; returns (template key, identity key, t)."""
        key_id, blob = self.uow.keys.encrypt(
            template_to_bytes(template), aad=aad_template(identity_id, model)
        )
        tid = self.conn.execute(
            select(face_template.c.id).where(
                face_template.c.identity_id == identity_id, face_template.c.model_name == model
            )
        ).scalar()
        values = {
            "registration_id": registration_id,
            "template_enc": blob,
            "key_id": key_id,
            "model_version": version,
            "created_at": now,
        }
        if tid is None:
            tid = self.conn.execute(
                insert(face_template).values(identity_id=identity_id, model_name=model, **values)
            ).inserted_primary_key[0]
        else:
            self.conn.execute(update(face_template).where(face_template.c.id == tid).values(**values))
        return template_key(int(tid)), identity_key(identity_id), template

    def delete_templates(self, identity_id: int, *, except_model: str | None = None) -> list[str]:
        """Delete the identity's templates (all but `except_model`'s when given); returns their index keys.

        With `except_model`: a re-enrolment with a new embedder drops the older generations' templates.
        """
        where = face_template.c.identity_id == identity_id
        if except_model is not None:
            where = where & (face_template.c.model_name != except_model)
        found = self.conn.execute(select(face_template.c.id).where(where)).scalars()
        removed = [template_key(t) for t in found]
        self.conn.execute(delete(face_template).where(where))
        return removed

    def template_ids(self, model_name: str | None = None) -> set[str]:
        """Index keys of every stored template, or of one embedder's (one generation's index)."""
        query = select(face_template.c.id)
        if model_name is not None:
            query = query.where(face_template.c.model_name == model_name)
        return {template_key(i) for i in self.conn.execute(query).scalars()}

    def template_counts(self) -> dict[str, int]:
        """How many templates each embedder (generation) holds: a migration is done when one is left."""
        rows = self.conn.execute(
            select(face_template.c.model_name, func.count()).group_by(face_template.c.model_name)
        ).all()
        return {str(name): int(n) for name, n in rows}

    def templates(
        self, keys: frozenset[str], model_name: str | None = None
    ) -> list[tuple[str, str, npt.NDArray[np.float32]]]:
        nums = [int(w[1:]) for w in keys]
        out = []
        query = select(face_template).where(face_template.c.id.in_(nums))
        if model_name is not None:
            query = query.where(face_template.c.model_name == model_name)
        for t in self.conn.execute(query):
            raw = self.uow.keys.decrypt(
                t.key_id, t.template_enc, aad=aad_template(t.identity_id, t.model_name)
            )
            out.append((template_key(t.id), identity_key(t.identity_id), template_from_bytes(raw)))
        return out

    # --- review cases --------------------------------------------------------------------------

    def add_review_case(self, **values: Any) -> None:
        self.conn.execute(insert(review_case).values(**values))

    def review_case(self, registration_id: str) -> Row[Any] | None:
        return self.conn.execute(  # type: ignore[no-any-return]
            select(review_case).where(review_case.c.registration_id == registration_id)
        ).first()

    def close_review_case(self, case_id: int, **values: Any) -> None:
        self.conn.execute(update(review_case).where(review_case.c.id == case_id).values(**values))
