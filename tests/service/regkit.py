"""Test kit for the registration service: seeded staff, synthetic ID documents, fakes for the models.

Also imported by the worker processes of the race and crash tests (run as scripts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from simkyc.core.documents.document import IdDocument
from simkyc.core.documents.id_number import check_character
from simkyc.core.faces.types import Image
from simkyc.core.liveness.challenge import Challenge
from simkyc.core.liveness.types import Frame, LivenessResult
from simkyc.core.policy import Evidence, Policy, Thresholds
from simkyc.service.registration import CaptureAssessment, RegistrationDeps
from simkyc.store import Database
from simkyc.store.schema import operator, outlet, staff_user

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
THRESHOLDS = Thresholds(accept=0.9, review=0.8, duplicate=0.95)
OPERATOR = "CMCC"


def id_number(n: int, *, birth: str = "19900307") -> str:
    """A valid resident ID number (Beijing Chaoyang region) with sequence `n` (0..999)."""
    first17 = f"110105{birth}{n % 1000:03d}"
    return first17 + check_character(first17)


def portrait(seed: int = 0) -> Image:
    return np.random.default_rng(seed).integers(0, 256, (126, 102, 3), dtype=np.uint8)


def document(
    n: int, *, name: str = "张三", photo: Image | None = None, birth: str = "19900307"
) -> IdDocument:
    number = id_number(n, birth=birth)
    return IdDocument(
        source="chip",
        kind="resident_id",
        name=name,
        id_number=number,
        birth_date=dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:])),
        sex="M" if int(number[16]) % 2 else "F",
        valid_from=dt.date(2020, 1, 1),
        valid_until=None,
        portrait=portrait(n) if photo is None else photo,
    )


@dataclass
class Seeded:
    outlet_id: int
    clerk_id: int
    supervisor_id: int
    auditor_id: int
    outlet_code: str = "BJ-001"


def seed(db: Database) -> Seeded:
    """An operator, one outlet, a clerk, a supervisor and an auditor (idempotent)."""
    with db.uow() as uow:
        c = uow.conn
        if c.execute(select(operator.c.id).where(operator.c.id == OPERATOR)).first() is None:
            c.execute(insert(operator).values(id=OPERATOR, name="China Mobile"))
            c.execute(
                insert(outlet).values(code="BJ-001", name="Chaoyang 1", operator_id=OPERATOR, active=True)
            )
            oid = c.execute(select(outlet.c.id).where(outlet.c.code == "BJ-001")).scalar_one()
            for name, role, out in (
                ("clerk1", "clerk", oid),
                ("super1", "supervisor", None),
                ("audit1", "auditor", None),
            ):
                c.execute(
                    insert(staff_user).values(
                        username=name, password_hash="x", role=role, outlet_id=out, active=True, created_at=T0
                    )
                )
        ids = dict(c.execute(select(staff_user.c.username, staff_user.c.id)).all())
        oid = c.execute(select(outlet.c.id).where(outlet.c.code == "BJ-001")).scalar_one()
        uow.commit()
    return Seeded(oid, ids["clerk1"], ids["super1"], ids["audit1"])


class Clock:
    """A settable clock (no sleeps in tests)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


def unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def near(t: np.ndarray, score: float, seed: int = 99) -> np.ndarray:
    """A unit vector whose cosine with `t` is `score`."""
    o = unit(seed, len(t))
    o = o - float(o @ t) * t
    o /= np.linalg.norm(o)
    v = score * t + np.sqrt(1 - score**2) * o
    return (v / np.linalg.norm(v)).astype(np.float32)


def assessment(
    *,
    score: float = 0.95,
    template: np.ndarray | None = None,
    passed: bool = True,
    duplicates: int = 0,
    attempt: int = 1,
    frames: Sequence[Image] = (),
) -> CaptureAssessment:
    """What a capture would have measured, without running any model."""
    return CaptureAssessment(
        evidence=Evidence(
            liveness_passed=passed,
            match_score=score if passed else None,
            duplicate_other_ids=duplicates,
            attempt=attempt,
        ),
        template=unit(1) if template is None else template,
        model_name="fake-embedder",
        model_version="1",
        candidates=[],
        frames=list(frames),
    )


@dataclass
class FakeQuality:
    findings: tuple[Any, ...] = ()


@dataclass
class FakeAnalysis:
    template: np.ndarray
    quality: FakeQuality = field(default_factory=FakeQuality)


class FakeFaces:
    """Maps an image to the template of the nearest learned image of its size (so tests decide who
    matches whom; nearest, because an open registration keeps its ID portrait as JPEG)."""

    embedder_name = "fake-embedder"
    embedder_version = "1"

    def __init__(self) -> None:
        self.images: list[tuple[np.ndarray, np.ndarray]] = []

    def learn(self, image: Image, template: np.ndarray) -> None:
        self.images.append((np.asarray(image, dtype=np.float32), template))

    def analyze(self, image: Image, *, kind: str = "live") -> FakeAnalysis:
        probe = np.asarray(image, dtype=np.float32)
        same = [
            (float(np.abs(img - probe).mean()), t)
            for img, t in reversed(self.images)
            if img.shape == probe.shape
        ]
        dist, template = min(same, key=lambda x: x[0])
        assert dist < 65.0, dist  # JPEG moves noise portraits by ~40 levels; two noise images differ by ~85
        return FakeAnalysis(template)


def fake_liveness(frames_ok: bool = True) -> Any:
    def run(challenge: Challenge, frames: Sequence[Frame]) -> LivenessResult:
        return LivenessResult(
            passed=frames_ok,
            reasons=(),
            action_times={},
            best_frames=[f.image for f in frames][:3],
            scores={},
        )

    return run


def make_deps(
    db: Database,
    *,
    policy: Policy | None = None,
    clock: Clock | None = None,
    faces: FakeFaces | None = None,
    index: Any = None,
) -> RegistrationDeps:
    pol = policy or Policy.from_dict({"version": "test-1", "quota": {"new_number_window_hours": 0}})
    return RegistrationDeps(
        db=db,
        policy=pol,
        thresholds=lambda: THRESHOLDS,
        faces=(lambda: faces) if faces is not None else None,
        liveness=lambda: fake_liveness(),
        index=(lambda: index) if index is not None else None,
        clock=clock or Clock(),
    )


# --- real data (end-to-end and byte-scan tests) -----------------------------------------------

REAL_CLIP = "liveness_pyimagesearch_demo_ZubairCracksCode/real.mov"
IMPOSTOR = "face_recognition/tests/test_images/biden.jpg"
CHIP_SIZE = (102, 126)  # width, height of a second-generation ID card's chip portrait


def chip_portrait(image: Image) -> Image:
    """Crop an ID-photo-like head-and-shoulders box around the main face and shrink it to chip size."""
    import cv2

    from simkyc import bootstrap

    found, _ = bootstrap.face_pipeline().detect(image)
    b = found[0].box
    cx, cy = (b.left + b.right) / 2, (b.top + b.bottom) / 2
    w = 1.7 * b.width
    h = w * CHIP_SIZE[1] / CHIP_SIZE[0]
    x0, y0 = int(max(0, cx - w / 2)), int(max(0, cy - 0.45 * h))
    crop = image[y0 : int(y0 + h), x0 : int(x0 + w)]
    return np.asarray(cv2.resize(crop, CHIP_SIZE, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def seed_for(actions: tuple[str, ...], n_actions: int = 2) -> int:
    """The first test seed whose challenge asks for `actions` (what the real clip shows, in order)."""
    from simkyc.core.liveness.challenge import new_challenge

    for s in range(10_000):
        ch = new_challenge(b"k" * 32, now=0.0, n_actions=n_actions, seed=s)
        if tuple(a.value for a in ch.actions) == actions:
            return s
    raise LookupError(actions)


class MemoLiveness:
    """The real liveness runner, run once per challenge (tests re-use one fixed challenge)."""

    def __init__(self) -> None:
        self.cache: dict[str, LivenessResult] = {}
        self.runs = 0

    def __call__(self, challenge: Challenge, frames: Sequence[Frame]) -> LivenessResult:
        from simkyc import bootstrap

        token = challenge.message().decode()  # the challenge without its MAC (keys differ per test)
        if token not in self.cache:
            self.runs += 1
            self.cache[token] = bootstrap.registration_liveness()(challenge, frames)
        return self.cache[token]


def real_deps(db: Database, *, clock: Clock, liveness: MemoLiveness, index: Any) -> RegistrationDeps:
    """Real face pipeline, calibrated thresholds, shipped policy (window off so one ID can retry)."""
    from simkyc import bootstrap

    pol = dataclasses.replace(bootstrap.policy(), new_number_window_hours=0.0)
    return RegistrationDeps(
        db=db,
        policy=pol,
        thresholds=bootstrap.registration_thresholds,
        faces=bootstrap.face_pipeline,
        liveness=lambda: liveness,
        index=lambda: index,
        clock=clock,
    )


def unit_frames(n: int) -> list[Image]:
    """Small stand-in live frames (for REVIEW evidence without models)."""
    return [np.full((48, 40, 3), 30 + i, dtype=np.uint8) for i in range(n)]
