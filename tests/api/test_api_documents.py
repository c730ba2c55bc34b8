"""The OCR intake route `POST /api/documents/ocr`: a photographed (rendered) card front comes back as
the fields read plus a one-time token for the portrait crop, and that token opens a registration.
Refusals: a file that is not an image, and every role but the clerk.

The route echoes the ID number it read to the clerk who uploaded the card (to prefill the form) and
stores nothing. The test checks that no database row and no audit entry appear. The card is
rendered by `simkyc.eval.cards` with Debian's Noto CJK font, "mild" photo degradation, and an
East Asian face from ../shared/data/faces in the portrait spot.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apikit import Api, intake, jpeg, new_id_number, new_phone
from PIL import Image as PILImage
from sqlalchemy import func, select

from simkyc.core.documents.id_number import mask_id_number
from simkyc.errors import InputError
from simkyc.eval.cards import LEVELS, CardFields, degrade, find_cjk_font, random_fields, render_front
from simkyc.store.schema import audit_entry, identity, registration

MILD = next(level for level in LEVELS if level.name == "mild")
CARD_DAY = dt.date(2026, 11, 22)  # fixed, so the rendered card (and what OCR makes of it) never changes


def _counts(api: Api) -> dict[str, int]:
    with api.ctx.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (identity, registration, audit_entry)
        }


@pytest.fixture(scope="module")
def card(faces_dir: Path) -> tuple[CardFields, bytes]:
    """A photographed card: its true fields and the JPEG the clerk uploads."""
    try:
        find_cjk_font()
    except InputError:
        pytest.skip("no Noto CJK font to render cards: apt-get install fonts-noto-cjk")
    pytest.importorskip("rapidocr_onnxruntime")
    fields = random_fields(random.Random(7), today=CARD_DAY)
    face = sorted((faces_dir / "asian_celeb_nz0001na" / "sample_images").rglob("*.jpg"))[0]
    portrait = np.asarray(PILImage.open(face).convert("RGB"), dtype=np.uint8)
    photo = degrade(render_front(fields, portrait, seed=7), MILD, seed=7)
    return fields, jpeg(photo, 92)


@pytest.fixture(scope="module")
def read(api: Api, card: tuple[CardFields, bytes]) -> tuple[dict[str, Any], dict[str, int]]:
    """One OCR call (3-8 s): the response body, and how many rows each table gained meanwhile."""
    before = _counts(api)
    r = api.client.post(
        "/api/documents/ocr",
        headers=api.headers["demo-clerk"],
        files={"image": ("front.jpg", card[1], "image/jpeg")},
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"  # it carries the full ID number
    after = _counts(api)
    return r.json(), {k: after[k] - before[k] for k in after}


def test_ocr_reads_the_card_front(
    read: tuple[dict[str, Any], dict[str, int]], card: tuple[CardFields, bytes]
) -> None:
    body, _ = read
    truth = card[0]
    got = body["fields"]
    assert got["name"] == truth.name
    assert got["id_number"] == truth.id_number  # echoed to the uploading clerk, as the route documents
    assert got["sex"] == truth.sex
    assert got["birth_date"] == truth.birth_date.isoformat()
    assert got["address"] == truth.address
    assert got["valid_from"] is None and got["valid_until"] is None  # on the back, which was not sent
    assert body["unreadable"] == []
    assert "ID_FIELDS_INCONSISTENT" not in body["reasons"]
    assert {"name", "id_number"} <= set(body["confidence"])
    assert all(0.0 <= c <= 1.0 for c in body["confidence"].values())
    assert isinstance(body["ocr_token"], str) and len(body["ocr_token"]) >= 16


def test_ocr_stores_nothing(read: tuple[dict[str, Any], dict[str, int]]) -> None:
    _, gained = read
    assert gained == {"identity": 0, "registration": 0, "audit_entry": 0}


def test_the_portrait_token_opens_a_registration_once(
    api: Api, read: tuple[dict[str, Any], dict[str, int]], card: tuple[CardFields, bytes]
) -> None:
    body, _ = read
    got, truth = body["fields"], card[0]
    over = {
        "name": got["name"],
        "sex": got["sex"],
        "birth_date": got["birth_date"],
        "address": got["address"],
        # the clerk types the validity period from the back (long-term, so the card never expires here)
        "valid_from": truth.valid_from.isoformat(),
        "valid_until": None,
        "document_source": "ocr",
        "ocr_token": body["ocr_token"],
    }
    r = api.client.post(  # no portrait file: the crop comes from the token
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(got["id_number"], new_phone(), **over),
    )
    assert r.status_code == 201, r.text
    opened = r.json()
    assert opened["status"] == "OPEN" and opened["id_masked"] == mask_id_number(truth.id_number)
    assert truth.id_number not in r.text
    row = api.client.get(f"/api/registrations/{opened['id']}", headers=api.headers["demo-clerk"]).json()
    assert row["id_masked"] == opened["id_masked"]

    again = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(got["id_number"], new_phone(), **over),
    )
    assert again.status_code == 422, again.text  # the token is used up: no portrait this time
    assert again.json()["reason"] == "ID_PHOTO_MISSING"
    assert truth.id_number not in again.text


def test_ocr_refuses_a_file_that_is_not_an_image(api: Api) -> None:
    r = api.client.post(
        "/api/documents/ocr",
        headers=api.headers["demo-clerk"],
        files={"image": ("front.jpg", b"%PDF-1.4 this is not a picture", "image/jpeg")},
    )
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "IMAGE_UNREADABLE"


def test_ocr_refuses_an_image_over_the_cap(api: Api) -> None:
    r = api.client.post(
        "/api/documents/ocr",
        headers=api.headers["demo-clerk"],
        files={"image": ("front.jpg", b"\xff\xd8\xff" + b"0" * (1024 * 1024 + 10), "image/jpeg")},
    )
    assert r.status_code == 413 and r.json()["reason"] == "IMAGE_TOO_LARGE"


@pytest.mark.parametrize("who", ["demo-supervisor", "demo-auditor", "admin"])
def test_only_clerks_may_ocr(api: Api, who: str) -> None:
    tiny = jpeg(np.full((32, 32, 3), 200, dtype=np.uint8))
    r = api.client.post(
        "/api/documents/ocr", headers=api.headers[who], files={"image": ("front.jpg", tiny, "image/jpeg")}
    )
    assert r.status_code == 403, r.text
    assert r.json()["reason"] == "FORBIDDEN"


def test_an_unknown_portrait_token_gives_no_portrait(api: Api) -> None:
    r = api.client.post(
        "/api/registrations",
        headers=api.headers["demo-clerk"],
        data=intake(new_id_number(), new_phone(), document_source="ocr", ocr_token="not-a-token"),
    )
    assert r.status_code == 422 and r.json()["reason"] == "ID_PHOTO_MISSING"
