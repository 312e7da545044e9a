"""The dataset archive: one zip file of same-size PNGs plus JSON metadata.

Layout (format "ganvas-dataset", version 1):

    dataset.json    {"format", "version", "resolution", "channels", "num_images",
                     "class_names": [..] ([] = unlabelled),
                     "images": [{"file": "images/000000.png", "label": int|null,
                                 "source": "relative/path/in/SRC.jpg"}, ...],
                     "upscaled": int,           images enlarged to fit (written only when > 0,
                                                so archives without any keep their bytes)
                     "aspect": "W:H",           a non-square archive's (ganvas.aspect; absent:
                                                square); resolution is then the short side
                     "extra": {...}}            free-form provenance (license, tool, options)
    manifest.json   {"summary": {...}, "kept": [...], "skipped": [{"path", "reason"}],
                     "duplicates": [{"path", "duplicate_of"}], "upscaled": [path, ...]}
    images/NNNNNN.png   H x W (resolution x resolution when square), mode L (1 ch), RGB (3)
                        or RGBA (4)

PNG members are stored uncompressed in the zip (PNG is already deflated). The archive is written
to a temporary file beside the target and published (durable.publish), so a reader never sees
half of one. Reading trusts nothing (checks.py): dataset.json is checked as a schema, members
are size-bounded before they are read, and images are decoded as PNG only, after their header
says the archive's size and mode.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..aspect import SQUARE, image_shape
from ..durable import naming, publish, temporary_beside
from ..errors import GanvasError
from .checks import (FORMAT, JSON_CAP, MODES, VERSION, brief, check_meta, member_limit,
                     read_member)
from .images import strict_truncation

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)   # the earliest zip date


@dataclass
class Archive:
    """A decoded dataset: images uint8 NHWC, labels int64 (N,) or None when unlabelled."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: list[str]
    resolution: int
    channels: int
    meta: dict = field(default_factory=dict)
    content_hash: str = ""
    aspect: str = SQUARE

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of its images."""
        return image_shape(self.resolution, self.aspect)


class ArchiveWriter:
    """Streams images into a new archive; `close()` publishes it atomically.

    Use as a context manager: on an exception the temporary file is removed and any existing
    archive at `path` is left untouched.
    """

    def __init__(self, path: str | os.PathLike, resolution: int, channels: int,
                 class_names: list[str] | None = None, aspect: str = SQUARE):
        if channels not in MODES:
            raise GanvasError(f"channels must be 1, 3 or 4, not {channels}")
        self.path = Path(path)
        self.resolution, self.aspect = resolution, aspect
        self.shape = image_shape(resolution, aspect)
        self.channels = channels
        self.class_names = list(class_names or [])
        self.entries: list[dict] = []
        self.upscaled = 0
        self._tmp = temporary_beside(self.path, suffix=".tmp")
        self._zip = zipfile.ZipFile(self._tmp, "w", compression=zipfile.ZIP_STORED)

    def add(self, image: np.ndarray, label: int | None = None, source: str = "",
            upscaled: bool = False) -> None:
        """Append one image: uint8 HWC (or HW for 1 channel) of the archive's shape;
        `upscaled`: it was enlarged from a smaller picture (counted in dataset.json)."""
        img = np.asarray(image)
        if img.ndim == 2:
            img = img[:, :, None]
        expected = (*self.shape, self.channels)
        if img.dtype != np.uint8 or img.shape != expected:
            raise ValueError(f"image must be uint8 {expected}, got {img.dtype} {img.shape}")
        if self.class_names and (label is None or not 0 <= label < len(self.class_names)):
            raise ValueError(f"label {label} outside 0..{len(self.class_names) - 1}")
        name = f"images/{len(self.entries):06d}.png"
        pil = Image.fromarray(img[:, :, 0] if self.channels == 1 else img, MODES[self.channels])
        buf = io.BytesIO()
        pil.save(buf, format="PNG", optimize=True)
        self._write(name, buf.getvalue())
        self.entries.append({"file": name, "label": label, "source": source})
        self.upscaled += bool(upscaled)

    def _write(self, name: str, data: bytes) -> None:
        """Add a member with a fixed date and attributes: the same images and metadata give
        the same archive bytes (and so the same content hash) on every machine."""
        info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o600 << 16
        info.create_system = 3                          # Unix, whatever machine writes it
        with naming(self.path, self._tmp):              # a full disk names the archive
            self._zip.writestr(info, data)

    def close(self, manifest: dict | None = None, extra: dict | None = None) -> Path:
        """Write the metadata and rename the archive into place; returns its path."""
        meta = {
            "format": FORMAT, "version": VERSION, "resolution": self.resolution,
            "channels": self.channels, "num_images": len(self.entries),
            "class_names": self.class_names, "images": self.entries,
            **({"upscaled": self.upscaled} if self.upscaled else {}),
            **({"aspect": self.aspect} if self.aspect != SQUARE else {}), "extra": extra or {},
        }
        self._write("dataset.json", json.dumps(meta, indent=1).encode())
        self._write("manifest.json", json.dumps(manifest or {}, indent=1).encode())
        with naming(self.path, self._tmp):
            self._zip.close()
            return publish(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the temporary file; the target path is untouched (even when closing the zip
        fails again, as it does on a full disk)."""
        try:
            self._zip.close()
        except (OSError, ValueError):
            pass
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "ArchiveWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self._tmp.exists():
            # Leaving the block without close() is a bug in the caller: publish nothing.
            self.abort()


def is_archive(path: str | os.PathLike) -> bool:
    """True when `path` is a readable zip file that holds a dataset.json (nothing checked)."""
    p = Path(path)
    try:
        if not p.is_file() or not zipfile.is_zipfile(p):
            return False
        with zipfile.ZipFile(p) as zf:
            return "dataset.json" in zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def read_meta(path: str | os.PathLike) -> dict:
    """dataset.json of an archive, checked as a schema against the zip's members
    (checks.check_meta); raises GanvasError for anything else."""
    p = Path(path)
    if not is_archive(p):
        raise GanvasError(f"{p} is not a ganvas dataset archive (run `ganvas prepare` first)")
    with zipfile.ZipFile(p) as zf:
        meta = _read_json(zf, "dataset.json", p)
        return check_meta(meta, set(zf.namelist()), str(p))


def read_manifest(path: str | os.PathLike) -> dict:
    """manifest.json of an archive (what prepare kept, skipped and de-duplicated)."""
    p = Path(path)
    if not is_archive(p):
        raise GanvasError(f"{p} is not a ganvas dataset archive (run `ganvas prepare` first)")
    with zipfile.ZipFile(p) as zf:
        manifest = _read_json(zf, "manifest.json", p)
    if not isinstance(manifest, dict):
        raise GanvasError(f"{p}: manifest.json is not a JSON object")
    return manifest


def _read_json(zf: zipfile.ZipFile, name: str, where: Path):
    """A JSON member, at most JSON_CAP bytes inflated."""
    data = read_member(zf, name, JSON_CAP, str(where))
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:      # bad UTF-8, bad JSON, absurd nesting
        raise GanvasError(f"{where}: {name} is not valid JSON ({e})") from None


def file_hash(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file's bytes (identifies an archive's content)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def decode_images(path: str | os.PathLike, meta: dict, out: np.ndarray) -> np.ndarray:
    """Decode the archive's images into `out`, a uint8 (N, H, W, channels) array (may be a
    memory map); `meta` from read_meta. GanvasError naming the first bad member."""
    shape, ch = meta_shape(meta), meta["channels"]
    limit = member_limit(shape, ch)
    with zipfile.ZipFile(path) as zf:
        for i, entry in enumerate(meta["images"]):
            data = read_member(zf, entry["file"], limit, str(path))
            out[i] = decode_png(data, shape, ch, f"{path}: member {entry['file']}")
    return out


def meta_shape(meta: dict) -> tuple[int, int]:
    """(H, W) of the images of a checked dataset.json."""
    return image_shape(meta["resolution"], meta.get("aspect", SQUARE))


def decode_png(data: bytes, shape: tuple[int, int], channels: int, where: str) -> np.ndarray:
    """PNG bytes -> uint8 (H, W, channels), `shape` (H, W). Only Pillow's PNG plugin may open
    them (no other decoder, e.g. EPS via Ghostscript, is ever reached), and size and mode are
    checked from the header before any pixel is decoded."""
    mode = MODES[channels]
    try:
        # Our size check below is stricter than Pillow's bomb warning, which would only add
        # a second line to the one-line error.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=["PNG"])
        with im:
            h, w = shape
            if im.size != (w, h) or im.mode != mode:
                raise GanvasError(f"{where} is {im.size[0]}x{im.size[1]} {im.mode}, not "
                                  f"{w}x{h} {mode}")
            with strict_truncation():
                im.load()
            return np.asarray(im).reshape(h, w, channels)
    except GanvasError:
        raise
    except UnidentifiedImageError:
        raise GanvasError(f"{where} is not a PNG image") from None
    except Exception as e:  # noqa: BLE001 - any decoder failure on a member is the file's
        raise GanvasError(f"{where} is damaged ({type(e).__name__}: {brief(e)})") from None


def labels_of(meta: dict) -> np.ndarray | None:
    """int64 (N,) labels of a labelled archive, None for an unlabelled one."""
    if not meta["class_names"]:
        return None
    return np.array([e["label"] for e in meta["images"]], dtype=np.int64)


def read_archive(path: str | os.PathLike, digest: str | None = None) -> Archive:
    """Decode every image of an archive into one uint8 NHWC array in memory (with labels);
    `digest`: its file_hash when the caller has computed it already."""
    meta = read_meta(path)
    res, ch, n = meta["resolution"], meta["channels"], meta["num_images"]
    images = decode_images(path, meta, np.empty((n, *meta_shape(meta), ch), dtype=np.uint8))
    return Archive(images=images, labels=labels_of(meta), class_names=list(meta["class_names"]),
                   resolution=res, channels=ch, meta=meta, content_hash=digest or file_hash(path),
                   aspect=meta.get("aspect", SQUARE))
