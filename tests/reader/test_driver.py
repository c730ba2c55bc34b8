"""The SAM driver against a simulated module on a real pseudo-terminal, opened with pyserial:
a clean read, error statuses, a card lifted mid-read, garbage and damaged frames on the line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from readerkit import NUMBER, PHOTO, sim_card

from simkyc.core.documents.sam import Command, Status, decode_text
from simkyc.errors import DocumentError, InputError, Reason
from simkyc.reader import SamReader, SimulatedReader
from simkyc.reader.simulator import Fault


@pytest.fixture
def sim() -> Iterator[SimulatedReader]:
    with SimulatedReader(sim_card()) as s:
        yield s


@pytest.fixture
def reader(sim: SimulatedReader) -> Iterator[SamReader]:
    with SamReader.open(sim.device, timeout_s=0.4, read_timeout_s=0.8) as r:
        yield r


def test_reads_the_card(sim: SimulatedReader, reader: SamReader) -> None:
    reader.check_module()
    info = reader.read_card()
    assert decode_text(info.text).id_number == NUMBER
    assert info.photo == PHOTO
    assert sim.commands == [Command.STATUS, Command.FIND_CARD, Command.SELECT_CARD, Command.READ_BASE]
    assert reader.resends == 0


def test_no_card(sim: SimulatedReader, reader: SamReader) -> None:
    sim.lift()
    assert reader.find_card() is False
    with pytest.raises(DocumentError) as exc:
        reader.read_card()
    assert exc.value.reason is Reason.CARD_NOT_FOUND


def test_error_status_then_success_is_retried(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(Fault("status", on=Command.READ_BASE, sw3=Status.READ_FAILED))
    info = reader.read_card()
    assert decode_text(info.text).name == "张伟"
    # the failed read started over from find
    assert sim.commands.count(Command.FIND_CARD) == 2 and sim.commands.count(Command.READ_BASE) == 2


def test_persistent_error_status_fails_with_the_status(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(*[Fault("status", on=Command.SELECT_CARD, sw3=Status.SELECT_FAILED)] * 3)
    with pytest.raises(DocumentError) as exc:
        reader.read_card()
    assert exc.value.reason is Reason.CARD_READ_FAILED
    assert "SW3 81" in exc.value.message


def test_card_lifted_mid_read(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(Fault("lift_mid_read", on=Command.READ_BASE, cut_at=700))
    with pytest.raises(DocumentError) as exc:
        reader.read_card()
    assert exc.value.reason is Reason.CARD_READ_FAILED
    assert "left the reader" in exc.value.message
    sim.place(sim_card())  # put back: the next read works
    assert decode_text(reader.read_card().text).id_number == NUMBER


def test_garbage_on_the_line_is_skipped(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(Fault("garbage", on=Command.FIND_CARD), Fault("garbage", on=Command.READ_BASE))
    info = reader.read_card()
    assert info.photo == PHOTO
    assert reader.resends == 0


def test_noise_between_commands_is_flushed(sim: SimulatedReader, reader: SamReader) -> None:
    assert reader.find_card()
    sim.send_raw(b"\xaa\xaa\xaa\x96\x69\x00\x04\x00\x00\x80\xff" + b"\x00noise")  # a stale, damaged frame
    assert decode_text(reader.read_present_card().text).sex == "1"


def test_damaged_answer_is_asked_again(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(Fault("corrupt", on=Command.READ_BASE))
    assert reader.read_card().photo == PHOTO
    assert reader.resends == 1


def test_module_reports_our_frame_damaged(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(Fault("status", on=Command.SELECT_CARD, sw3=Status.BAD_CHECKSUM))
    assert reader.read_card().photo == PHOTO
    assert reader.resends == 1


def test_silent_module_is_reader_unavailable(sim: SimulatedReader, reader: SamReader) -> None:
    sim.inject(*[Fault("silent", on=Command.FIND_CARD)] * 3)
    with pytest.raises(InputError) as exc:
        reader.find_card()
    assert exc.value.reason is Reason.READER_UNAVAILABLE
    assert "no answer" in exc.value.message


def test_missing_device_is_reader_unavailable(tmp_path: object) -> None:
    with pytest.raises(InputError) as exc:
        SamReader.open("/dev/does-not-exist-17")
    assert exc.value.reason is Reason.READER_UNAVAILABLE
