"""Checks of a dataset archive's content before any of it is trusted.

An archive may come from anyone (a download, a shared run), so every field of dataset.json is
checked as a schema, every member's inflated size is bounded before it is read (a zip bomb
claims gigabytes in a few bytes), and every image's header is checked before it is decoded.
Each failure is a one-line GanvasError naming the archive and the member or field.
"""

from __future__ import annotations

import zipfile

from ..aspect import SQUARE, supported
from ..errors import GanvasError

FORMAT = "ganvas-dataset"
VERSION = 1
MODES = {1: "L", 3: "RGB", 4: "RGBA"}
JSON_CAP = 64 << 20          # bytes: dataset.json / manifest.json inflated (1M images fit)
MIN_RES, MAX_RES = 4, 2048   # pixels, the range prepare writes
PNG_SLACK = 1 << 20          # bytes for PNG chunks besides the pixels (text, ICC profile)


def member_limit(shape: tuple[int, int], channels: int) -> int:
    """Most bytes an honest PNG member of `shape` (H, W) may inflate to: twice its raw pixels
    (a stored, uncompressed PNG is the raw bytes plus one filter byte per row) plus
    PNG_SLACK."""
    return 2 * shape[0] * shape[1] * channels + PNG_SLACK


def read_member(zf: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    """The bytes of member `name`, refused before reading when its header claims more than
    `limit` bytes; the read itself is bounded too, whatever the header says."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise GanvasError(f"{where}: member {name} is missing") from None
    if info.file_size > limit:
        raise GanvasError(f"{where}: member {name} inflates to {info.file_size} bytes, "
                          f"more than the {limit} allowed")
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    # RuntimeError: an encrypted member; NotImplementedError: an unknown compression.
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError,
            NotImplementedError) as e:
        raise GanvasError(f"{where}: member {name} cannot be read ({brief(e)})") from None
    if len(data) > limit:
        raise GanvasError(f"{where}: member {name} inflates past the {limit} bytes allowed")
    return data


def brief(e: BaseException) -> str:
    """An exception's message on one line (a library's message may span several)."""
    return " ".join(str(e).split())


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise GanvasError(f"{where}: dataset.json {what}")


def check_meta(meta, names: set[str], where: str) -> dict:
    """Check dataset.json as a schema; `names` are the zip's member names. Returns `meta`."""
    _need(isinstance(meta, dict), where, "is not a JSON object")
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise GanvasError(f"{where}: unsupported dataset format {meta.get('format')!r} "
                          f"v{meta.get('version')!r} (expected {FORMAT} v{VERSION})")
    res, ch = meta.get("resolution"), meta.get("channels")
    _need(_is_int(res) and MIN_RES <= res <= MAX_RES and not res & (res - 1), where,
          f"resolution must be a power of two from {MIN_RES} to {MAX_RES}, not {res!r}")
    _need(_is_int(ch) and ch in MODES, where, f"channels must be 1, 3 or 4, not {ch!r}")
    aspect = meta.get("aspect", SQUARE)        # absent: square (every archive before aspects)
    _need(aspect in supported(), where,
          f"aspect must be a W:H the models make (1:4 ... 4:1, reduced), not "
          f"{str(aspect)[:20]!r}")
    classes = meta.get("class_names")
    _need(isinstance(classes, list) and all(isinstance(c, str) for c in classes), where,
          "class_names must be a list of strings")
    _need(len(set(classes)) == len(classes), where, "class_names has duplicates")
    images, n = meta.get("images"), meta.get("num_images")
    _need(isinstance(images, list), where, "images must be a list")
    _need(_is_int(n) and n == len(images), where,
          f"num_images is {n!r} but images lists {len(images)}")
    up = meta.get("upscaled", 0)  # absent in archives written before it was recorded
    _need(_is_int(up) and 0 <= up <= n, where,
          f"upscaled must be a count from 0 to num_images {n}, not {up!r}")
    _need(isinstance(meta.get("extra", {}), dict), where, "extra must be an object")
    for i, entry in enumerate(images):
        _check_entry(i, entry, len(classes), names, where)
    return meta


def _check_entry(i: int, entry, num_classes: int, names: set[str], where: str) -> None:
    """One images[i]: {"file": a member of the zip, "label": int in range or null when
    unlabelled, "source": str (optional)}."""
    _need(isinstance(entry, dict), where, f"images[{i}] is not an object")
    file = entry.get("file")
    _need(isinstance(file, str), where, f"images[{i}].file must be a string")
    _need(file in names, where, f"images[{i}].file {file!r} is not in the archive")
    label = entry.get("label")
    if num_classes:
        _need(_is_int(label) and 0 <= label < num_classes, where,
              f"images[{i}].label {label!r} is not a class index 0..{num_classes - 1}")
    else:
        _need(label is None, where, f"images[{i}].label {label!r} but there are no classes")
    _need(isinstance(entry.get("source", ""), (str, type(None))), where,
          f"images[{i}].source must be a string")
