"""Read views: a registration's public record, and the stored templates for the 1:N index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simkyc.errors import NotFoundError, Reason
from simkyc.service.registration.model import RegistrationDeps
from simkyc.store import Database

__all__ = ["registration_status", "template_records"]


def registration_status(registration_id: str, *, deps: RegistrationDeps) -> dict[str, Any]:
    """The public view of a registration (masked ID only)."""
    with deps.db.uow() as uow:
        row = uow.registrations.public_view(registration_id)
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such registration")
    return {
        "registration_id": row.id,
        "status": row.status,
        "kind": row.kind,
        "id_masked": row.id_masked,
        "phone": row.phone_number,
        "reasons": list(row.reasons),
        "scores": dict(row.scores),
        "thresholds": dict(row.thresholds),
        "policy_version": row.policy_version,
        "model": f"{row.model_name}/{row.model_version}" if row.model_name else None,
        "consent_text_version": row.consent_text_version,
        "test_seed": row.test_seed,
        "attempts": row.attempts,
    }


def template_records(
    db: Database, model_name: str | None = None
) -> tuple[set[str], Callable[[frozenset[str]], list[tuple[str, str, Any]]]]:
    """The database's template ids and a fetcher of decrypted records (for `simkyc.search.reconcile`).

    With `model_name`, only that embedder's templates: each generation has its own index (issue 13).
    """
    with db.uow() as uow:
        ids = uow.registrations.template_ids(model_name)

    def fetch(wanted: frozenset[str]) -> list[tuple[str, str, Any]]:
        with db.uow() as uow:
            return list(uow.registrations.templates(wanted, model_name))

    return ids, fetch
