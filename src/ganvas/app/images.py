"""Pictures for the page: uint8 (N, H, W, C) from the API -> grids, enlarged views, PNG bytes.

Everything stays in memory; nothing here touches the file system.
"""

from __future__ import annotations

import io
import math

import numpy as np

import ganvas
from PIL import Image

VIEW_PIXELS = 256                 # pictures are enlarged to at least this (nearest-neighbour)


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (N, H, W, C) -> one uint8 picture with white 2-pixel gaps (ganvas.make_grid)."""
    return ganvas.make_grid(images, cols=cols, pad=pad)


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (..., H, W, C) -> (..., H*scale, W*scale, C), crisp pixels."""
    if scale <= 1:
        return image
    return image.repeat(scale, axis=-3).repeat(scale, axis=-2)


def view_scale(resolution: int, target: int = VIEW_PIXELS) -> int:
    """The whole enlargement that shows a `resolution` picture at least `target` px wide."""
    return max(1, math.ceil(target / resolution))


def for_display(image: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W, C) -> what st.image takes: one channel squeezed to (..., H, W)."""
    return image[..., 0] if image.shape[-1] == 1 else image


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """uint8 (H, W, C) with C in 1, 3, 4 -> a PNG file's bytes, `scale` times enlarged."""
    image = enlarge(image, scale)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.shape[-1]]
    pil = Image.fromarray(image[..., 0] if mode == "L" else image, mode)
    out = io.BytesIO()
    pil.save(out, format="PNG")
    return out.getvalue()
