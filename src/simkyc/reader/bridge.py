"""`simkyc reader serve`: the outlet PC's bridge between the card reader and the outlet page.

A thread polls the reader (find card, every `poll_s`); when a card appears it is selected and read
once, its portrait decoded by the site's WLT decoder, and the result held as a `simkyc-chip-record/1`
record (the JSON the page already takes as a file) for `hold_s` seconds or until the next card. The
page asks over HTTP on the loopback interface:

    GET /status    {"status": "waiting" | "ready" | "error" | "offline", "seq": N, ...}  (no card data)
    GET /card      the same plus "record" when status is "ready" (the clerk's click)

Only the configured page origins get an answer a browser will show them: a request whose `Origin` is
not listed is refused (403) and no CORS header is sent, so another web site open on the outlet PC
cannot read the card. The `Host` header must name the loopback address (no DNS rebinding), and the
bridge binds only to 127.0.0.1 / ::1. Private Network Access preflights are answered for the listed
origins, so an outlet page served over HTTPS from the operator's network may call it too. Nothing is
logged about the card but its masked number.
"""

from __future__ import annotations

import io
import ipaddress
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from simkyc.core.documents.chip import PortraitDecoder, parse_chip_record
from simkyc.core.documents.id_number import mask_id_number
from simkyc.core.documents.sam import BaseInfo, decode_text, sam_record
from simkyc.errors import DocumentError, InputError, Reason, SimkycError
from simkyc.reader.driver import SamReader

__all__ = ["ReaderBridge", "page_record", "serve_bridge"]


def _png(image: Any) -> bytes:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def page_record(info: BaseInfo, decoder: PortraitDecoder | None) -> tuple[dict[str, object], list[str]]:
    """The card as the page's record (portrait decoded to PNG) and warnings (PORTRAIT_UNAVAILABLE).

    :raises DocumentError: ID_RECORD_INVALID when the chip's fields do not form a valid record.
    """
    card = decode_text(info.text)
    warnings: list[str] = []
    portrait: tuple[str, bytes] | None = None
    if decoder is None:
        warnings.append(Reason.PORTRAIT_UNAVAILABLE.value)
    else:
        try:
            portrait = ("png", _png(decoder.decode_wlt(info.photo)))
        except Exception:  # a vendor library failing must not lose the text fields
            warnings.append(Reason.PORTRAIT_UNAVAILABLE.value)
    record = sam_record(card, portrait)
    parse_chip_record(record)  # refuse a malformed record here rather than in the page
    return record, warnings


@dataclass
class _State:
    status: str = "waiting"
    seq: int = 0
    reason: str | None = None
    message: str | None = None
    record: dict[str, object] | None = None
    warnings: list[str] = field(default_factory=list)
    read_at: float | None = None


class ReaderBridge:
    """Polls a reader and holds the last card read for the page.

    **Parameters:**

    * **open_reader** - builds a `SamReader` (called again after the reader was unplugged).
    * **decoder** - the site's WLT decoder, or None (records then carry PORTRAIT_UNAVAILABLE).
    * **hold_s** - how long a read record is offered (privacy: the card data leaves memory after it).
    * **poll_s** - pause between find-card polls.
    """

    def __init__(
        self,
        open_reader: Callable[[], SamReader],
        *,
        decoder: PortraitDecoder | None,
        hold_s: float = 120.0,
        poll_s: float = 0.3,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._open_reader = open_reader
        self._decoder = decoder
        self.hold_s = hold_s
        self.poll_s = poll_s
        self._log = log or (lambda _msg: None)
        self._state = _State()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._present = False

    def start(self) -> ReaderBridge:
        self._thread = threading.Thread(target=self._run, name="reader-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def snapshot(self, *, with_record: bool) -> dict[str, object]:
        """The state as the page sees it; the record only when asked for (GET /card)."""
        with self._lock:
            s = self._state
            if s.record is not None and s.read_at is not None and time.monotonic() - s.read_at > self.hold_s:
                self._state = s = _State(seq=s.seq + 1)
            out: dict[str, object] = {"status": s.status, "seq": s.seq, "reason": s.reason}
            if s.message:
                out["message"] = s.message
            if s.status == "ready":
                out["warnings"] = list(s.warnings)
                if with_record:
                    out["record"] = s.record
        return out

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._state = _State(seq=self._state.seq + 1, **changes)

    def _run(self) -> None:
        reader: SamReader | None = None
        while not self._stop.is_set():
            try:
                if reader is None:
                    reader = self._open_reader()
                    self._set(status="waiting")
                    self._log(f"reader {reader.name} open")
                present = reader.find_card()
                if present and not self._present:
                    present = self._read(reader)
                self._present = present
            except SimkycError as exc:  # READER_UNAVAILABLE: unplugged, powered off, wrong port
                if reader is not None:
                    reader.close()
                    reader = None
                self._present = False
                if self.snapshot(with_record=False).get("reason") != exc.reason.value:
                    self._log(f"{exc.reason}: {exc.message}")
                self._set(status="offline", reason=exc.reason.value, message=exc.message)
                self._stop.wait(2.0)
                continue
            self._stop.wait(self.poll_s)
        if reader is not None:
            reader.close()

    def _read(self, reader: SamReader) -> bool:
        """Read the card just found; False when it failed (the next poll that finds a card retries)."""
        try:
            info = reader.read_present_card()
            record, warnings = page_record(info, self._decoder)
        except DocumentError as exc:
            self._log(f"{exc.reason}: {exc.message}")
            self._set(status="error", reason=exc.reason.value, message=exc.message)
            return False
        self._set(status="ready", record=record, warnings=warnings, read_at=time.monotonic())
        self._log(
            f"card {mask_id_number(str(record['id_number']))} read" + "".join(f"; {w}" for w in warnings)
        )
        return True


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handler(bridge: ReaderBridge, origins: frozenset[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "simkyc-reader"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # no access log: requests carry no news
            return

        def _refuse(self, status: int, detail: str) -> None:
            body = json.dumps({"reason": Reason.FORBIDDEN.value, "detail": detail}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _allowed(self) -> str | None:
            """The origin to echo ("" for a same-host client without Origin); None after a refusal."""
            port = getattr(self.server, "server_port", 0)
            hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
            if self.headers.get("Host", "") not in hosts:
                self._refuse(403, "the bridge answers only requests addressed to the loopback interface")
                return None
            origin = self.headers.get("Origin")
            if origin is None:
                return ""
            if origin not in origins:
                self._refuse(403, f"origin {origin} is not the outlet page")
                return None
            return origin

        def do_OPTIONS(self) -> None:
            origin = self._allowed()
            if origin is None:
                return
            self.send_response(204)
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Methods", "GET")
                self.send_header("Access-Control-Allow-Private-Network", "true")
                self.send_header("Access-Control-Max-Age", "600")
                self.send_header("Vary", "Origin")
            self.end_headers()

        def do_GET(self) -> None:
            origin = self._allowed()
            if origin is None:
                return
            path = self.path.split("?", 1)[0]
            if path not in ("/status", "/card"):
                self._refuse(404, "not found")
                return
            body = json.dumps(bridge.snapshot(with_record=path == "/card"), ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve_bridge(
    bridge: ReaderBridge, *, host: str, port: int, origins: Iterable[str]
) -> ThreadingHTTPServer:
    """An HTTP server for `bridge` on a loopback address (call `serve_forever()`; `shutdown()` stops it)."""
    if not _loopback(host):
        raise InputError(
            Reason.INVALID_REQUEST, f"the bridge listens on the loopback interface only, not {host}"
        )
    allowed = frozenset(o.strip().rstrip("/") for o in origins if o.strip())
    if not allowed:
        raise InputError(Reason.INVALID_REQUEST, "name the outlet page's origin (--origin)")
    try:
        server = ThreadingHTTPServer((host, port), _handler(bridge, allowed))
    except OSError as exc:
        raise InputError(Reason.INVALID_REQUEST, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    server.daemon_threads = True
    return server
