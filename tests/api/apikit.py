"""Helpers for the API tests: the app bundle, a second app on the same database, sign-in, valid ID
numbers, intake forms, streaming a clip."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from simkyc.api.context import AppContext
from simkyc.cli._serve import FirstRun
from simkyc.core.documents.id_number import check_character


@dataclass
class Api:
    """The app under test, its client, and a bearer header per demo role."""

    app: FastAPI
    client: TestClient
    first: FirstRun
    headers: dict[str, dict[str, str]]
    outlet_b: int

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx


@contextmanager
def second_app(api: Api, **settings: Any) -> Iterator[Api]:
    """Another app (as a second `simkyc serve` process, or the same one restarted) on the same home,
    database and keys, with some settings changed. Session tokens are signed with a key derived from
    the shared key ring, so the first app's sign-ins are valid here too."""
    from simkyc.api.app import create_app

    app = create_app(api.ctx.settings.model_copy(update=settings))
    try:
        with TestClient(app) as client:
            yield Api(app, client, api.first, api.headers, api.outlet_b)
    finally:
        ctx: AppContext = app.state.ctx
        ctx.read_db.dispose()
        ctx.db.dispose()


def seed_for(*actions: str) -> int:
    """The first test seed whose challenge asks for `actions` in this order (the draw depends on the
    seed only)."""
    from simkyc.core.liveness.challenge import new_challenge

    for seed in range(10_000):
        drawn = new_challenge(b"k" * 32, now=0.0, n_actions=len(actions), seed=seed).actions
        if tuple(a.value for a in drawn) == actions:
            return seed
    raise LookupError(actions)


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


_serial = iter(range(1, 10_000))


def new_id_number(birth: str = "19900101", region: str = "110105", male: bool = True) -> str:
    """A fresh, valid GB 11643 number (unique within the test session)."""
    seq = next(_serial) % 500
    order = f"{2 * seq + (1 if male else 0):03d}"[-3:]
    first17 = f"{region}{birth}{order}"
    return first17 + check_character(first17)


_phones = iter(range(10_000_000, 99_999_999))


def new_phone() -> str:
    return f"139{next(_phones):08d}"


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def intake(id_number: str, phone: str, **over: object) -> dict[str, str]:
    fields: dict[str, object] = {
        "name": "张三",
        "id_number": id_number,
        "sex": "M" if int(id_number[16]) % 2 else "F",
        "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "valid_from": "2020-01-01",
        "valid_until": None,
        "phone_number": phone,
        "document_source": "chip",
        "consent": True,
    }
    fields.update(over)
    return {"fields": json.dumps(fields)}


def open_registration(
    api: Api, portrait: bytes, *, clerk: str = "demo-clerk", **over: object
) -> dict[str, object]:
    id_number = str(over.pop("id_number", new_id_number()))
    phone = str(over.pop("phone_number", new_phone()))
    r = api.client.post(
        "/api/registrations",
        headers=api.headers[clerk],
        data=intake(id_number, phone, **over),
        files={"portrait": ("p.jpg", portrait, "image/jpeg")},
    )
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    out["_id_number"] = id_number
    return out


def stream(
    api: Api, registration_id: str, issued_at: float, frames: list[tuple[bytes, float]]
) -> dict[str, object]:
    """Push a clip's JPEG frames (anchored just after the challenge was issued) in batches of 10, as
    the page does, then finish; returns the decision."""
    t0 = issued_at + 0.3
    headers = api.headers["demo-clerk"]
    for k in range(0, len(frames), 10):
        batch = frames[k : k + 10]
        r = api.client.post(
            f"/api/registrations/{registration_id}/frames",
            headers=headers,
            data={"timestamps": json.dumps([t0 + off for _, off in batch])},
            files=[("frames", (f"{j}.jpg", jpg, "image/jpeg")) for j, (jpg, _) in enumerate(batch)],
        )
        assert r.status_code == 200, r.text
        if r.json()["finished"]:
            break
    r = api.client.post(f"/api/registrations/{registration_id}/finish", headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out
