"""`SamReader`: find, select and read a resident ID card through the reader's SAM module (pyserial).

Each command is one frame out and one frame back (`simkyc.core.documents.sam`). What a serial line
does to that is handled here: stale bytes are flushed before each command, garbage is skipped by the
frame decoder, a damaged or missing answer (and the module's own "your frame was damaged", SW3 10/11)
makes the command go out again, up to `retries` times. A card is read as find -> select -> read; a read
that fails part-way (the card lifted, SW3 41/81, an answer cut short) is started again from find, and
when the card is gone by then, or the attempts run out, the read is CARD_READ_FAILED.
"""

from __future__ import annotations

import time
from typing import Protocol

from simkyc.core.documents.sam import (
    BaseInfo,
    Command,
    FrameDecoder,
    Response,
    Status,
    encode_command,
    parse_base_info,
    parse_response,
)
from simkyc.errors import DocumentError, InputError, Reason

__all__ = ["DEFAULT_BAUD", "SamReader", "SerialPort"]

DEFAULT_BAUD = 115_200  # the modules' default; 57,600 / 38,400 / 19,200 / 9,600 can be set (60 0x)
_RESEND = (Status.BAD_CHECKSUM, Status.BAD_LENGTH)


class SerialPort(Protocol):
    """The part of `serial.Serial` the driver uses (a test may pass any object with these)."""

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class _NoAnswer(Exception):
    """No usable answer to a command after every resend."""


class SamReader:
    """A reader on a serial port.

    **Parameters:**

    * **port** - an open `serial.Serial` (or anything with write/read/reset_input_buffer/close) whose
      read timeout is short (50 ms): the driver keeps its own deadlines.
    * **timeout_s** - how long to wait for the answer to find/select (the module answers in ~50 ms).
    * **read_timeout_s** - for read basic information (the card's RF transfer takes ~1 s).
    * **retries** - resends of one command after silence or a damaged answer.
    * **attempts** - whole find/select/read sequences tried for one card.
    """

    def __init__(
        self,
        port: SerialPort,
        *,
        timeout_s: float = 1.0,
        read_timeout_s: float = 3.0,
        retries: int = 2,
        attempts: int = 3,
        name: str = "reader",
    ) -> None:
        self._port = port
        self._decoder = FrameDecoder()
        self.timeout_s = timeout_s
        self.read_timeout_s = read_timeout_s
        self.retries = retries
        self.attempts = attempts
        self.name = name
        self.resends = 0  # commands sent again (damaged or missing answers): a line-quality figure

    @classmethod
    def open(cls, device: str, *, baud: int = DEFAULT_BAUD, **options: float | int | str) -> SamReader:
        """Open `device` (e.g. /dev/ttyUSB0, COM3) at 8N1; READER_UNAVAILABLE when it cannot be opened."""
        import serial

        try:
            port = serial.Serial(device, baudrate=baud, bytesize=8, parity="N", stopbits=1, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise InputError(Reason.READER_UNAVAILABLE, f"cannot open {device}: {exc}") from None
        return cls(port, name=device, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> SamReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one command ----------------------------------------------------------------------------

    def transact(self, command: Command, *, timeout_s: float | None = None) -> Response:
        """Send `command` and return the module's answer (resent after silence or damage)."""
        wait = self.timeout_s if timeout_s is None else timeout_s
        why = "no answer"
        for attempt in range(1 + self.retries):
            if attempt:
                self.resends += 1
            try:
                self._port.reset_input_buffer()
                self._decoder.reset()
                self._port.write(encode_command(command))
                response = self._await(time.monotonic() + wait)
            except OSError as exc:  # unplugged, or the pty's other end gone
                raise InputError(Reason.READER_UNAVAILABLE, f"{self.name}: {exc}") from None
            if response is None:
                cut = self._decoder.pending
                why = f"an answer cut short after {cut} bytes" if cut else f"no answer within {wait:g} s"
                continue
            if response.sw3 in _RESEND:
                why = f"the module says {response.describe()}"
                continue
            return response
        raise _NoAnswer(f"{command.name}: {why}")

    def _await(self, deadline: float) -> Response | None:
        while time.monotonic() < deadline:
            chunk = self._port.read(4096)
            if not chunk:
                continue
            for payload in self._decoder.feed(chunk):
                try:
                    return parse_response(payload)
                except ValueError:  # a frame too short to be an answer: noise
                    continue
        return None

    # -- the card ---------------------------------------------------------------------------------

    def check_module(self) -> None:
        """SAM status check (11 FF): READER_UNAVAILABLE unless the module answers 90."""
        try:
            response = self.transact(Command.STATUS)
        except _NoAnswer as exc:
            raise InputError(Reason.READER_UNAVAILABLE, f"{self.name}: {exc}") from None
        if response.sw3 != Status.OK:
            raise InputError(Reason.READER_UNAVAILABLE, f"{self.name}: {response.describe()}")

    def find_card(self) -> bool:
        """Is a card in the field? (20 01: 9F yes, 80 no); READER_UNAVAILABLE when the module is silent."""
        try:
            response = self.transact(Command.FIND_CARD)
        except _NoAnswer as exc:
            raise InputError(Reason.READER_UNAVAILABLE, f"{self.name}: {exc}") from None
        if response.sw3 == Status.CARD_FOUND:
            return True
        if response.sw3 == Status.NO_CARD:
            return False
        raise InputError(Reason.READER_UNAVAILABLE, f"{self.name}: find card: {response.describe()}")

    def read_present_card(self) -> BaseInfo:
        """Select and read the card `find_card` saw, starting over from find when a step fails.

        :raises DocumentError: CARD_READ_FAILED (lifted mid-read, or every attempt failed),
            CARD_NOT_FOUND (no card at the first find).
        """
        why = ""
        for attempt in range(self.attempts):
            if attempt and not self.find_card():
                raise DocumentError(
                    Reason.CARD_READ_FAILED, f"the card left the reader during the read ({why})"
                )
            try:
                selected = self.transact(Command.SELECT_CARD)
                if selected.sw3 != Status.OK:
                    why = f"select card: {selected.describe()}"
                    continue
                answer = self.transact(Command.READ_BASE, timeout_s=self.read_timeout_s)
                if answer.sw3 != Status.OK:
                    why = f"read: {answer.describe()}"
                    continue
                return parse_base_info(answer.data)
            except _NoAnswer as exc:
                why = str(exc)
            except DocumentError as exc:
                why = exc.message
        raise DocumentError(Reason.CARD_READ_FAILED, f"{self.attempts} attempts failed (last: {why})")

    def read_card(self) -> BaseInfo:
        """Find, select and read: CARD_NOT_FOUND when no card is on the reader."""
        if not self.find_card():
            raise DocumentError(Reason.CARD_NOT_FOUND)
        return self.read_present_card()
