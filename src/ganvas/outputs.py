"""Checks made before any work: can the output be written where it was asked, under a name
ganvas writes?

A verb that computes for minutes and then fails to write its result wastes the minutes, and
the failure would come as an OSError after the work; these checks turn it into a one-line
GanvasError first. They look only at names and the file system, so they sit low (they import
nothing of ganvas but its errors) and every layer uses the same ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import GanvasError

WALK_FORMATS = (".mp4", ".gif", ".png")
MAX_SCALE = 16


def walk_format(path: str | os.PathLike) -> str:
    """'.mp4', '.gif' or '.png' from the file name of a walk; a GanvasError for anything
    else."""
    ext = Path(path).suffix.lower()
    if ext not in WALK_FORMATS:
        raise GanvasError(f"cannot write {Path(path).name!r}: the output must end in "
                          f"{', '.join(WALK_FORMATS)}, or / (a folder of PNG frames)")
    return ext


def check_audio_output(path: str | os.PathLike) -> None:
    """A GanvasError unless `path` names an MP4 (the one output that carries sound)."""
    if Path(path).suffix.lower() != ".mp4":
        raise GanvasError(f"audio needs an .mp4 output, not {Path(path).name!r}: GIFs and "
                          f"PNG grids have no sound")


def check_png(path: str | os.PathLike) -> None:
    """A GanvasError unless `path` names a PNG (verbs that write one grid)."""
    if Path(path).suffix.lower() != ".png":
        raise GanvasError(f"this writes a PNG grid: the output must end in .png, not "
                          f"{Path(path).name!r}")


def check_npz(path: str | os.PathLike) -> None:
    """A GanvasError unless `path` names an .npz file (latents are saved as one)."""
    if Path(path).suffix.lower() != ".npz":
        raise GanvasError(f"latents are saved as .npz: {Path(path).name!r} does not end in .npz")


def check_scale(scale: int) -> None:
    """A GanvasError unless the enlargement is from 1 to MAX_SCALE."""
    if not 1 <= scale <= MAX_SCALE:
        raise GanvasError(f"scale must be from 1 to {MAX_SCALE}, not {scale}")


def check_grid_out(out: str | os.PathLike | None, scale: int) -> None:
    """Before computing a grid that goes to `out` (None: none is written): a PNG name and a
    scale from 1 to 16, or a GanvasError."""
    if out is not None:
        check_png(out)
        check_out_file(out)
        check_scale(scale)


def check_keyframes_out(path: str | os.PathLike | None) -> None:
    """A GanvasError unless `path` is None or a writable .npz file name."""
    if path is not None:
        check_npz(path)
        check_out_file(path)


def check_out_file(path: str | os.PathLike | None) -> None:
    """Before computing what goes to file `path`: a GanvasError when it is a folder, when a
    folder above it is a file, or when the nearest existing folder above it is not writable
    (what would otherwise fail after the work, as an OSError)."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise GanvasError(f"{path} is a folder; name a file to write")
    check_writable_above(path)


def check_out_folder(path: str | os.PathLike | None) -> None:
    """Before computing what goes into folder `path`: a GanvasError when it exists as a file,
    or when it cannot be made or written (see check_out_file)."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GanvasError(f"{path} exists and is a file; name a folder to write into")
    check_writable_above(path)


def check_new_folder(out: str | os.PathLike, verb: str = "blend") -> None:
    """A folder that is written whole (a blend, an import) goes into a new or empty folder,
    never over anything (BASE, FINE, an earlier blend or export)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanvasError(f"{out} exists and is not a folder; name a new folder to write")
    if out.is_dir() and any(out.iterdir()):
        raise GanvasError(f"{out} exists and is not empty; {verb} into a new or empty folder")


def check_writable_above(path: Path) -> None:
    """The nearest existing folder at or above `path` must be a writable folder."""
    for above in [path, *path.parents] if path.is_dir() else path.parents:
        if above.exists() or above == Path(above.anchor or "."):
            if not above.is_dir():
                raise GanvasError(f"cannot write {path}: {above} is a file, not a folder")
            if not os.access(above, os.W_OK | os.X_OK):
                raise GanvasError(f"cannot write {path}: {above} is not writable")
            return

