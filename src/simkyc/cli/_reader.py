"""`simkyc reader serve|read|simulate`: the ID card reader on the outlet PC.

    simkyc reader serve --device /dev/ttyUSB0 --origin https://simkyc.example.com
    simkyc reader read --device /dev/ttyUSB0 --out card.json
    simkyc reader simulate --record card.json          # a pseudo-terminal that speaks the protocol

`serve` runs the localhost bridge the outlet page reads the card from (one click fills the form);
`read` reads one card (exit 0 read, 1 no card on the reader, 2 reader or read failed) and can write
the `simkyc-chip-record/1` JSON the page and `register start --id-record` accept.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated
from urllib.parse import urlsplit

import typer

from simkyc.cli._common import console, err_console, fail, refusals_exit_2
from simkyc.errors import DocumentError, InputError, Reason

__all__ = ["reader_app", "register"]

reader_app = typer.Typer(no_args_is_help=True, help="The ID card reader: outlet bridge, one read, simulator.")

Device = Annotated[
    str | None,
    typer.Option(
        "--device", help="Serial device of the reader (default SIMKYC_READER_DEVICE).", show_default=False
    ),
]
Baud = Annotated[int, typer.Option("--baud", help="Line speed (the modules' default is 115200).")]
WltDecoder = Annotated[
    str | None,
    typer.Option(
        "--wlt-decoder",
        help="The vendor's WLT portrait decoder, module:attribute (default SIMKYC_WLT_DECODER).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(reader_app, name="reader")


def _device(device: str | None) -> str:
    from simkyc.config import get_settings

    chosen = device or get_settings().reader_device
    if not chosen:
        raise fail("name the reader's serial device: --device /dev/ttyUSB0 (or SIMKYC_READER_DEVICE)")
    return chosen


def _decoder(spec: str | None) -> object:
    from simkyc.config import get_settings
    from simkyc.reader import load_portrait_decoder

    return load_portrait_decoder(spec or get_settings().wlt_decoder)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@reader_app.command("serve")
def serve(
    device: Device = None,
    baud: Baud = 115_200,
    listen: Annotated[
        str | None,
        typer.Option(
            help="Where the page calls it, http://127.0.0.1:PORT (default SIMKYC_READER_BRIDGE_URL)."
        ),
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Origin of the outlet page that may read cards (repeat; SIMKYC_READER_ORIGINS)."),
    ] = None,
    wlt_decoder: WltDecoder = None,
    hold: Annotated[float, typer.Option(help="Seconds a read card stays on offer.")] = 120.0,
) -> None:
    """Offer each card placed on the reader to the outlet page on localhost (only to its origin)."""
    from simkyc.config import get_settings
    from simkyc.reader import ReaderBridge, SamReader, serve_bridge

    settings = get_settings()
    with refusals_exit_2():
        path = _device(device)
        decoder = _decoder(wlt_decoder)
        url = urlsplit(listen or settings.reader_bridge_url)
        if url.scheme != "http" or url.hostname is None or url.port is None:
            raise InputError(Reason.INVALID_REQUEST, f"--listen {listen!r}: use http://127.0.0.1:PORT")
        origins = origin or [o for o in settings.reader_origins.split(",") if o.strip()]
        bridge = ReaderBridge(
            lambda: SamReader.open(path, baud=baud),
            decoder=decoder,  # type: ignore[arg-type]
            hold_s=hold,
            log=lambda line: console.print(line, highlight=False, markup=False),
        )
        server = serve_bridge(bridge, host=url.hostname, port=url.port, origins=origins)
    stop = threading.Event()
    _stop_on_signals(stop)
    bridge.start()
    threading.Thread(target=server.serve_forever, name="reader-http", daemon=True).start()
    where = f"http://{url.hostname}:{url.port}/"
    spec = wlt_decoder or settings.wlt_decoder
    portrait = f"decoded by {spec}" if decoder else "no WLT decoder (PORTRAIT_UNAVAILABLE)"
    console.print(
        f"Reader bridge at {where} for {', '.join(origins)}; reader {path} at {baud} bit/s; {portrait}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        bridge.stop()


@reader_app.command("read")
def read(
    device: Device = None,
    baud: Baud = 115_200,
    wlt_decoder: WltDecoder = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the card as a simkyc-chip-record/1 JSON file.")
    ] = None,
    show_number: Annotated[bool, typer.Option("--show-number", help="Print the full number.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Read the card on the reader once. Exit 0 read, 1 no card, 2 reader or read failed."""
    from simkyc.core.documents.id_number import mask_id_number
    from simkyc.core.documents.sam import decode_text, sam_record
    from simkyc.reader import SamReader, page_record

    with refusals_exit_2():
        decoder = _decoder(wlt_decoder)
        with SamReader.open(_device(device), baud=baud) as reader:
            try:
                info = reader.read_card()
            except DocumentError as exc:
                if exc.reason is not Reason.CARD_NOT_FOUND:
                    raise
                err_console.print(f"{exc.reason}: {exc.message}", highlight=False)
                raise typer.Exit(code=1) from None
        record, warnings = page_record(info, decoder)  # type: ignore[arg-type]
        if decoder is None:  # keep the chip's own photo in the file, for a decoder elsewhere
            record = sam_record(decode_text(info.text), ("wlt", info.photo))
        if out is not None:
            try:
                out.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
            except OSError as exc:
                raise InputError(Reason.INVALID_REQUEST, f"cannot write {out}: {exc.strerror}") from None
    number = str(record["id_number"])
    shown = {k: v for k, v in record.items() if k not in ("portrait", "format")}
    shown["id_number"] = number if show_number else mask_id_number(number)
    if not show_number:
        shown.pop("address", None)
    if as_json:
        print(json.dumps(shown | {"warnings": warnings}, ensure_ascii=False))
    else:
        for key, value in shown.items():
            console.print(f"{key:<12} {value}", highlight=False, markup=False, soft_wrap=True)
        for w in warnings:
            console.print(f"{w}: {Reason(w).message}", highlight=False, markup=False, soft_wrap=True)
        if out is not None:
            console.print(f"written to {out}", highlight=False, markup=False, soft_wrap=True)


@reader_app.command("simulate")
def simulate(
    record: Annotated[
        Path, typer.Option("--record", help="The card's fields: a simkyc-chip-record/1 JSON file.")
    ],
    photo: Annotated[
        Path | None, typer.Option("--photo", help="1,024 bytes to hold as the chip's WLT photo.")
    ] = None,
) -> None:
    """Run a simulated reader on a pseudo-terminal (prints its device path; Ctrl-C stops it)."""
    from simkyc.core.documents.chip import parse_chip_record
    from simkyc.core.documents.sam import CardText
    from simkyc.reader import SimCard, SimulatedReader

    with refusals_exit_2():
        try:
            raw = record.read_bytes()
            wlt = photo.read_bytes() if photo is not None else bytes(1024)
        except OSError as exc:
            raise InputError(Reason.INVALID_REQUEST, f"cannot read {exc.filename}: {exc.strerror}") from None
        parse_chip_record(raw)  # the same checks as an uploaded record
        fields = json.loads(raw)
        if len(wlt) != 1024:
            raise InputError(Reason.INVALID_REQUEST, f"--photo must hold 1024 bytes, not {len(wlt)}")
        text = CardText(
            **{k: str(fields.get(k) or "") for k in ("name", "address", "id_number", "issuer")},
            sex={"M": "1", "F": "2", "男": "1", "女": "2"}.get(str(fields["sex"]), str(fields["sex"])),
            ethnicity=str(fields.get("ethnicity") or "01"),
            birth_date=str(fields["birth_date"]).replace("-", ""),
            valid_from=str(fields["valid_from"]).replace("-", ""),
            valid_until=str(fields["valid_until"]).replace("-", ""),
        )
        sim = SimulatedReader(SimCard(text=text, photo=wlt))
        try:
            sim.start()
        except OSError as exc:
            raise InputError(Reason.READER_UNAVAILABLE, f"cannot open a pseudo-terminal: {exc}") from None
    stop = threading.Event()
    _stop_on_signals(stop)
    console.print(f"simulated reader on {sim.device}", highlight=False, markup=False, soft_wrap=True)
    try:
        stop.wait()
    finally:
        sim.stop()
