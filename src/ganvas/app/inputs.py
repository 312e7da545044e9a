"""Checks for everything the page receives: seed lists typed in a text box and uploaded files.

Pure functions (no Streamlit), so they are tested directly. Each raises ganvas.GanvasError with
a message the page shows as it is.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

import ganvas
from ganvas import GanvasError

UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp")
UPLOAD_FORMATS = {"PNG", "JPEG", "WEBP"}  # what Pillow must find inside, whatever the name says
MAX_UPLOAD_BYTES = 10 * 2**20             # 10 MiB
MAX_UPLOAD_PIXELS = 40_000_000            # 40 megapixels, checked before decoding


def parse_seeds(text: str, limit: int, minimum: int = 1) -> list[int]:
    """'0-15' or '3, 7, 11' or '0-3,10' -> seeds in the order given, at most `limit` of them
    and at least `minimum` (ganvas.parse_seeds, with the page's limits)."""
    return ganvas.parse_seeds(text, limit=limit, minimum=minimum)


@dataclass
class Upload:
    """A checked, decoded upload: pixels uint8 (H, W, 3) RGB (EXIF orientation applied, alpha
    composited on white) and the same picture as PNG bytes."""
    name: str
    pixels: np.ndarray
    png: bytes


def read_upload(name: str, data: bytes) -> Upload:
    """Check and decode an uploaded picture. The name must end in an allowed type, the bytes
    must be at most MAX_UPLOAD_BYTES, Pillow must recognise a PNG, JPEG or WebP inside, and the
    declared size must be at most MAX_UPLOAD_PIXELS before any pixel is decoded."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in UPLOAD_TYPES:
        raise GanvasError(f"{name!r} is not a picture this page takes: use "
                          f"{', '.join(UPLOAD_TYPES)}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise GanvasError(f"{name!r} is {len(data) / 2**20:.1f} MB; the limit is "
                          f"{MAX_UPLOAD_BYTES // 2**20} MB")
    if not data:
        raise GanvasError(f"{name!r} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(UPLOAD_FORMATS)) as im:
                w, h = im.size
                if w * h > MAX_UPLOAD_PIXELS:
                    raise GanvasError(f"{name!r} is {w}x{h} pixels; the limit is "
                                      f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels")
                im.seek(0)                         # the first frame of an animated WebP
                im.load()
                rgb = on_white(ImageOps.exif_transpose(im))
    except GanvasError:
        raise
    except Image.UnidentifiedImageError:
        raise GanvasError(f"{name!r} is not a PNG, JPEG or WebP picture") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise GanvasError(f"{name!r} has too many pixels; the limit is "
                          f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise GanvasError(f"cannot read {name!r}: the picture is damaged or cut short "
                          f"({e.__class__.__name__})") from None
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return Upload(name, np.asarray(rgb), out.getvalue())


def on_white(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency composited on white."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")
