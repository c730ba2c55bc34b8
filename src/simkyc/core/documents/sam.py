"""The SAM serial protocol of second-generation resident ID card readers (GA 467), without I/O.

Every certified reader (华视, 神思, 新中新, 东信, ...) holds a security module ("SAM") that speaks one
frame format on its UART (115,200 bit/s, 8N1 by default) and, framed the same way, over USB::

    host -> reader   AA AA AA 96 69 | LEN1 LEN2 | CMD | PARA | DATA ... | CHK
    reader -> host   AA AA AA 96 69 | LEN1 LEN2 | SW1 | SW2 | SW3 | DATA ... | CHK

`LEN1 LEN2` (big-endian) counts every byte after itself, check byte included; `CHK` is the XOR of
every byte after the preamble except itself (length bytes included). SW1 SW2 relay the card's APDU
status, SW3 is the module's own status (`Status`). A read is three commands, none of which may be
left out: find card `20 01` (SW3 9F when a card is in the field, 80 when none), select card `20 02`
(SW3 90 with the card's 8-byte serial) and read basic information `30 01`, whose data is::

    TEXT_LEN (2, big-endian, 0x0100) | PHOTO_LEN (2, 0x0400) | text (256) | photo (1,024, WLT)

so its frame length is 3 + 4 + 256 + 1,024 + 1 = 1,288 (0x0508). The text block is UCS-2
little-endian, fixed-width fields padded with spaces (`TEXT_FIELDS`): name 15 characters, sex 1
(GB/T 2261.1 code), ethnicity 2 (GB 3304 code), birth date 8, address 35, number 18, issuing
authority 15, validity start 8 and end 8 (`长期` for a long-term card), 18 reserved. A foreigner's
permanent residence card puts the letter "I" in the card-type character at byte 248 and lays its
text out differently; it is refused here.

Sources followed (reference text, not code): the SAM_V protocol as reader vendors publish it
("公安部身份证阅读器模块SAM通讯协议", e.g. eastcoms.com/service/downdrive/508.html and
blog.csdn.net/zhangbijun1230/article/details/85242964: frame layout, LEN and CHK rules, the command
table); the SW3 table of softs.im "身份证阅读器通信协议"; eastcoms "身份证阅读器SAM模块身份证信息解析说明"
(a real read header `AA AA AA 96 69 05 08 00 00 90 01 00 04 00`); the field widths as decoded by
Heiher's hev-dbus-object-idcard-reader.c (GitHub, 2012: text at frame offset 14, 15/1/2/8/35/18/15/8/8
UCS-2 characters) and the command bytes in the same file (`20 01 22`, `20 02 21`, `30 01 32`,
`11 FF ED`); the 2017 foreign permanent residence card's machine-readable items (card type "I",
byte 248). The WLT portrait is compressed in a licensed format: `PortraitDecoder` is the hook.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields
from enum import Enum, IntEnum

from simkyc.core.documents.chip import CHIP_FORMAT, PortraitDecoder, parse_chip_record
from simkyc.core.documents.document import IdDocument
from simkyc.errors import DocumentError, Reason

__all__ = [
    "PHOTO_BYTES",
    "PREAMBLE",
    "TEXT_BYTES",
    "TEXT_FIELDS",
    "BaseInfo",
    "CardText",
    "Command",
    "FrameDecoder",
    "Request",
    "Response",
    "Status",
    "checksum",
    "decode_text",
    "encode_base_info",
    "encode_command",
    "encode_response",
    "encode_text",
    "parse_base_info",
    "parse_request",
    "parse_response",
    "sam_document",
    "sam_record",
]

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
TEXT_BYTES = 256
PHOTO_BYTES = 1024
MAX_FRAME_LENGTH = 4096  # basic info is 1,288; with fingerprints (30 10) 2,312: anything longer is noise

# (field, characters) in the order of the 256-byte text block; 2 bytes per character.
TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("name", 15),
    ("sex", 1),
    ("ethnicity", 2),
    ("birth_date", 8),
    ("address", 35),
    ("id_number", 18),
    ("issuer", 15),
    ("valid_from", 8),
    ("valid_until", 8),
    ("reserved", 18),
)
CARD_TYPE_OFFSET = 248  # one UCS-2 character: "I" foreign permanent residence card, "J" HK/Macao/Taiwan


class Command(Enum):
    """Host commands as (CMD, PARA)."""

    RESET = (0x10, 0xFF)
    STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_BASE = (0x30, 0x01)


class Status(IntEnum):
    """SW3, the module's status byte, with what it means."""

    message: str

    def __new__(cls, value: int, message: str = "") -> Status:
        obj = int.__new__(cls, value)
        obj._value_ = value
        obj.message = message
        return obj

    OK = 0x90, "success"
    CARD_FOUND = 0x9F, "card found"
    BAD_CHECKSUM = 0x10, "the reader received a frame with a wrong check byte"
    BAD_LENGTH = 0x11, "the reader received a frame with a wrong length"
    BAD_COMMAND = 0x21, "the reader does not know the command"
    UNRECOGNISED = 0x24, "unrecognised error"
    CARD_REFUSED_READER = 0x31, "the card refused the reader's authentication"
    READER_REFUSED_CARD = 0x32, "the reader refused the card's authentication"
    VERIFY_FAILED = 0x33, "information verification failed"
    WRONG_CARD = 0x40, "not a resident ID card"
    READ_FAILED = 0x41, "reading the card failed"
    RANDOM_FAILED = 0x47, "the card gave no random number"
    SELF_TEST_FAILED = 0x60, "the module failed its self-test"
    NOT_AUTHORISED = 0x66, "the module is not authorised"
    NO_CARD = 0x80, "no card found"
    SELECT_FAILED = 0x81, "selecting the card failed"
    NO_CONTENT = 0x91, "the card holds no such item"


def checksum(body: bytes) -> int:
    """XOR of every byte: over the length bytes and payload, i.e. the frame without preamble and CHK."""
    x = 0
    for b in body:
        x ^= b
    return x


def _frame(payload: bytes) -> bytes:
    n = len(payload) + 1
    if n > 0xFFFF:
        raise ValueError("payload too long for one frame")
    body = n.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes([checksum(body)])


def encode_command(command: Command, data: bytes = b"") -> bytes:
    """One host frame, e.g. FIND_CARD -> AA AA AA 96 69 00 03 20 01 22."""
    cmd, para = command.value
    return _frame(bytes([cmd, para]) + data)


def encode_response(sw3: int, data: bytes = b"", *, sw1: int = 0, sw2: int = 0) -> bytes:
    """One reader frame (what a reader, or the simulator, answers)."""
    return _frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True, slots=True)
class Request:
    """A host frame as the reader sees it."""

    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command | None:
        try:
            return Command((self.cmd, self.para))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Response:
    """A reader frame: the three status bytes and the data."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = field(default=b"", repr=False)

    @property
    def status(self) -> Status | None:
        try:
            return Status(self.sw3)
        except ValueError:
            return None

    def describe(self) -> str:
        st = self.status
        return f"SW3 {self.sw3:02X} ({st.message if st else 'unknown status'})"


class FrameDecoder:
    """Turns a byte stream into checked frame payloads, whatever else is on the line.

    `feed(chunk)` returns the payloads (LEN excluded, CHK verified) completed by the chunk. Bytes
    before a preamble are dropped (`garbage` counts them); a length that cannot be a frame drops the
    preamble's first byte and searches again; a frame whose check byte is wrong is dropped and counted
    in `bad_frames`, so the caller can ask again. A frame cut short stays pending until more bytes come
    or `reset()` (after a timeout).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0
        self.bad_frames = 0

    def reset(self) -> None:
        self.garbage += len(self._buf)
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        out: list[bytes] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                keep = _partial_preamble(self._buf)  # a preamble may be split across chunks
                self.garbage += len(self._buf) - keep
                del self._buf[: len(self._buf) - keep]
                return out
            if start:
                self.garbage += start
                del self._buf[:start]
            if len(self._buf) < 7:
                return out
            n = int.from_bytes(self._buf[5:7], "big")
            if n < 3 or n > MAX_FRAME_LENGTH:  # not a frame: resynchronise past this preamble
                self.garbage += 1
                del self._buf[:1]
                continue
            if len(self._buf) < 7 + n:
                return out
            body = bytes(self._buf[5 : 6 + n])  # LEN1 LEN2 payload
            chk = self._buf[6 + n]
            del self._buf[: 7 + n]
            if checksum(body) != chk:
                self.bad_frames += 1
                continue
            out.append(body[2:])


def _partial_preamble(buf: bytearray) -> int:
    """How many trailing bytes of `buf` could start a preamble."""
    for k in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if bytes(buf[-k:]) == PREAMBLE[:k]:
            return k
    return 0


def parse_request(payload: bytes) -> Request:
    """A host frame's payload (CMD PARA DATA)."""
    if len(payload) < 2:
        raise ValueError("a command frame needs CMD and PARA")
    return Request(payload[0], payload[1], payload[2:])


def parse_response(payload: bytes) -> Response:
    """A reader frame's payload (SW1 SW2 SW3 DATA)."""
    if len(payload) < 3:
        raise ValueError("a response frame needs SW1 SW2 SW3")
    return Response(payload[0], payload[1], payload[2], payload[3:])


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """The answer to read basic information: the 256-byte text block and the 1,024-byte WLT photo."""

    text: bytes = field(repr=False)
    photo: bytes = field(repr=False)


def encode_base_info(text: bytes, photo: bytes) -> bytes:
    """The data of a `30 01` answer (lengths, text, photo)."""
    return len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo


def parse_base_info(data: bytes) -> BaseInfo:
    """Split a `30 01` answer; CARD_READ_FAILED when it is short or its lengths are not 256 / 1,024."""
    if len(data) < 4:
        raise DocumentError(Reason.CARD_READ_FAILED, "the reader's answer holds no card data")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if text_len != TEXT_BYTES or len(data) < 4 + text_len + photo_len:
        raise DocumentError(
            Reason.CARD_READ_FAILED,
            f"the reader's answer has {len(data)} bytes for text {text_len} and photo {photo_len}",
        )
    text = data[4 : 4 + text_len]
    return BaseInfo(text=text, photo=data[4 + text_len : 4 + text_len + photo_len])


@dataclass(frozen=True, slots=True)
class CardText:
    """The text block's fields as stored on the chip (codes and YYYYMMDD strings, spaces trimmed)."""

    name: str
    sex: str  # GB/T 2261.1 code: "1" male, "2" female
    ethnicity: str  # GB 3304 code, "01" 汉
    birth_date: str
    address: str
    id_number: str
    issuer: str
    valid_from: str
    valid_until: str  # YYYYMMDD or 长期
    card_type: str = " "

    def __repr__(self) -> str:  # never the name, number or address
        return f"CardText(sex={self.sex!r}, birth_date={self.birth_date!r}, card_type={self.card_type!r})"


def decode_text(block: bytes) -> CardText:
    """Decode the 256-byte UCS-2 text block; ID_RECORD_INVALID if it is not one."""
    if len(block) != TEXT_BYTES:
        raise DocumentError(Reason.ID_RECORD_INVALID, f"the text block has {len(block)} bytes, not 256")
    try:
        text = block.decode("utf-16-le")
    except UnicodeDecodeError:
        raise DocumentError(Reason.ID_RECORD_INVALID, "the text block is not UCS-2 text") from None
    card_type = text[CARD_TYPE_OFFSET // 2]
    if card_type == "I":
        raise DocumentError(
            Reason.ID_RECORD_INVALID, "this is a foreigner's permanent residence card, not a resident ID card"
        )
    values: dict[str, str] = {}
    pos = 0
    for name, chars in TEXT_FIELDS:
        values[name] = text[pos : pos + chars].strip(" \x00")
        pos += chars
    values.pop("reserved")
    return CardText(**values, card_type=card_type)


def _text_values(card: CardText) -> dict[str, str]:
    """The card's text fields by name (the card type is a byte of its own, not a field)."""
    return {f.name: getattr(card, f.name) for f in fields(card) if f.name != "card_type"}


def encode_text(card: CardText) -> bytes:
    """The 256-byte block for `card` (for the simulator and tests); fields longer than their width fail."""
    parts = []
    values = {**_text_values(card), "reserved": ""}
    for name, chars in TEXT_FIELDS:
        value = values[name]
        if len(value) > chars:
            raise ValueError(f"{name} has more than {chars} characters")
        parts.append(value.ljust(chars))
    text = "".join(parts)
    text = text[: CARD_TYPE_OFFSET // 2] + card.card_type + text[CARD_TYPE_OFFSET // 2 + 1 :]
    return text.encode("utf-16-le")


def sam_record(card: CardText, portrait: tuple[str, bytes] | None) -> dict[str, object]:
    """The card as a `simkyc-chip-record/1` mapping (the JSON the page and `--id-record` take).

    `portrait` is (format, bytes): ("wlt", the chip's photo) or a decoded ("png"|"jpeg"|"bmp", ...).
    """
    record: dict[str, object] = {"format": CHIP_FORMAT, **_text_values(card)}
    if portrait is not None:
        record["portrait"] = {"format": portrait[0], "data": base64.b64encode(portrait[1]).decode("ascii")}
    return record


def sam_document(
    info: BaseInfo, *, portrait_decoder: PortraitDecoder | None, require_portrait: bool = True
) -> IdDocument:
    """The card as an `IdDocument` (source "chip"), its WLT photo decoded by `portrait_decoder`.

    Without a decoder: PORTRAIT_UNAVAILABLE when `require_portrait`, else a document with no portrait
    (the clerk then takes a photo of the card for the comparison).

    :raises DocumentError: ID_RECORD_INVALID (text block unreadable, a field malformed) or
        PORTRAIT_UNAVAILABLE.
    """
    card = decode_text(info.text)
    if portrait_decoder is None:
        if require_portrait:
            raise DocumentError(Reason.PORTRAIT_UNAVAILABLE)
        return parse_chip_record(sam_record(card, None))
    return parse_chip_record(sam_record(card, ("wlt", info.photo)), portrait_decoder=portrait_decoder)
