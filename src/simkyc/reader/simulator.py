"""A simulated SAM module on a pseudo-terminal, for tests and demos without a reader.

`SimulatedReader` opens a pty pair and answers on the master side what a module answers on its UART:
find (9F / 80), select (90 + an 8-byte serial / 81), read basic information (90 + the text block and
the 1,024-byte photo / 41) and status (90); anything else gets 21. The driver opens the slave side
(`device`, e.g. /dev/pts/7) with pyserial exactly as it opens /dev/ttyUSB0.

Faults to exercise the driver are queued with `inject(Fault(...))` and used once each by the next
command they match: an error status, garbage before the answer, a damaged check byte, silence, or
the card lifted part-way through the read's answer.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from simkyc.core.documents.sam import (
    CardText,
    Command,
    FrameDecoder,
    Status,
    encode_base_info,
    encode_response,
    encode_text,
    parse_request,
)

__all__ = ["Fault", "SimCard", "SimulatedReader"]

FaultKind = Literal["status", "garbage", "corrupt", "silent", "lift_mid_read"]


@dataclass(frozen=True, slots=True)
class SimCard:
    """What the simulated card's chip holds: the text fields and the (WLT) photo bytes."""

    text: CardText
    photo: bytes = field(default=bytes(1024), repr=False)
    serial: bytes = b"\x00\x00\x00\x00\x01\x02\x03\x04"


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour for the next matching command (`on=None`: any command)."""

    kind: FaultKind
    on: Command | None = None
    sw3: int = Status.READ_FAILED
    data: bytes = b"\x13\x37\xaa\xaa\x00garbage\x96\x69"
    cut_at: int = 600  # lift_mid_read: bytes of the answer sent before the card leaves


class SimulatedReader:
    """A SAM module answering on a pseudo-terminal; `device` is the path to open."""

    def __init__(self, card: SimCard | None = None) -> None:
        self._card = card
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self.device = ""
        self.commands: list[Command | None] = []  # every command received, in order

    def start(self) -> SimulatedReader:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # bytes pass untouched: no echo, no CR/LF translation
        self.device = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="sam-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> SimulatedReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def place(self, card: SimCard) -> None:
        with self._lock:
            self._card = card

    def lift(self) -> None:
        with self._lock:
            self._card = None

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def send_raw(self, data: bytes) -> None:
        """Put bytes on the line unasked (noise)."""
        os.write(self._master, data)

    # -- the module ---------------------------------------------------------------------------------

    def _run(self) -> None:
        decoder = FrameDecoder()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:  # the slave side was closed and reopened: keep serving
                continue
            for payload in decoder.feed(chunk):
                try:
                    request = parse_request(payload)
                except ValueError:
                    continue
                self.commands.append(request.command)
                self._answer(request.command)

    def _fault_for(self, command: Command | None) -> Fault | None:
        with self._lock:
            if self._faults and self._faults[0].on in (None, command):
                return self._faults.popleft()
        return None

    def _reply(self, command: Command | None, card: SimCard | None) -> bytes:
        if command is Command.FIND_CARD:
            return encode_response(Status.CARD_FOUND if card else Status.NO_CARD, bytes(4) if card else b"")
        if command is Command.SELECT_CARD:
            return encode_response(Status.OK, card.serial) if card else encode_response(Status.SELECT_FAILED)
        if command is Command.READ_BASE:
            if card is None:
                return encode_response(Status.READ_FAILED)
            return encode_response(Status.OK, encode_base_info(encode_text(card.text), card.photo))
        if command in (Command.STATUS, Command.RESET):
            return encode_response(Status.OK)
        return encode_response(Status.BAD_COMMAND)

    def _answer(self, command: Command | None) -> None:
        fault = self._fault_for(command)
        with self._lock:
            card = self._card
        frame = self._reply(command, card)
        if fault is not None:
            if fault.kind == "silent":
                return
            if fault.kind == "status":
                frame = encode_response(fault.sw3)
            elif fault.kind == "garbage":
                frame = fault.data + frame
            elif fault.kind == "corrupt":
                frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
            elif fault.kind == "lift_mid_read":
                frame = frame[: fault.cut_at]
                self.lift()
        os.write(self._master, frame)
