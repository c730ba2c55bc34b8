"""The outlet's ID card reader: the SAM serial driver (`SamReader`), a simulated reader on a
pseudo-terminal (`SimulatedReader`), the vendor WLT decoder hook (`load_portrait_decoder`) and the
localhost bridge that offers the card to the outlet page (`ReaderBridge`, `simkyc reader serve`).

The protocol's framing and decoding are pure and live in `simkyc.core.documents.sam`; this package
does the I/O (pyserial, a pty, HTTP on the loopback interface)."""

from simkyc.reader.bridge import *
from simkyc.reader.driver import *
from simkyc.reader.simulator import *
from simkyc.reader.wlt import *

__all__ = [
    "ReaderBridge",
    "SamReader",
    "SimCard",
    "SimulatedReader",
    "load_portrait_decoder",
    "page_record",
    "serve_bridge",
]
