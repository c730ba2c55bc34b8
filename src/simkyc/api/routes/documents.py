"""ID intake helpers: read a card photo with OCR to prefill the clerk's form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from pydantic import BaseModel

from simkyc.api.deps import Clerk, Ctx
from simkyc.api.routes.registrations import _read_upload
from simkyc.core.documents.names import name_problem
from simkyc.core.images import decode_card

router = APIRouter(prefix="/api/documents", tags=["documents"])


class OcrOut(BaseModel):
    """Fields read from the card for the clerk to check and correct, and a token for the portrait crop.

    The ID number read here is an echo of the clerk's own upload (needed to prefill the form);
    it is not stored by this call. `unreadable` lists fields OCR could not read.
    """

    fields: dict[str, str | None]
    confidence: dict[str, float]
    unreadable: list[str]
    reasons: list[str]
    ocr_token: str | None


@router.post("/ocr")
def read_card(
    *,
    ctx: Ctx,
    clerk: Clerk,
    response: Response,
    image: Annotated[UploadFile, File(description="Card front photo")],
) -> OcrOut:
    """OCR the portrait side of a resident ID card (PP-OCRv4 via RapidOCR, on this server).

    The fields (the full ID number among them) go back to the clerk who uploaded the card,
    to prefill the form, and must not be kept by any cache on the way.
    """
    response.headers["Cache-Control"] = "no-store"
    from simkyc import bootstrap
    from simkyc.service.documents import read_card as ocr_read

    picture = decode_card(_read_upload(ctx, image))
    with ctx.models_lock:
        reading = ocr_read(picture, reader=bootstrap.ocr_engine())
    doc = reading.document
    fields: dict[str, str | None] = {
        "name": doc.name if doc.name and name_problem(doc.name) is None else None,  # same rule as intake
        "id_number": doc.id_number or None,
        "sex": doc.sex,
        "birth_date": doc.birth_date.isoformat() if doc.birth_date else None,
        "address": doc.address,
        "ethnicity": doc.ethnicity,
        "issuer": doc.issuer,
        "valid_from": doc.valid_from.isoformat() if doc.valid_from else None,
        "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
    }
    token = ctx.ocr_portraits.put(doc.portrait) if doc.portrait is not None else None
    return OcrOut(
        fields=fields,
        confidence={k: float(v) for k, v in doc.confidence.items()},
        unreadable=[k for k in ("name", "id_number", "sex", "birth_date") if not fields[k]],
        reasons=[r.value for r in doc.source_reasons],
        ocr_token=token,
    )
