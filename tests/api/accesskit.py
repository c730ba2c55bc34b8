"""Helpers for the authorization tests: a customer holding a number, decided without any model."""

from __future__ import annotations

import numpy as np
from apikit import Api, jpeg, open_registration

from simkyc.core.policy import Evidence, Thresholds
from simkyc.service import registration as reg

TEST_THRESHOLDS = Thresholds(accept=0.9, review=0.8, duplicate=0.999)


def noise_jpeg(seed: int = 0, size: tuple[int, int] = (120, 100)) -> bytes:
    return jpeg(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8))


def bound_number(api: Api, *, clerk: str = "demo-clerk", name: str = "张三") -> tuple[str, str]:
    """A customer of `clerk`'s operator holding one number (decided without models): (ID number, phone)."""
    opened = open_registration(api, noise_jpeg(), clerk=clerk, name=name)
    t = np.random.default_rng(int(str(opened["id"]), 16) % 2**32).standard_normal(128).astype(np.float32)
    assessment = reg.CaptureAssessment(
        evidence=Evidence(liveness_passed=True, match_score=0.99),
        template=t / np.linalg.norm(t),
        model_name="test-embedder",
        model_version="1",
    )
    out = reg.record_decision(
        str(opened["id"]),
        assessment,
        deps=api.ctx.registration_deps(),
        actor="test",
        thresholds=TEST_THRESHOLDS,
    )
    assert out.outcome.value == "APPROVED"
    return str(opened["_id_number"]), str(opened["phone_number"])


def approve_presence(api: Api, number: str, name: str, *, clerk_id: int, outlet_id: int) -> str:
    """An APPROVED presence check of this customer by this clerk (the capture decided without models)."""
    deps = api.ctx.registration_deps()
    opened = reg.open_presence(number, name, outlet_id=outlet_id, clerk_id=clerk_id, deps=deps)
    out = reg.record_decision(
        opened.registration_id,
        reg.CaptureAssessment(evidence=Evidence(liveness_passed=True, match_score=0.99)),
        deps=deps,
        actor=f"clerk:{clerk_id}",
        thresholds=TEST_THRESHOLDS,
    )
    assert out.outcome.value == "APPROVED" and out.kind == "presence"
    return opened.registration_id
