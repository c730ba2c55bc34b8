"""The SAM protocol's pure half: frames, check bytes, resynchronisation, the 256-byte text block."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from simkyc.core.documents import check_character, validate_document
from simkyc.core.documents.sam import (
    PREAMBLE,
    BaseInfo,
    CardText,
    Command,
    FrameDecoder,
    Status,
    checksum,
    decode_text,
    encode_base_info,
    encode_command,
    encode_response,
    encode_text,
    parse_base_info,
    parse_request,
    parse_response,
    sam_document,
)
from simkyc.errors import DocumentError, Reason

FIRST17 = "11010519491231002"
NUMBER = FIRST17 + check_character(FIRST17)


def card(**changes: str) -> CardText:
    base = {
        "name": "张三",
        "sex": "2",
        "ethnicity": "01",
        "birth_date": "19491231",
        "address": "北京市朝阳区建国路1号",
        "id_number": NUMBER,
        "issuer": "北京市公安局朝阳分局",
        "valid_from": "20150101",
        "valid_until": "长期",
    }
    return CardText(**(base | changes))


def test_commands_match_the_published_frames() -> None:
    # the bytes every vendor document and open-source driver sends
    assert encode_command(Command.FIND_CARD).hex(" ") == "aa aa aa 96 69 00 03 20 01 22"
    assert encode_command(Command.SELECT_CARD).hex(" ") == "aa aa aa 96 69 00 03 20 02 21"
    assert encode_command(Command.READ_BASE).hex(" ") == "aa aa aa 96 69 00 03 30 01 32"
    assert encode_command(Command.STATUS).hex(" ") == "aa aa aa 96 69 00 03 11 ff ed"


def test_read_answer_header_matches_a_real_read() -> None:
    frame = encode_response(0x90, encode_base_info(bytes(256), bytes(1024)))
    # eastcoms' published dump of a real read starts with exactly these 14 bytes
    assert frame[:14].hex(" ") == "aa aa aa 96 69 05 08 00 00 90 01 00 04 00"
    assert len(frame) == 7 + 0x0508


def test_check_byte_covers_length_and_payload() -> None:
    frame = encode_response(0x9F, b"\x00\x00\x00\x00")
    assert frame[-1] == checksum(frame[5:-1])
    assert checksum(b"\x00\x03\x20\x01") == 0x22


def test_decoder_returns_frames_split_at_any_byte() -> None:
    frames = encode_response(0x9F, b"\x00" * 4) + encode_response(0x90, b"\x01" * 8)
    for cut in range(len(frames) + 1):
        dec = FrameDecoder()
        got = dec.feed(frames[:cut]) + dec.feed(frames[cut:])
        assert [parse_response(p).sw3 for p in got] == [0x9F, 0x90]
        assert dec.garbage == 0 and dec.bad_frames == 0 and dec.pending == 0


def test_decoder_skips_garbage_and_false_preambles() -> None:
    noise = (
        b"\x00\xffhello\xaa\xaa\xaa\x96\x69\xff\xff" + PREAMBLE[:3]
    )  # a preamble with an impossible length
    dec = FrameDecoder()
    got = dec.feed(noise + encode_response(0x90, b"xy") + b"\x13\x37")
    assert [parse_response(p).data for p in got] == [b"xy"]
    assert dec.garbage > 0


def test_decoder_drops_a_frame_with_a_wrong_check_byte() -> None:
    bad = bytearray(encode_response(0x90, b"abc"))
    bad[-2] ^= 0x01
    dec = FrameDecoder()
    assert dec.feed(bytes(bad) + encode_response(0x80)) == [b"\x00\x00\x80"]
    assert dec.bad_frames == 1


def test_truncated_frame_stays_pending() -> None:
    frame = encode_response(0x90, encode_base_info(bytes(256), bytes(1024)))
    dec = FrameDecoder()
    assert dec.feed(frame[:700]) == []
    assert dec.pending == 700
    dec.reset()
    assert dec.pending == 0


def test_requests_parse_back() -> None:
    dec = FrameDecoder()
    (payload,) = dec.feed(encode_command(Command.READ_BASE))
    assert parse_request(payload).command is Command.READ_BASE
    assert parse_response(b"\x00\x00\x41").status is Status.READ_FAILED
    assert "unknown" in parse_response(b"\x00\x00\x77").describe()


def test_text_block_round_trip_and_layout() -> None:
    block = encode_text(card())
    assert len(block) == 256
    # name is 15 UCS-2 characters padded with spaces; the number starts at character 61 (byte 122)
    assert block[:4] == "张三".encode("utf-16-le") and block[4:6] == b" \x00"
    assert block[122:158].decode("utf-16-le") == NUMBER
    got = decode_text(block)
    assert got == card()
    assert "张三" not in repr(got) and NUMBER not in repr(got)


def test_foreign_permanent_residence_card_is_refused() -> None:
    with pytest.raises(DocumentError) as exc:
        decode_text(encode_text(card(card_type="I")))
    assert exc.value.reason is Reason.ID_RECORD_INVALID


def test_text_block_not_ucs2_is_refused() -> None:
    with pytest.raises(DocumentError) as exc:
        decode_text(b"\x00\xd8" * 128)  # unpaired surrogates
    assert exc.value.reason is Reason.ID_RECORD_INVALID


def test_base_info_lengths_checked() -> None:
    info = parse_base_info(encode_base_info(encode_text(card()), bytes(range(256)) * 4))
    assert len(info.photo) == 1024
    with pytest.raises(DocumentError) as exc:
        parse_base_info(encode_base_info(encode_text(card()), bytes(1024))[:600])  # card lifted mid-read
    assert exc.value.reason is Reason.CARD_READ_FAILED


class FakeWlt:
    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def decode_wlt(self, data: bytes) -> np.ndarray:
        self.seen.append(data)
        return np.full((126, 102, 3), 128, dtype=np.uint8)


def test_document_from_the_chip() -> None:
    photo = bytes(range(256)) * 4
    decoder = FakeWlt()
    doc = sam_document(BaseInfo(encode_text(card()), photo), portrait_decoder=decoder)
    assert decoder.seen == [photo]
    assert (doc.source, doc.name, doc.id_number, doc.sex) == ("chip", "张三", NUMBER, "F")
    assert doc.ethnicity == "汉" and doc.issuer == "北京市公安局朝阳分局"
    assert doc.birth_date == dt.date(1949, 12, 31) and doc.valid_until is None
    assert doc.portrait is not None and doc.portrait.shape == (126, 102, 3)
    assert validate_document(doc, today=dt.date(2026, 12, 1)).ok


def test_dated_validity_and_other_ethnicity() -> None:
    doc = sam_document(
        BaseInfo(encode_text(card(ethnicity="05", valid_until="20350101")), bytes(1024)),
        portrait_decoder=FakeWlt(),
    )
    assert doc.ethnicity == "维吾尔" and doc.valid_until == dt.date(2035, 1, 1)


def test_no_decoder_is_portrait_unavailable() -> None:
    info = BaseInfo(encode_text(card()), bytes(1024))
    with pytest.raises(DocumentError) as exc:
        sam_document(info, portrait_decoder=None)
    assert exc.value.reason is Reason.PORTRAIT_UNAVAILABLE
    doc = sam_document(info, portrait_decoder=None, require_portrait=False)
    assert doc.portrait is None and doc.name == "张三"
