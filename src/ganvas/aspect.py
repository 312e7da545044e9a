"""Aspect ratios: which picture shapes the models make, and the nearest one to what is asked.

Every family starts its generator from a small block of H0 x W0 pixels and doubles both sides
per step, and its discriminator halves back down to that block. A square model starts at 4 x 4;
a non-square one at 4 x B (landscape) or B x 4 (portrait) with B from 5 to MAX_SIDE, so the
aspects the models support are B:4 and 4:B, from 1:4 to 4:1 in quarters: 5:4, 3:2, 7:4, 2:1,
... A model's `resolution` is its short side (a power of two): a 2:1 model at 64 px makes
64 x 128 (H x W) pictures, a 7:4 one at 256 px 256 x 448.

An aspect is written "W:H" reduced ("2:1", "3:2", "7:4", "1:2"); `nearest` maps any W:H
("16:9") to the supported one closest in log ratio ("7:4"), and says how far that is.
"""

from __future__ import annotations

import math
import re

from .errors import ConfigError

SQUARE = "1:1"
SHORT = 4                    # the short side of the first block
MAX_SIDE = 16                # its long side at most: 4:1


def block_shape(aspect: str) -> tuple[int, int]:
    """(H0, W0) of the first block of a model at `aspect` (a supported W:H): "1:1" -> (4, 4),
    "2:1" -> (4, 8), "7:4" -> (4, 7), "1:2" -> (8, 4). A ConfigError for anything else."""
    w, h = parse(aspect)
    long, short = max(w, h), min(w, h)
    side = SHORT * long // short
    if side * short != SHORT * long or not SHORT <= side <= MAX_SIDE or \
            canonical(w, h) != aspect:
        raise ConfigError(f"aspect {aspect!r} is not one the models make; they make "
                          f"{examples()} (W:H, reduced; prepare --aspect picks the nearest)")
    return (SHORT, side) if w >= h else (side, SHORT)


def image_shape(resolution: int, aspect: str) -> tuple[int, int]:
    """(H, W) of the pictures of a model: `resolution` is the short side."""
    h0, w0 = block_shape(aspect)
    return resolution * h0 // SHORT, resolution * w0 // SHORT


def parse(text: str) -> tuple[int, int]:
    """'16:9' -> (16, 9); a ConfigError unless two positive integers W:H."""
    m = re.fullmatch(r"\s*(\d{1,5})\s*:\s*(\d{1,5})\s*", str(text))
    if not m or int(m[1]) == 0 or int(m[2]) == 0:
        raise ConfigError(f"aspect must be W:H with two positive whole numbers, like 16:9, "
                          f"3:2, 2:1 or 1:2; not {text!r}")
    return int(m[1]), int(m[2])


def canonical(w: int, h: int) -> str:
    g = math.gcd(w, h)
    return f"{w // g}:{h // g}"


def supported() -> list[str]:
    """Every aspect the models make, tallest first."""
    portrait = [canonical(SHORT, b) for b in range(MAX_SIDE, SHORT, -1)]
    return portrait + [SQUARE] + [canonical(b, SHORT) for b in range(SHORT + 1, MAX_SIDE + 1)]


def examples() -> str:
    return "1:1, 5:4, 3:2, 7:4, 2:1, ... 4:1 and the portrait ones 4:5 ... 1:4"


def nearest(text: str) -> tuple[str, float]:
    """(the supported aspect nearest to W:H `text`, in log ratio; that aspect's W/H). A
    ConfigError for an aspect more than 10% beyond 4:1 or 1:4 (cropping would lose most of the
    picture: say so rather than silently make a 4:1 strip)."""
    w, h = parse(text)
    ratio = w / h
    limit = MAX_SIDE / SHORT
    if not 1 / (1.1 * limit) <= ratio <= 1.1 * limit:
        raise ConfigError(f"aspect {text} is beyond what the models make (from 1:4 to 4:1)")
    best = min(supported(), key=lambda a: abs(math.log(value(a) / ratio)))
    return best, value(best)


def value(aspect: str) -> float:
    """W / H of a W:H aspect."""
    w, h = parse(aspect)
    return w / h


def describe(resolution: int, aspect: str) -> str:
    """'64x128 (2:1)': W x H as people write picture sizes, then the aspect."""
    h, w = image_shape(resolution, aspect)
    return f"{w}x{h}" + ("" if aspect == SQUARE else f" ({aspect})")
