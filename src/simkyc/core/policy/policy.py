"""Policy as data: quotas, windows, age, blocklists, thresholds by operating point, retention.

A `Policy` is parsed from TOML text (the shell reads the file: `src/simkyc/data/policy.toml` or
`SIMKYC_POLICY_FILE`). Its `version` is recorded on every decision, so a decision can be
explained later against the exact rules that produced it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simkyc.errors import InputError, Reason

__all__ = ["Blocklists", "Policy", "Retention"]


@dataclass(frozen=True, slots=True)
class Blocklists:
    """Refused ID numbers, ID region prefixes and phone-number prefixes (plain text, admin-provided)."""

    id_numbers: frozenset[str] = frozenset()
    id_region_prefixes: tuple[str, ...] = ()
    phone_prefixes: tuple[str, ...] = ()

    def hits(self, *, id_number: str, phone: str) -> bool:
        idn = id_number.strip().upper()
        return (
            idn in self.id_numbers
            or any(idn.startswith(p) for p in self.id_region_prefixes)
            or any(phone.startswith(p) for p in self.phone_prefixes)
        )


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each data class lives (DESIGN.md's table); 0 days disables a sweep."""

    registration_days_after_service: int = 730  # service period + 2 years
    review_evidence_days: int = 30
    open_registration_hours: int = 24  # abandoned registrations (never submitted)
    audit_days: int = 1095  # at least 3 years; the sweep never deletes younger entries


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules a decision is made under. Thresholds are operating-point names of the calibration."""

    version: str
    quota_per_operator: int = 5
    nationwide_cap: int | None = None
    new_number_window_hours: float = 24.0
    min_age: int = 16
    blocklists: Blocklists = field(default_factory=Blocklists)
    match_operating_point: str = "1e-3"  # accept when score >= this threshold
    review_operating_point: str = "1e-2"  # REVIEW band between this and the accept threshold
    duplicate_operating_point: str = "1e-4"  # 1:N hits under another ID above this go to REVIEW
    duplicate_k: int = 5
    consent_text_version: str = "face-consent-v1"
    liveness_actions: int = 2
    challenge_ttl_seconds: int = 120
    light_challenge: bool = False  # flash a colour sequence and check the face's reflection (issue 16)
    light_colours: int = 6  # colours per light sequence (4..12), between a white lead-in and tail
    max_attempts: int = 3  # RETRY captures allowed on one registration before it is REJECTED
    retention: Retention = field(default_factory=Retention)

    @classmethod
    def from_toml(cls, text: str) -> Policy:
        """Parse a policy file; unknown keys are refused so typos do not silently fall back to defaults."""
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(Reason.INVALID_REQUEST, f"policy file is not valid TOML ({exc})") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Policy:
        raw = dict(raw)
        try:
            version = str(raw.pop("version"))
            quota = dict(raw.pop("quota", {}))
            match = dict(raw.pop("match", {}))
            live = dict(raw.pop("liveness", {}))
            block = dict(raw.pop("blocklists", {}))
            ret = dict(raw.pop("retention", {}))
            reg = dict(raw.pop("registration", {}))
            if raw:
                raise KeyError(f"unknown sections {sorted(raw)}")
            cap = quota.pop("nationwide_cap", 0)
            policy = cls(
                version=version,
                quota_per_operator=int(quota.pop("per_operator", 5)),
                nationwide_cap=int(cap) if cap else None,
                new_number_window_hours=float(quota.pop("new_number_window_hours", 24.0)),
                min_age=int(reg.pop("min_age", 16)),
                consent_text_version=str(reg.pop("consent_text_version", "face-consent-v1")),
                max_attempts=int(reg.pop("max_attempts", 3)),
                match_operating_point=str(match.pop("accept", "1e-3")),
                review_operating_point=str(match.pop("review", "1e-2")),
                duplicate_operating_point=str(match.pop("duplicate", "1e-4")),
                duplicate_k=int(match.pop("duplicate_k", 5)),
                liveness_actions=int(live.pop("actions", 2)),
                challenge_ttl_seconds=int(live.pop("ttl_seconds", 120)),
                light_challenge=_flag(live.pop("light", False)),
                light_colours=int(live.pop("light_colours", 6)),
                blocklists=Blocklists(
                    id_numbers=frozenset(str(x).strip().upper() for x in block.pop("id_numbers", [])),
                    id_region_prefixes=tuple(str(x) for x in block.pop("id_region_prefixes", [])),
                    phone_prefixes=tuple(str(x) for x in block.pop("phone_prefixes", [])),
                ),
                retention=Retention(
                    registration_days_after_service=int(ret.pop("registration_days_after_service", 730)),
                    review_evidence_days=int(ret.pop("review_evidence_days", 30)),
                    open_registration_hours=int(ret.pop("open_registration_hours", 24)),
                    audit_days=int(ret.pop("audit_days", 1095)),
                ),
            )
            leftovers = {k: v for k, v in (quota | match | live | block | ret | reg).items()}
            if leftovers:
                raise KeyError(f"unknown keys {sorted(leftovers)}")
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(Reason.INVALID_REQUEST, f"malformed policy ({exc})") from None
        if policy.quota_per_operator < 1 or policy.max_attempts < 1 or not 1 <= policy.liveness_actions <= 4:
            raise InputError(Reason.INVALID_REQUEST, "policy values out of range")
        if not 4 <= policy.light_colours <= 12:
            raise InputError(Reason.INVALID_REQUEST, "liveness.light_colours must be 4 to 12")
        if policy.retention.audit_days < 1095:
            raise InputError(
                Reason.INVALID_REQUEST, "audit entries must be kept at least 3 years (1095 days)"
            )
        return policy


def _flag(value: Any) -> bool:
    """A TOML boolean; anything else (a string "false" would be truthy) is refused."""
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value
