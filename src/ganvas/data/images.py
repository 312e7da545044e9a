"""Load and normalise ONE image file for a dataset archive.

`load_image` turns any picture Pillow can read into a square uint8 HWC array at the target
resolution and channel count, or into a short skip reason. It never raises for a bad file:
users' folders hold empty files, truncated downloads, renamed text files and 300-megapixel
scans, and one of those must not stop a prepare of 50,000 images.

Skip reasons (stable strings, counted in the archive's manifest):

    empty-file            the file has zero bytes
    unreadable            it could not be opened (permissions, vanished, not a regular file)
    symlink-outside-source  (with `root`) its real path lies outside root when it is opened
    not-an-image          Pillow does not recognise the content
    truncated-or-corrupt  recognised, but decoding failed (cut-off download, broken data)
    decompression-bomb    the header claims more than `max_pixels` pixels
    too-small             the shorter side is below `min_size` (by default there is no
                          minimum: a smaller picture is upscaled and marked `upscaled`)
    unsupported-mode      a pixel format we cannot turn into L/RGB/RGBA (e.g. LAB without
                          a conversion)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..aspect import SQUARE, image_shape

# Pillow's own default bomb limit (Image.MAX_IMAGE_PIXELS), kept as a constant because a
# program may set the global to None.
DEFAULT_MAX_PIXELS = 178_956_970
# Only these decoders may open a file, whatever its content: a folder from the internet can
# hold e.g. an EPS file named .png, and Pillow's EPS plugin would run Ghostscript on it.
# MPO is how Pillow names many camera JPEGs; DIB is a BMP variant.
FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "GIF", "TIFF")
CROPS = ("center", "pad")
MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_PAD_COLOUR = {"L": 255, "RGB": (255, 255, 255), "RGBA": (0, 0, 0, 0)}  # white; clear


@dataclass
class LoadedImage:
    """The result of `load_image`: pixels or a skip reason, never both.

    pixels: uint8 (H, W, channels) (resolution x resolution when square), or None when
            skipped.
    digest: hex hash of the decoded pixels (after orientation and channel conversion, before
            crop and resize) plus their size; equal digests mean identical pictures.
    size: (width, height) of the picture, for a kept one and for a too-small skip (the
          summary names the smallest upscaled and the largest too-small picture).
    upscaled: the part that becomes the picture (the crop box for crop "center", the whole
              picture for "pad") is smaller than the output, so it was enlarged.
    """

    pixels: np.ndarray | None = None
    reason: str | None = None
    detail: str = ""
    digest: str = ""
    size: tuple[int, int] | None = None
    upscaled: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is None


def load_image(path: str | os.PathLike, resolution: int, channels: int, crop: str = "center",
               min_size: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS,
               root: str | None = None, aspect: str = SQUARE) -> LoadedImage:
    """Decode one image file into uint8 (H, W, channels), or a skip reason: (H, W) =
    ganvas.aspect.image_shape(resolution, aspect), resolution x resolution when square.

    Steps: open the file (a regular file, and with `root` one whose real path lies inside
    that resolved folder at the moment it is opened); header checks (pixel count, size)
    before any decoding; JPEG draft decoding at a reduced scale; strict (truncation-detecting)
    load; EXIF orientation; first frame only; conversion to L / RGB / RGBA (alpha on white
    for 1 or 3 channels); to the aspect by `crop` ("center" crops the largest centred box of
    that aspect, "pad" fits the whole picture and pads with white, or transparent for 4
    channels); resize (see _resize). min_size: smallest accepted shorter
    side; the default 1 accepts every picture and upscales the small ones.
    """
    try:
        f = _open_inside(path, root)
    except _Refused as e:
        return LoadedImage(reason=e.reason, detail=e.detail)
    except OSError as e:
        return LoadedImage(reason="unreadable", detail=str(e))
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            return LoadedImage(reason="empty-file")
        return _load_open(f, image_shape(resolution, aspect), channels, crop, min_size,
                          max_pixels)


class _Refused(Exception):
    """A file refused when opened: `reason` is a skip reason, `detail` says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _open_inside(path: str | os.PathLike, root: str | None):
    """Open `path` for reading as a binary file object, refusing what is not a regular file
    (a FIFO would block, a device never ends) and, with `root`, a file that is not inside it
    now: a symlink swapped in after the folder was listed is caught here, not only at listing.
    The check compares the opened file (fstat) with the file at its resolved path, so the
    path cannot be changed between the check and the open."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused("unreadable", "not a regular file")
        if root is not None:
            real = os.path.realpath(path)
            if not Path(real).is_relative_to(root):
                raise _Refused("symlink-outside-source", f"resolves to {real}, outside {root}")
            now = os.stat(real)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise _Refused("symlink-outside-source", "changed while it was opened")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _load_open(f, shape: tuple[int, int], channels: int, crop: str, min_size: int,
               max_pixels: int) -> LoadedImage:
    """load_image's decoding of an opened file to `shape` (H, W), every failure a skip
    reason."""
    try:
        with _bomb_warnings_as_errors(max_pixels), \
                Image.open(f, formats=_available_formats()) as im:
            return _decode(im, shape, channels, crop, min_size, max_pixels)
    except UnidentifiedImageError:
        return LoadedImage(reason="not-an-image")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return LoadedImage(reason="decompression-bomb", detail=str(e))
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        return LoadedImage(reason="unreadable", detail=str(e))
    except MemoryError:
        return LoadedImage(reason="decompression-bomb", detail="out of memory while decoding")
    except Exception as e:  # noqa: BLE001 - any decoder failure on a user file is a skip
        return LoadedImage(reason="truncated-or-corrupt", detail=f"{type(e).__name__}: {e}")


def _decode(im: Image.Image, shape: tuple[int, int], channels: int, crop: str, min_size: int,
            max_pixels: int) -> LoadedImage:
    """Header checks, then decode and normalise an opened (not yet loaded) image."""
    w, h = im.size  # from the header: nothing decoded yet
    if w * h > max_pixels:
        return LoadedImage(reason="decompression-bomb",
                           detail=f"{w}x{h} = {w * h} pixels > max_pixels {max_pixels}")
    if min(w, h) < min_size:
        return LoadedImage(reason="too-small", detail=f"{w}x{h} < min_size {min_size}",
                           size=(w, h))
    if im.format in ("JPEG", "MPO"):
        im.draft(im.mode, _draft_size(w, h, shape, crop))
    with strict_truncation():
        im.load()
    _apply_orientation(im)
    mode = _to_basic_mode(im)
    if mode is None:
        return LoadedImage(reason="unsupported-mode", detail=im.mode)
    img = _to_channels(mode, channels)
    digest = _digest(img)
    if crop == "center":
        box = _crop_box(img.size, shape)
        out, upscaled = _resize(img, shape[::-1], box=box), box[3] - box[1] < shape[0]
    else:
        out, upscaled = _pad(img, shape), _fit_scale(img.size, shape) > 1
    arr = np.asarray(out, dtype=np.uint8).reshape(*shape, channels)
    return LoadedImage(pixels=arr, digest=digest, size=img.size, upscaled=upscaled)


def _available_formats() -> list[str]:
    """FORMATS that this Pillow build can decode (e.g. WEBP may be missing)."""
    Image.init()  # registers every plugin; cheap after the first call
    return [f for f in FORMATS if f in Image.OPEN]


def _draft_size(w: int, h: int, shape: tuple[int, int], crop: str) -> tuple[int, int]:
    """Smallest decode size (width, height) that still covers the output `shape` (H, W), for
    JPEG's DCT-domain scaling.

    draft() picks the largest 1/2, 1/4 or 1/8 scale that keeps both sides >= this size, so
    a 6000x4000 photo for 64 px decodes as 750x500: about 50x less work than a full decode.
    """
    if crop == "center":  # both sides >= the output's: then the crop box covers it too
        return shape[1], shape[0]
    if shape[1] * h <= shape[0] * w:          # pad: the fitted picture must stay covered
        return shape[1], max(1, h * shape[1] // w)
    return max(1, w * shape[0] // h), shape[0]


@contextlib.contextmanager
def _bomb_warnings_as_errors(max_pixels: int):
    """Turn Pillow's DecompressionBombWarning into an error while opening one file.

    When the caller allows more pixels than Pillow's own limit, the warning is only noise
    (our header check decides); Pillow's hard error at twice its limit still applies.
    """
    limit = Image.MAX_IMAGE_PIXELS
    action = "error" if limit is not None and max_pixels <= limit else "ignore"
    with warnings.catch_warnings():
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        yield


@contextlib.contextmanager
def strict_truncation():
    """Make load() raise on truncated files, whatever other code set.

    Pillow decodes a cut-off file silently (grey bottom) when ImageFile.LOAD_TRUNCATED_IMAGES
    is True. It is False by default and then we change nothing; only if some other code
    switched it on do we switch it off around our own load() and restore it right after.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    if not previous:
        yield
        return
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _apply_orientation(im: Image.Image) -> None:
    """Rotate/flip in place as the EXIF Orientation tag says (cameras store it sideways)."""
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to lose the pixels
        pass


def _to_basic_mode(im: Image.Image) -> Image.Image | None:
    """Convert any Pillow mode to one of L, LA, RGB, RGBA (8 bit); None if impossible."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA") and "transparency" not in im.info:
        return im
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scale_to_uint8(np.asarray(im), unit_range=mode == "F"), "L")
    if "transparency" in im.info or mode in ("PA", "RGBa", "La"):
        return im.convert("RGBA" if mode != "La" else "LA")
    if mode == "1":
        return im.convert("L")
    try:  # P, CMYK, YCbCr, RGBX, HSV, ...
        return im.convert("RGB")
    except (ValueError, OSError):
        return None


def _scale_to_uint8(arr: np.ndarray, unit_range: bool) -> np.ndarray:
    """16/32-bit integer or float grey (HW) -> uint8 HW, scaled rather than clipped.

    Pillow's convert('L') clips 16-bit values at 255, turning mid-grey 32768 into white.
    Integers: 8-bit-looking data (max <= 255) is kept, 16-bit data is divided by 257
    (65535 -> 255), wider data by its maximum. Floats in [0, 1] are scaled by 255.
    """
    a = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    a = np.clip(a, 0, None)
    top = float(a.max()) if a.size else 0.0
    if unit_range and top <= 1.0:
        scale = 255.0
    elif top <= 255:
        scale = 1.0
    elif top <= 65535:
        scale = 255.0 / 65535.0
    else:
        scale = 255.0 / top
    return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)


def _to_channels(im: Image.Image, channels: int) -> Image.Image:
    """L/LA/RGB/RGBA -> the archive mode: alpha composited on white unless channels == 4."""
    target = MODES[channels]
    if im.mode == target:
        return im
    if channels == 4:
        return im.convert("RGBA")
    if im.mode in ("LA", "RGBA"):
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im.convert("RGBA"))
    return im.convert(target)


def _digest(im: Image.Image) -> str:
    """Hash of mode, size and pixels: identical pictures under different names collide."""
    h = hashlib.sha256(f"{im.mode} {im.width}x{im.height}\n".encode())
    h.update(im.tobytes())
    return h.hexdigest()


def _crop_box(size: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest centred box of `shape`'s aspect (H, W) in a (width, height) picture: the
    largest centred square for a square shape."""
    w, h = size
    if w * shape[0] >= h * shape[1]:                # wider than the shape: full height
        bw, bh = min(w, max(1, round(h * shape[1] / shape[0]))), h
    else:
        bw, bh = w, min(h, max(1, round(w * shape[0] / shape[1])))
    left, top = (w - bw) // 2, (h - bh) // 2
    return left, top, left + bw, top + bh


def _fit_scale(size: tuple[int, int], shape: tuple[int, int]) -> float:
    """The scale that fits a (width, height) picture inside `shape` (H, W)."""
    return min(shape[1] / size[0], shape[0] / size[1])


def _pad(im: Image.Image, shape: tuple[int, int]) -> Image.Image:
    """Fit the whole picture inside `shape` (H, W), then pad (white, transparent for RGBA)."""
    w, h = im.size
    if shape[1] * h <= shape[0] * w:                 # the width fills the shape
        size = (shape[1], min(shape[0], max(1, round(h * shape[1] / w))))
    else:
        size = (min(shape[1], max(1, round(w * shape[0] / h))), shape[0])
    fitted = _resize(im, size)
    canvas = Image.new(im.mode, (shape[1], shape[0]), _PAD_COLOUR[im.mode])
    canvas.paste(fitted, ((shape[1] - size[0]) // 2, (shape[0] - size[1]) // 2))
    return canvas


def _resize(im: Image.Image, size: tuple[int, int], box=None) -> Image.Image:
    """Shrink with LANCZOS (reducing_gap=3 first shrinks by an integer box filter, several
    times faster for big inputs and visually indistinguishable); enlarge with BICUBIC.

    Enlarging: Lanczos rings beside hard edges (a 40 -> 215 grey step enlarged 28 -> 64 px
    overshoots by 17 levels on each side, bicubic by 10, bilinear by 0 but blurs most), and
    NEAREST keeps pixel art crisp only at whole-number factors: 28 -> 64 px gives blocks 2
    and 3 px wide at irregular places, a pattern the generator would learn. Bicubic is the
    middle: smooth, sharper than bilinear (the PyTorch DCGAN example's), little overshoot.
    """
    if box is None and im.size == size:
        return im
    width = im.width if box is None else box[2] - box[0]
    if size[0] > width:
        return im.resize(size, Image.Resampling.BICUBIC, box=box)
    return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
