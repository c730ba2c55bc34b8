"""ID document commands: `id-check`, `id-ocr`, `mrz`.

Exit codes: 0 the document passes every check, 1 it was read but fails a check (reasons
printed), 2 it cannot be read at all. Numbers are printed masked unless `--show-number`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from simkyc.cli._common import console, fail, refusals_exit_2
from simkyc.core.documents.chip import PortraitDecoder
from simkyc.core.documents.document import DEFAULT_MIN_AGE, DocumentCheck, IdDocument, validate_document
from simkyc.errors import DocumentError, Reason

__all__ = ["register"]

Today = Annotated[
    str | None,
    typer.Option("--today", help="Reference date YYYY-MM-DD (default: today).", show_default=False),
]
MinAge = Annotated[int, typer.Option("--min-age", help="Below this age a guardian is needed.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def _wlt_decoder() -> PortraitDecoder | None:
    """The site's WLT decoder (SIMKYC_WLT_DECODER), for records holding the chip's own photo."""
    from simkyc.config import get_settings
    from simkyc.reader.wlt import load_portrait_decoder

    return load_portrait_decoder(get_settings().wlt_decoder)


def _today(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail("--today must be YYYY-MM-DD") from None


def _doc_json(doc: IdDocument, check: DocumentCheck, *, show_number: bool) -> dict[str, object]:
    return {
        "source": doc.source,
        "kind": doc.kind,
        "name": doc.name,
        "id_number": doc.id_number if show_number else doc.masked_number,
        "birth_date": doc.birth_date.isoformat() if doc.birth_date else None,
        "sex": doc.sex,
        "ethnicity": doc.ethnicity,
        "nationality": doc.nationality,
        "issuer": doc.issuer,
        "valid_from": doc.valid_from.isoformat() if doc.valid_from else None,
        "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
        "long_term": doc.valid_until is None and doc.valid_from is not None,
        "portrait": None if doc.portrait is None else list(doc.portrait.shape[:2]),
        "confidence": {k: round(v, 3) for k, v in doc.confidence.items()},
        "ok": check.ok,
        "reasons": [str(r) for r in check.reasons],
        "needs_guardian": check.needs_guardian,
        "age": check.age,
    }


def _report(doc: IdDocument, check: DocumentCheck, *, as_json: bool, show_number: bool) -> None:
    data = _doc_json(doc, check, show_number=show_number)
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            if key in ("reasons", "ok") or value in (None, {}, ""):
                continue
            console.print(f"{key:<15} {value}", highlight=False)
        for reason in check.reasons:
            console.print(f"[yellow]{reason}[/yellow]  {reason.message}", highlight=False)
        console.print("[green]OK[/green]" if check.ok else "[red]NOT OK[/red]")
    raise typer.Exit(code=0 if check.ok else 1)


def id_check(
    number: Annotated[str | None, typer.Argument(help="An 18- or 15-character resident ID number.")] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="A chip-reader JSON record (simkyc-chip-record/1).")
    ] = None,
    today: Today = None,
    min_age: MinAge = DEFAULT_MIN_AGE,
    show_number: Annotated[bool, typer.Option("--show-number", help="Print the full number.")] = False,
    as_json: AsJson = False,
) -> None:
    """Validate an ID number (GB 11643) or a chip-reader record: checksum, region, dates, expiry, age."""
    from simkyc.core.documents.chip import parse_chip_record
    from simkyc.core.documents.id_number import IdNumber

    day = _today(today)
    if (number is None) == (record is None):
        raise fail("give either NUMBER or --record FILE")
    with refusals_exit_2():
        if record is not None:
            try:
                raw = record.read_bytes()
            except OSError as exc:
                raise fail(f"cannot read {record}: {exc.strerror}") from None
            doc = parse_chip_record(raw, portrait_decoder=_wlt_decoder())  # not JSON: ID_RECORD_INVALID
            _report(
                doc,
                validate_document(doc, today=day, min_age=min_age),
                as_json=as_json,
                show_number=show_number,
            )
        assert number is not None
        try:
            parsed = IdNumber.parse(number, today=day)
        except DocumentError as exc:
            if as_json:
                print(json.dumps({"ok": False, "reasons": [str(exc.reason)], "message": exc.message}))
            else:
                console.print(f"[red]{exc.reason}[/red]  {exc.message}", highlight=False)
            raise typer.Exit(code=1) from None
        age = parsed.age_on(day)
        data = {
            "id_number": parsed.value if show_number else parsed.masked,
            "converted_from_15": parsed.converted_from_15,
            "birth_date": parsed.birth_date.isoformat(),
            "sex": parsed.sex,
            "age": age,
            "region": parsed.region.code,
            "region_name": parsed.region.full_name,
            "region_retired": parsed.region.retired,
            "needs_guardian": age < min_age,
            "ok": True,
        }
        if as_json:
            print(json.dumps(data, ensure_ascii=False))
        else:
            for key, value in data.items():
                console.print(f"{key:<18} {value}", highlight=False)
        raise typer.Exit(code=0)


def id_ocr(
    front: Annotated[Path, typer.Argument(help="Photo or scan of the card front.")],
    back: Annotated[Path | None, typer.Argument(help="Photo or scan of the card back.")] = None,
    portrait_out: Annotated[
        Path | None, typer.Option("--portrait-out", help="Write the portrait crop here (PNG/JPEG).")
    ] = None,
    today: Today = None,
    min_age: MinAge = DEFAULT_MIN_AGE,
    show_number: Annotated[bool, typer.Option("--show-number", help="Print the full number.")] = False,
    as_json: AsJson = False,
) -> None:
    """Read a resident ID card by OCR: fields with confidences, cross-checks and validation."""
    from simkyc import bootstrap
    from simkyc.service.documents import load_image, read_card

    day = _today(today)
    with refusals_exit_2():
        front_img = load_image(front)
        back_img = load_image(back) if back is not None else None
        reading = read_card(front_img, back_img, reader=bootstrap.ocr_engine())
        doc = reading.document
        if not doc.id_number:  # nothing to check: the card is unreadable (exit 2), not failing a check
            raise DocumentError(Reason.OCR_FIELD_UNREADABLE, "no ID number could be read from the card front")
        if portrait_out is not None:
            if doc.portrait is None:
                raise DocumentError(Reason.ID_PHOTO_MISSING, "no portrait region found on the front")
            from PIL import Image as PILImage

            PILImage.fromarray(doc.portrait).save(portrait_out)
        check = validate_document(doc, today=day, min_age=min_age)
        if back is None and not as_json:
            console.print("[yellow]note:[/yellow] no card back given: the validity period is unknown")
        _report(doc, check, as_json=as_json, show_number=show_number)


def mrz(
    image: Annotated[Path, typer.Argument(help="Photo or scan of a passport, ID card or permit page.")],
    today: Today = None,
    min_age: MinAge = DEFAULT_MIN_AGE,
    show_number: Annotated[bool, typer.Option("--show-number", help="Print the full number.")] = False,
    as_json: AsJson = False,
) -> None:
    """Read the machine-readable zone (ICAO 9303 TD1/TD2/TD3) of a document image and check it."""
    from simkyc import bootstrap
    from simkyc.service.documents import load_image, read_mrz_image

    day = _today(today)
    with refusals_exit_2():
        record, doc = read_mrz_image(load_image(image), reader=bootstrap.ocr_engine(), today=day)
        check = validate_document(doc, today=day, min_age=min_age)
        if as_json:
            data = _doc_json(doc, check, show_number=show_number) | {
                "mrz_format": record.format,
                "document_code": record.document_code,
                "checks": record.checks,
            }
            print(json.dumps(data, ensure_ascii=False))
            raise typer.Exit(code=0 if check.ok else 1)
        console.print(f"{'mrz_format':<15} {record.format} ({record.document_code}, issuer {record.issuer})")
        checks = ", ".join(f"{k} {'ok' if v else 'FAIL'}" for k, v in record.checks.items())
        console.print(f"{'check digits':<15} {checks}", soft_wrap=True, highlight=False)
        _report(doc, check, as_json=False, show_number=show_number)


def register(app: typer.Typer) -> None:
    app.command("id-check")(id_check)
    app.command("id-ocr")(id_ocr)
    app.command("mrz")(mrz)
