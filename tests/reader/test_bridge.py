"""The outlet bridge over HTTP with the simulated reader: the card offered only to the page's origin,
on the loopback Host only; portrait decoded by the WLT hook or PORTRAIT_UNAVAILABLE; a lifted card."""

from __future__ import annotations

import base64
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pytest
from PIL import Image as PILImage
from readerkit import NUMBER, sim_card

from simkyc.core.documents import check_character, parse_chip_record
from simkyc.core.documents.sam import Command
from simkyc.errors import InputError, Reason
from simkyc.reader import ReaderBridge, SamReader, SimulatedReader, serve_bridge
from simkyc.reader.simulator import Fault

PAGE = "http://127.0.0.1:8000"


class GreyWlt:
    """Stand-in for a vendor decoder: any 1,024 bytes -> a grey 102x126 portrait."""

    def decode_wlt(self, data: bytes) -> np.ndarray:
        assert len(data) == 1024
        return np.full((126, 102, 3), 100, dtype=np.uint8)


@dataclass
class Running:
    sim: SimulatedReader
    bridge: ReaderBridge
    port: int

    def get(self, path: str, *, origin: str | None = PAGE, host: str | None = None) -> tuple[int, dict, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        headers = {} if origin is None else {"Origin": origin}
        if host is not None:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
        else:
            conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        body = json.loads(res.read() or b"{}")
        return res.status, dict(res.getheaders()), body

    def wait(self, status: str, *, after: int = -1, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, _, body = self.get("/status")
            if body["status"] == status and body["seq"] > after:
                return body
            time.sleep(0.05)
        raise AssertionError(f"bridge never reached {status}: {body}")


def _run(decoder: object | None) -> Iterator[Running]:
    with SimulatedReader(sim_card()) as sim:
        bridge = ReaderBridge(
            lambda: SamReader.open(sim.device, timeout_s=0.3, read_timeout_s=0.6),
            decoder=decoder,  # type: ignore[arg-type]
            poll_s=0.05,
        ).start()
        server = serve_bridge(bridge, host="127.0.0.1", port=0, origins=[PAGE])
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Running(sim, bridge, server.server_address[1])
        finally:
            server.shutdown()
            server.server_close()
            bridge.stop()


@pytest.fixture
def running() -> Iterator[Running]:
    yield from _run(GreyWlt())


def test_page_origin_gets_the_record(running: Running) -> None:
    running.wait("ready")
    status, headers, body = running.get("/card")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == PAGE and headers["Cache-Control"] == "no-store"
    record = body["record"]
    assert record["id_number"] == NUMBER and record["ethnicity"] == "01" and record["issuer"]
    png = base64.b64decode(record["portrait"]["data"])
    assert PILImage.open(io.BytesIO(png)).size == (102, 126)
    doc = parse_chip_record(record)
    assert doc.portrait is not None and doc.name == "张伟"
    assert body["warnings"] == []
    # /status never carries card data
    assert "record" not in running.get("/status")[2]


def test_other_origins_and_hosts_are_refused(running: Running) -> None:
    running.wait("ready")
    status, headers, body = running.get("/card", origin="https://evil.example")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers and "record" not in body
    status, _, body = running.get("/card", host=f"evil.example:{running.port}")  # DNS rebinding
    assert status == 403 and "record" not in body
    status, headers, body = running.get("/card", origin=None)  # a local tool, no browser involved
    assert status == 200 and "Access-Control-Allow-Origin" not in headers and body["record"]


def test_private_network_preflight(running: Running) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
    conn.request(
        "OPTIONS", "/card", headers={"Origin": PAGE, "Access-Control-Request-Private-Network": "true"}
    )
    res = conn.getresponse()
    assert res.status == 204
    assert res.getheader("Access-Control-Allow-Private-Network") == "true"
    assert res.getheader("Access-Control-Allow-Origin") == PAGE


def test_next_card_replaces_the_record(running: Running) -> None:
    first = running.wait("ready")
    running.sim.lift()
    time.sleep(0.3)
    other17 = "11010519900101003"
    other = replace(sim_card(), text=replace(sim_card().text, id_number=other17 + check_character(other17)))
    running.sim.place(other)
    second = running.wait("ready", after=first["seq"])
    assert running.get("/card")[2]["record"]["id_number"] == other.text.id_number
    assert second["seq"] > first["seq"]


def test_card_lifted_mid_read_is_reported_then_read_again(running: Running) -> None:
    first = running.wait("ready")
    running.sim.lift()
    time.sleep(0.3)
    running.sim.inject(Fault("lift_mid_read", on=Command.READ_BASE))
    running.sim.place(sim_card())
    failed = running.wait("error", after=first["seq"])
    assert failed["reason"] == Reason.CARD_READ_FAILED.value
    running.sim.place(sim_card())
    running.wait("ready", after=failed["seq"])


def test_without_decoder_portrait_unavailable() -> None:
    for running in _run(None):
        body = running.wait("ready")
        assert body["warnings"] == [Reason.PORTRAIT_UNAVAILABLE.value]
        record = running.get("/card")[2]["record"]
        assert "portrait" not in record and record["name"] == "张伟"


def test_reader_unplugged_is_offline() -> None:
    def missing() -> SamReader:
        return SamReader.open("/dev/does-not-exist-17")

    bridge = ReaderBridge(missing, decoder=None, poll_s=0.05).start()
    try:
        deadline = time.monotonic() + 5
        while bridge.snapshot(with_record=False)["status"] != "offline":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert bridge.snapshot(with_record=False)["reason"] == Reason.READER_UNAVAILABLE.value
    finally:
        bridge.stop()


def test_bridge_listens_on_loopback_only() -> None:
    bridge = ReaderBridge(lambda: SamReader.open("/dev/null-17"), decoder=None)
    with pytest.raises(InputError):
        serve_bridge(bridge, host="0.0.0.0", port=0, origins=[PAGE])
    with pytest.raises(InputError):
        serve_bridge(bridge, host="127.0.0.1", port=0, origins=[])
