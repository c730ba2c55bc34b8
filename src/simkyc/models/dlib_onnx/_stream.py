"""A reader for dlib's portable serialization format (dlib/serialize.h, dlib/float_details.h).

dlib writes integers as one control byte (low 4 bits: byte count, bit 0x80: negative)
followed by that many little-endian magnitude bytes; floats as an integer mantissa and
a 16-bit exponent (value = mantissa * 2**exponent, exponents 32000-32002 meaning inf,
-inf and NaN); bools as the characters '1'/'0'; strings as a length then the bytes;
and DNN tensors (dlib/cuda/tensor.h, version 2) as their four dimensions followed by
raw little-endian IEEE float32 values (version 1 used the portable float format per value).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["DlibFormatError", "DlibStream", "Tensor"]

_IS_INF, _IS_NINF, _IS_NAN = 32000, 32001, 32002

Tensor = npt.NDArray[np.float32]
"""A dlib tensor as a float32 array of shape (num_samples, k, nr, nc)."""


class DlibFormatError(ValueError):
    """The bytes do not follow dlib's serialization format where the parser expected it to."""


class DlibStream:
    """Sequential reader over the bytes of one dlib-serialized object."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if self.pos + n > len(self._data):
            raise DlibFormatError(f"unexpected end of data at byte {self.pos} (wanted {n} more)")
        out = self._data[self.pos : self.pos + n]
        self.pos += n
        return out

    @property
    def at_end(self) -> bool:
        return self.pos == len(self._data)

    def peek_byte(self) -> int:
        if self.pos >= len(self._data):
            raise DlibFormatError("unexpected end of data")
        return int(self._data[self.pos])

    def int_(self) -> int:
        """A signed or unsigned integer (dlib `pack_int`)."""
        start = self.pos
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at byte {start}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def float_(self) -> float:
        """A float or double in dlib's portable mantissa/exponent format."""
        if self.peek_byte() & 0x70:
            raise DlibFormatError(f"old ASCII float format at byte {self.pos} is not supported")
        mantissa = self.int_()
        exponent = self.int_()
        if exponent == _IS_INF:
            return math.inf
        if exponent == _IS_NINF:
            return -math.inf
        if exponent == _IS_NAN:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def float32(self) -> np.float32:
        """A value dlib stored from a C++ `float`: rounded like `float_details::convert_to_T<float>`."""
        return np.float32(self.float_())

    def bool_(self) -> bool:
        ch = self._take(1)[0]
        if ch not in (0x30, 0x31):
            raise DlibFormatError(f"bad bool byte 0x{ch:02x} at byte {self.pos - 1}")
        return ch == 0x31

    def string(self) -> str:
        n = self.int_()
        return bytes(self._take(n)).decode("latin-1")

    def expect_string(self, *accepted: str) -> str:
        start = self.pos
        try:
            value = self.string()
        except DlibFormatError as exc:
            raise DlibFormatError(f"expected one of {accepted} at byte {start}") from exc
        if value not in accepted:
            raise DlibFormatError(f"expected one of {accepted} at byte {start}, found {value!r}")
        return value

    def tensor(self) -> Tensor:
        """A `resizable_tensor` (versions 1 and 2)."""
        version = self.int_()
        dims = tuple(self.int_() for _ in range(4))
        if any(d < 0 for d in dims):
            raise DlibFormatError(f"negative tensor dimension {dims} at byte {self.pos}")
        size = math.prod(dims)
        if version == 2:
            raw = self._take(4 * size)
            return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)
        if version == 1:
            values = np.array([self.float_() for _ in range(size)], dtype=np.float32)
            return values.reshape(dims)
        raise DlibFormatError(f"unknown tensor version {version} at byte {self.pos}")

    def alias_tensor(self) -> tuple[int, int, int, int]:
        """An `alias_tensor`: only its shape is stored."""
        version = self.int_()
        if version != 1:
            raise DlibFormatError(f"unknown alias_tensor version {version} at byte {self.pos}")
        n, k, nr, nc = (self.int_() for _ in range(4))
        return (n, k, nr, nc)
