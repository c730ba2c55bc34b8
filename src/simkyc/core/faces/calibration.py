"""Calibrated operating points: the only source of match thresholds.

A calibration belongs to one embedder (name and version) and states the data it
was measured on, so an operator can say what "FMR 1e-3" means. The shell reads
it from `simkyc/data/calibration*.json`; this module only parses and queries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simkyc.errors import InputError, Reason

__all__ = ["Calibration", "OperatingPoint", "fmr_key"]


def fmr_key(fmr: float) -> str:
    """The canonical name of an operating point: 0.001 -> "1e-3"."""
    mantissa, exponent = f"{fmr:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A threshold and what it was measured to give on the calibration data."""

    fmr_target: float
    threshold: float
    fmr_measured: float
    fnmr_measured: float
    impostor_comparisons: int
    genuine_comparisons: int


@dataclass(frozen=True, slots=True)
class Calibration:
    """Operating points by FMR name ("1e-2", "1e-3", "1e-4") for one embedder, with a data statement."""

    embedder: str
    embedder_version: str
    points: Mapping[str, OperatingPoint]
    data: str
    created: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def threshold(self, fmr: float | str) -> float:
        """The threshold of a named operating point.

        :raises InputError: INVALID_REQUEST when the point is not calibrated.
        """
        key = fmr if isinstance(fmr, str) else fmr_key(fmr)
        point = self.points.get(key)
        if point is None:
            known = ", ".join(sorted(self.points))
            raise InputError(
                Reason.INVALID_REQUEST, f"no calibrated operating point FMR {key} (have {known})"
            )
        return point.threshold

    def check_embedder(self, name: str, version: str) -> None:
        """Refuse thresholds measured for another model: scores of different models are not comparable."""
        if name != self.embedder:
            raise InputError(
                Reason.INVALID_REQUEST,
                f"calibration is for embedder {self.embedder!r}, not {name!r}: run `simkyc eval calibrate`",
            )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Calibration:
        try:
            points = {
                str(k): OperatingPoint(
                    fmr_target=float(v["fmr_target"]),
                    threshold=float(v["threshold"]),
                    fmr_measured=float(v["fmr_measured"]),
                    fnmr_measured=float(v["fnmr_measured"]),
                    impostor_comparisons=int(v["impostor_comparisons"]),
                    genuine_comparisons=int(v["genuine_comparisons"]),
                )
                for k, v in raw["operating_points"].items()
            }
            known = {"embedder", "embedder_version", "operating_points", "data", "created"}
            return cls(
                embedder=str(raw["embedder"]),
                embedder_version=str(raw.get("embedder_version", "")),
                points=points,
                data=str(raw["data"]),
                created=str(raw.get("created", "")),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(Reason.INVALID_REQUEST, f"malformed calibration file ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder,
            "embedder_version": self.embedder_version,
            "created": self.created,
            "data": self.data,
            "operating_points": {
                k: {
                    "fmr_target": p.fmr_target,
                    "threshold": p.threshold,
                    "fmr_measured": p.fmr_measured,
                    "fnmr_measured": p.fnmr_measured,
                    "impostor_comparisons": p.impostor_comparisons,
                    "genuine_comparisons": p.genuine_comparisons,
                }
                for k, p in sorted(self.points.items(), key=lambda kv: -kv[1].fmr_target)
            },
            **dict(self.extra),
        }
