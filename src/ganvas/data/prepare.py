"""`prepare`: turn a folder of pictures into one dataset archive (see archive.py).

The folder is scanned recursively in sorted order, every image is decoded and normalised by
images.load_image (in a process pool when workers > 1), exact duplicates are dropped by
decoded content, and the result is streamed into an ArchiveWriter, which publishes the
archive with one rename: a crash or Ctrl-C leaves no half archive and no damaged old one.

Pictures smaller than the resolution are upscaled by default and counted (summary warning,
dataset.json "upscaled", manifest "upscaled"): icons and MNIST-like sets would otherwise be
refused outright. min_size refuses them instead (skip reason too-small); when that leaves
nothing, the error names the largest resolution that the pictures would fit.

Skip reasons found here, before decoding (the rest are listed in images.py):

    symlink-outside-source   a file symlink whose target lies outside SRC (checked again
                             when the file is opened: a link swapped in later is refused)
    no-class-folder          labels="folders" and the file sits directly in SRC
    unreadable-folder        a folder that could not be listed (permissions): its files are
                             unknown, so the folder itself is the skipped entry
"""

from __future__ import annotations

import hashlib
import json
import os
import contextlib
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from ..aspect import SQUARE, image_shape, nearest, parse
from ..errors import ConfigError, GanvasError
from ..paths import cache_dir
from ..outputs import check_out_file
from .archive import ArchiveWriter, read_meta
from .checks import MAX_RES, MIN_RES
from .images import CROPS, DEFAULT_MAX_PIXELS, MODES, LoadedImage, load_image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
LABEL_MODES = ("none", "folders")
# Bump when the same input would give different archive content; it invalidates caches.
# 2: small pictures are upscaled (bicubic) by default instead of skipped below half the size.
PREPARE_VERSION = 2
UNREADABLE_FOLDER = "unreadable-folder"
_BATCH = 8  # files per pool task: amortises inter-process overhead for small images


@dataclass
class PrepareSummary:
    """What prepare did: counts per outcome, and the classes when labels="folders"."""

    out: Path
    kept: int
    skipped: dict[str, int]
    duplicates: int
    class_names: list[str] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)  # kept images per class
    ignored: int = 0  # files with other extensions, not counted as skipped
    unreadable_folders: list[str] = field(default_factory=list)  # relative to SRC
    resolution: int = 0
    aspect: str = SQUARE         # the archive's (W:H): the nearest the models make to the asked
    asked_aspect: str = SQUARE   # what was asked (16:9)
    min_size: int = 1
    upscaled: int = 0  # kept images enlarged to the resolution
    smallest_upscaled: tuple[int, int] | None = None  # (width, height)
    largest_too_small: int = 0  # longest shorter side among the too-small skips

    def lines(self) -> list[str]:
        """A short human summary, one line per fact."""
        dup = "duplicate" if self.duplicates == 1 else "duplicates"
        out = [f"kept {self.kept}, {_skip_text(self.skipped)}, "
               f"{self.duplicates} {dup} removed -> {self.out}"]
        if self.aspect != SQUARE or self.asked_aspect != SQUARE:
            near = "" if parse(self.asked_aspect) == parse(self.aspect) else \
                f" (asked {self.asked_aspect}: the nearest the models make)"
            h, w = image_shape(self.resolution, self.aspect)
            out.append(f"aspect {self.aspect}{near}: {w}x{h} px pictures")
        if self.class_names:
            counts = ", ".join(f"{c} {self.class_counts.get(c, 0)}" for c in self.class_names)
            out.append(f"{len(self.class_names)} classes: {counts}")
            empty = [c for c in self.class_names if not self.class_counts.get(c)]
            if empty:
                out.append(f"warning: no usable images in class folder(s) {', '.join(empty)}")
        if self.unreadable_folders:
            out.append(f"warning: could not read folder(s) {', '.join(self.unreadable_folders)}"
                       f"; their images are not in the archive")
        if self.upscaled:
            w, h = self.smallest_upscaled
            images = "image" if self.upscaled == 1 else "images"
            out.append(f"warning: upscaled {self.upscaled} {images} smaller than "
                       f"{self.resolution} px (smallest {w}x{h}); --min-size "
                       f"{self.resolution} to skip them instead")
        if self.ignored:
            out.append(f"ignored {self.ignored} files with other extensions")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass
class _Entry:
    """One candidate file: relative posix path (the archive's `source`), its label, and a
    reason when it is skipped before decoding."""

    rel: str
    path: str
    label: int | None = None
    reason: str | None = None


def prepare(src: str | os.PathLike, out: str | os.PathLike, resolution: int = 64,
            channels: int = 3, crop: str = "center", labels: str = "none",
            min_size: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS,
            workers: int | None = None, progress: bool = True,
            aspect: str = SQUARE) -> PrepareSummary:
    """Prepare the images under `src` into the dataset archive `out` (a .zip file).

    resolution: output side in pixels (power of two, 4..2048), the short side with an
    aspect; aspect: W:H ("16:9", "3:2", "2:1", "1:2"), made the nearest the models support
    (ganvas.aspect.nearest: 16:9 -> 7:4), pictures cropped (or padded) to it; channels: 1
    (L), 3 (RGB) or 4 (RGBA); crop: "center" or "pad"; labels: "none" or "folders" (class =
    first-level sub-folder); min_size: smallest accepted shorter side in pixels, smaller
    pictures are skipped as too-small (default 1: every picture is kept, those smaller than
    the resolution upscaled); max_pixels: larger images are skipped unread; workers: decoding
    processes (default min(4, cpu count)). Raises GanvasError for bad options or when no
    image is usable.
    """
    src, out = _check_paths(src, out)
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    _check_options(resolution, channels, crop, labels, min_size, max_pixels, workers)
    made, _ = nearest(aspect)
    entries, class_names, ignored = _scan(src, labels)
    load = partial(load_image, resolution=resolution, channels=channels, crop=crop,
                   min_size=min_size, max_pixels=max_pixels, root=str(src.resolve()),
                   aspect=made)
    options = {"resolution": resolution, "channels": channels, "crop": crop, "labels": labels,
               "min_size": min_size, "max_pixels": max_pixels,
               **({"aspect": str(aspect)} if made != SQUARE else {})}
    stream = _decode_in_order(entries, load, workers, progress)
    # closing(): on Ctrl-C or an error the pool is shut down before the writer aborts.
    with ArchiveWriter(out, resolution, channels, class_names, aspect=made) as writer, \
            contextlib.closing(stream):
        tally = _Tally()
        for entry, result in stream:
            tally.record(entry, result, writer)
        summary = tally.summary(out, class_names, ignored, resolution, min_size)
        summary.aspect, summary.asked_aspect = made, str(aspect).strip()
        if summary.kept == 0:
            raise GanvasError(f"no usable images in {src}: {_empty_reason(summary)}")
        manifest = tally.manifest(summary)
        writer.close(manifest=manifest, extra={"tool": "ganvas prepare", "source": src.name,
                                               "prepare_version": PREPARE_VERSION, **options})
    return summary


def prepare_cached(folder: str | os.PathLike, resolution: int, channels: int,
                   crop: str = "center", labels: str = "none", progress: bool = True) -> Path:
    """Prepare a raw folder into the cache (for `ganvas train FOLDER`); returns the archive.

    The archive is cache_dir("prepared")/<key>.zip, key = sha256 of the options and of the
    sorted (relative path, size, mtime_ns) of the image files, so adding, removing or editing
    a picture prepares again, and an unchanged folder is reused at once.
    """
    src, _ = _check_paths(folder, None)
    min_size = 1  # like prepare's default: small pictures are upscaled, never skipped
    _check_options(resolution, channels, crop, labels, min_size, DEFAULT_MAX_PIXELS, 1)
    options = {"version": PREPARE_VERSION, "resolution": resolution, "channels": channels,
               "crop": crop, "labels": labels, "min_size": min_size,
               "max_pixels": DEFAULT_MAX_PIXELS}
    path = cache_dir("prepared") / f"{_cache_key(src, options)}.zip"
    if not _usable(path):
        prepare(src, path, resolution=resolution, channels=channels, crop=crop, labels=labels,
                min_size=min_size, progress=progress)
    return path


def count_image_files(folder: str | os.PathLike) -> int:
    """The files with an image extension under `folder`, as prepare finds them (before it
    skips any it cannot decode or use); nothing is opened."""
    return len(_image_files(Path(folder))[0])


def _usable(path: Path) -> bool:
    """Whether a cached prepared archive exists with a valid dataset.json (a damaged one is
    prepared again rather than failing every later run)."""
    try:
        read_meta(path)
    except GanvasError:
        return False
    return True


# --- validation --------------------------------------------------------------------------

def _check_paths(src, out) -> tuple[Path, Path | None]:
    """The source must be an existing folder; the output a file name in a folder that can be
    written (before any picture is decoded)."""
    src = Path(src)
    if not src.exists():
        raise GanvasError(f"source folder not found: {src}")
    if not src.is_dir():
        raise GanvasError(f"source {src} is not a folder (give a folder of images)")
    if out is not None:
        out = Path(out)
        if out.is_dir():
            raise GanvasError(f"output {out} is an existing folder; give a file name such as "
                              f"{out / 'dataset.zip'}")
        check_out_file(out)
    return src, out


def _check_options(resolution, channels, crop, labels, min_size, max_pixels, workers) -> None:
    """Every option checked before any work, each failure one line naming the choices."""
    if not _is_int(resolution) or not MIN_RES <= resolution <= MAX_RES \
            or resolution & (resolution - 1):
        raise ConfigError(f"resolution must be a power of two from 4 to 2048 "
                          f"(4, 8, 16, ..., 2048), not {resolution!r}")
    if channels not in MODES or not _is_int(channels):
        raise ConfigError(f"channels must be 1 (grey), 3 (RGB) or 4 (RGBA), not {channels!r}")
    if crop not in CROPS:
        raise ConfigError(f"crop must be one of {', '.join(CROPS)}, not {crop!r}")
    if labels not in LABEL_MODES:
        raise ConfigError(f"labels must be one of {', '.join(LABEL_MODES)}, not {labels!r}")
    if not _is_int(min_size) or min_size < 1:
        raise ConfigError(f"min_size must be a positive integer, not {min_size!r}")
    if not _is_int(max_pixels) or max_pixels < 1:
        raise ConfigError(f"max_pixels must be a positive integer, not {max_pixels!r}")
    if not _is_int(workers) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, not {workers!r}")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# --- scanning ----------------------------------------------------------------------------

def _image_files(src: Path) -> tuple[list[tuple[str, str]], int, list[str]]:
    """(relative posix path, path) of files with an image extension, sorted by relative path,
    the number of other files, and the relative paths of folders that could not be listed
    (os.walk drops those silently; they are reported as skipped instead). Symlinked folders
    are not entered (os.walk default)."""
    found, ignored, unreadable = [], 0, []

    def failed(err: OSError) -> None:
        unreadable.append(Path(os.path.relpath(err.filename or src, src)).as_posix())

    for dirpath, dirnames, filenames in os.walk(src, onerror=failed):
        dirnames.sort()
        for name in filenames:
            if os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
                ignored += 1
                continue
            path = os.path.join(dirpath, name)
            found.append((Path(os.path.relpath(path, src)).as_posix(), path))
    found.sort()
    return found, ignored, sorted(unreadable)


def _scan(src: Path, labels: str) -> tuple[list[_Entry], list[str], int]:
    """Candidate entries (with pre-decode skips and labels), class names, ignored count.
    A folder that cannot be listed is one skipped entry (reason UNREADABLE_FOLDER)."""
    root = src.resolve()
    files, ignored, unreadable = _image_files(src)
    entries = [_Entry(rel, path) for rel, path in files]
    for e in entries:
        if os.path.islink(e.path) and not Path(os.path.realpath(e.path)).is_relative_to(root):
            e.reason = "symlink-outside-source"
        elif labels == "folders" and "/" not in e.rel:
            e.reason = "no-class-folder"
    class_names: list[str] = []
    if labels == "folders":
        class_names = sorted({e.rel.split("/", 1)[0] for e in entries if e.reason is None})
        index = {name: i for i, name in enumerate(class_names)}
        for e in entries:
            if e.reason is None:
                e.label = index[e.rel.split("/", 1)[0]]
    entries += [_Entry(rel, str(src / rel), reason=UNREADABLE_FOLDER) for rel in unreadable]
    return entries, class_names, ignored


def _cache_key(src: Path, options: dict) -> str:
    """sha256 over the options and the (relative path, size, mtime_ns) of every image file."""
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for rel, path in _image_files(src)[0]:
        try:
            st = os.stat(path)
        except OSError:  # a broken symlink still counts as a (changed) file
            st = os.lstat(path)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


# --- decoding ----------------------------------------------------------------------------

def _load_batch(load: Callable[[str], LoadedImage], paths: list[str]) -> list[LoadedImage]:
    """Pool task: decode a few files (module-level so that it pickles)."""
    return [load(p) for p in paths]


def _decode_in_order(entries: list[_Entry], load, workers: int,
                     progress: bool) -> Iterator[tuple[_Entry, LoadedImage | None]]:
    """Yield (entry, result) in entry order; result is None for entries skipped already."""
    todo = [e for e in entries if e.reason is None]
    results = _map_ordered(load, [e.path for e in todo], min(workers, max(1, len(todo))))
    with contextlib.closing(results), \
            tqdm(total=len(entries), disable=not progress, unit="img", desc="prepare") as bar:
        for e in entries:
            yield e, (next(results) if e.reason is None else None)
            bar.update()


def _map_ordered(load, paths: list[str], workers: int) -> Iterator[LoadedImage]:
    """load(path) for every path, in order; with workers > 1 in a process pool.

    At most 4 batches per worker are in flight, so memory stays bounded when writing PNGs is
    slower than decoding (large resolutions).
    """
    if workers <= 1:
        yield from map(load, paths)
        return
    batches = iter([paths[i:i + _BATCH] for i in range(0, len(paths), _BATCH)])
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        pending = deque(pool.submit(_load_batch, load, b)
                        for b in islice(batches, 4 * workers))
        while pending:
            done = pending.popleft().result()
            nxt = next(batches, None)
            if nxt is not None:
                pending.append(pool.submit(_load_batch, load, nxt))
            yield from done
    finally:
        # Ctrl-C or an error downstream: drop queued work instead of finishing it.
        pool.shutdown(wait=True, cancel_futures=True)


# --- bookkeeping -------------------------------------------------------------------------

class _Tally:
    """Collects kept / skipped / duplicate files and writes kept images to the archive."""

    def __init__(self):
        self.kept: list[str] = []
        self.skipped: list[dict] = []
        self.duplicates: list[dict] = []
        self.first_by_digest: dict[str, str] = {}
        self.labels: Counter = Counter()
        self.upscaled: list[str] = []
        self.smallest_upscaled: tuple[int, int] | None = None
        self.largest_too_small = 0

    def record(self, entry: _Entry, result: LoadedImage | None, writer: ArchiveWriter) -> None:
        """File one outcome; a new distinct image goes into the archive."""
        if result is None or not result.ok:
            item = {"path": entry.rel, "reason": entry.reason or result.reason}
            if result is not None and result.detail:
                item["detail"] = result.detail
            if item["reason"] == "too-small":
                self.largest_too_small = max(self.largest_too_small, min(result.size))
            self.skipped.append(item)
            return
        first = self.first_by_digest.setdefault(result.digest, entry.rel)
        if first != entry.rel:  # same decoded pixels seen earlier in sorted order
            self.duplicates.append({"path": entry.rel, "duplicate_of": first})
            return
        writer.add(result.pixels, label=entry.label, source=entry.rel, upscaled=result.upscaled)
        self.kept.append(entry.rel)
        self.labels[entry.label] += 1
        if result.upscaled:
            self.upscaled.append(entry.rel)
            self.smallest_upscaled = min(self.smallest_upscaled or result.size, result.size,
                                         key=lambda wh: (min(wh), wh[0] * wh[1]))

    def summary(self, out: Path, class_names: list[str], ignored: int, resolution: int,
                min_size: int) -> PrepareSummary:
        skipped = Counter(s["reason"] for s in self.skipped)
        counts = {name: self.labels[i] for i, name in enumerate(class_names)}
        folders = [s["path"] for s in self.skipped if s["reason"] == UNREADABLE_FOLDER]
        return PrepareSummary(out=out, kept=len(self.kept), skipped=dict(skipped),
                              duplicates=len(self.duplicates), class_names=list(class_names),
                              class_counts=counts, ignored=ignored, unreadable_folders=folders,
                              resolution=resolution, min_size=min_size,
                              upscaled=len(self.upscaled),
                              smallest_upscaled=self.smallest_upscaled,
                              largest_too_small=self.largest_too_small)

    def manifest(self, summary: PrepareSummary) -> dict:
        return {"summary": {"kept": summary.kept, "skipped": summary.skipped,
                            "duplicates": summary.duplicates, "ignored": summary.ignored,
                            "class_counts": summary.class_counts, "upscaled": summary.upscaled},
                "kept": self.kept, "skipped": self.skipped, "duplicates": self.duplicates,
                "upscaled": self.upscaled}


def _skip_text(skipped: dict[str, int]) -> str:
    """'skipped 5 (not-an-image 3, too-small 2)', most frequent reason first."""
    total = sum(skipped.values())
    if not total:
        return "skipped 0"
    parts = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    return f"skipped {total} ({', '.join(f'{r} {n}' for r, n in parts)})"


def _empty_reason(summary: PrepareSummary) -> str:
    """Why nothing was kept, for the 'no usable images' error."""
    exts = " ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
    if not summary.skipped:
        return (f"no files with an image extension ({exts}); "
                f"{summary.ignored} other files ignored")
    too_small = summary.skipped.get("too-small", 0)
    if not too_small:
        return _skip_text(summary.skipped)
    largest = summary.largest_too_small
    if too_small == sum(summary.skipped.values()):
        what = (f"all {too_small} are smaller than --min-size {summary.min_size} "
                f"(largest shorter side {largest} px)")
    else:
        what = (f"{_skip_text(summary.skipped)}; the too-small ones have a shorter side of "
                f"at most {largest} px")
    return f"{what}; {_fit_hint(largest)}"


def _fit_hint(largest: int) -> str:
    """What to do about pictures refused by min_size whose shorter sides are <= `largest`:
    upscale them, or prepare at the largest resolution they cover (and that min_size)."""
    hint = "drop --min-size to upscale them"
    if largest < MIN_RES:
        return hint
    fit = min(1 << (largest.bit_length() - 1), MAX_RES)  # largest power of two <= largest
    return f"{hint}, or use --resolution {fit} --min-size {fit} to fit them without upscaling"
