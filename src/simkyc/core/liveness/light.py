"""The light challenge's sequence: colours the outlet page flashes behind the face, and their timing.

A recording cannot show the reflection of colours drawn after it was made. The server draws the
sequence (`draw_light`) with the rest of the challenge, under the same HMAC: a neutral white
lead-in, `n` saturated colours of a few hundred milliseconds each (consecutive colours differ),
and a white tail. The page shows step k full-screen and stamps every frame with k (or -1 when no
step is on screen); `simkyc.core.liveness.light_check` then tests that the face's colour followed
the sequence.

Each colour's expected effect on the face is its direction in log-chromaticity,
(log R/G, log B/G): light of colour c (RGB in 0..1) added to a face lit by neutral ambient light
of strength A shifts it by about (g/A) * (c_R - c_G, c_B - c_G); white shifts nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "LIGHT_NONE",
    "LightColour",
    "LightStep",
    "colour_rgb",
    "draw_light",
    "expected_shift",
    "light_starts",
]

LIGHT_NONE = -1  # a frame's stamp when no step of the sequence is on screen

FloatArray = npt.NDArray[np.float64]


class LightColour(StrEnum):
    """Colours the page can show; names are what the token and the page use."""

    WHITE = "white"
    RED = "red"
    GREEN = "green"
    BLUE = "blue"
    YELLOW = "yellow"
    MAGENTA = "magenta"
    CYAN = "cyan"


_RGB: dict[LightColour, tuple[int, int, int]] = {
    LightColour.WHITE: (255, 255, 255),
    LightColour.RED: (255, 0, 0),
    LightColour.GREEN: (0, 255, 0),
    LightColour.BLUE: (0, 0, 255),
    LightColour.YELLOW: (255, 255, 0),
    LightColour.MAGENTA: (255, 0, 255),
    LightColour.CYAN: (0, 255, 255),
}
_SATURATED = tuple(c for c in LightColour if c is not LightColour.WHITE)


@dataclass(frozen=True, slots=True)
class LightStep:
    """One step of the sequence: a colour on screen for `ms` milliseconds."""

    colour: LightColour
    ms: int


def colour_rgb(colour: LightColour) -> tuple[int, int, int]:
    """The sRGB value (0..255) the page paints for `colour`."""
    return _RGB[colour]


def expected_shift(colour: LightColour) -> tuple[float, float]:
    """The direction `colour` moves a lit face in (log R/G, log B/G), to first order; white: none."""
    r, g, b = (v / 255.0 for v in _RGB[colour])
    return (r - g, b - g)


def light_starts(steps: tuple[LightStep, ...]) -> FloatArray:
    """Start of each step and the end of the last, in seconds from the sequence's start, shape (n+1,)."""
    return np.concatenate([[0.0], np.cumsum([s.ms / 1000.0 for s in steps])])


def draw_light(
    rng: random.Random,
    *,
    n_colours: int = 6,
    min_ms: int = 300,
    max_ms: int = 450,
    neutral_ms: int = 400,
) -> tuple[LightStep, ...]:
    """White lead-in, `n_colours` saturated colours (no two in a row alike, at least 4 distinct), white tail.

    `rng` is `secrets.SystemRandom()` in service, a seeded `random.Random` in tests.
    """
    if not 4 <= n_colours <= 12:
        raise ValueError("a light sequence has 4 to 12 colours")
    while True:
        colours: list[LightColour] = []
        for _ in range(n_colours):
            choices = [c for c in _SATURATED if not colours or c is not colours[-1]]
            colours.append(rng.choice(choices))
        if len(set(colours)) >= 4:
            break
    middle = [LightStep(c, 10 * rng.randint(min_ms // 10, max_ms // 10)) for c in colours]
    return (LightStep(LightColour.WHITE, neutral_ms), *middle, LightStep(LightColour.WHITE, neutral_ms))
