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
    """Operating points by FMR name ("1e-2", "1e-3", "1e-4") for one embedder, with a data statement.

    `points` hold for one image against one image (`simkyc verify`). `fused_points` hold
    for the registration's comparison: one ID photo against the template averaged from
    `fused_frames` live frames. Averaging removes per-frame noise from impostors as much
    as from genuine users, so impostor scores rise and need a threshold of their own.
    """

    embedder: str
    embedder_version: str
    points: Mapping[str, OperatingPoint]
    data: str
    created: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    fused_points: Mapping[str, OperatingPoint] = field(default_factory=dict)
    fused_frames: int = 0

    def threshold(self, fmr: float | str, *, fused: bool = False) -> float:
        """The threshold of a named operating point (of the fused comparison if `fused`).

        :raises InputError: INVALID_REQUEST when the point is not calibrated.
        """
        key = fmr if isinstance(fmr, str) else fmr_key(fmr)
        points = self.fused_points if fused else self.points
        point = points.get(key)
        if point is None:
            known = ", ".join(sorted(points)) or "none"
            what = f"fused ({self.fused_frames} frames) " if fused else ""
            raise InputError(
                Reason.INVALID_REQUEST,
                f"no calibrated {what}operating point FMR {key} (have {known}): run `simkyc eval calibrate`",
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
        def points(block: Mapping[str, Any]) -> dict[str, OperatingPoint]:
            return {
                str(k): OperatingPoint(
                    fmr_target=float(v["fmr_target"]),
                    threshold=float(v["threshold"]),
                    fmr_measured=float(v["fmr_measured"]),
                    fnmr_measured=float(v["fnmr_measured"]),
                    impostor_comparisons=int(v["impostor_comparisons"]),
                    genuine_comparisons=int(v["genuine_comparisons"]),
                )
                for k, v in block.items()
            }

        try:
            known = {
                "embedder",
                "embedder_version",
                "operating_points",
                "fused_operating_points",
                "fused_frames",
                "data",
                "created",
            }
            return cls(
                embedder=str(raw["embedder"]),
                embedder_version=str(raw.get("embedder_version", "")),
                points=points(raw["operating_points"]),
                data=str(raw["data"]),
                created=str(raw.get("created", "")),
                extra={k: v for k, v in raw.items() if k not in known},
                fused_points=points(raw.get("fused_operating_points", {})),
                fused_frames=int(raw.get("fused_frames", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(Reason.INVALID_REQUEST, f"malformed calibration file ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        def block(points: Mapping[str, OperatingPoint]) -> dict[str, Any]:
            return {
                k: {
                    "fmr_target": p.fmr_target,
                    "threshold": p.threshold,
                    "fmr_measured": p.fmr_measured,
                    "fnmr_measured": p.fnmr_measured,
                    "impostor_comparisons": p.impostor_comparisons,
                    "genuine_comparisons": p.genuine_comparisons,
                }
                for k, p in sorted(points.items(), key=lambda kv: -kv[1].fmr_target)
            }

        fused = (
            {"fused_frames": self.fused_frames, "fused_operating_points": block(self.fused_points)}
            if self.fused_points
            else {}
        )
        return {
            "embedder": self.embedder,
            "embedder_version": self.embedder_version,
            "created": self.created,
            "data": self.data,
            "operating_points": block(self.points),
            **fused,
            **dict(self.extra),
        }
