"""A walk as a folder of PNG frames, frame00000.png, frame00001.png, ...: the frames of the
MP4 or GIF the same walk makes, for editors and tools that take image sequences.

The folder is written whole or not at all: the frames go into a hidden folder beside it,
which is published onto it (durable.publish) once the last frame is written, so a failure
or a kill leaves no half sequence. It must be new or empty, as a blend's or an import's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..durable import _umask, publish
from ..imaging import enlarged, to_pil
from ..outputs import check_new_folder, check_scale, check_writable_above
from .animate import Walk

FRAME_DIGITS = 5            # frame00000.png; longer walks get as many digits as they need


def is_frames_folder(out: str | os.PathLike) -> bool:
    """Whether a walk's `out` names a folder of frames: a name that ends in a slash, or an
    existing folder."""
    text = os.fspath(out)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def check_frames_folder(out: str | os.PathLike, scale: int) -> None:
    """Before any frame is rendered: a GanvasError unless `out` can become the folder of
    frames (new or empty, somewhere writable) and the scale is one ganvas writes."""
    check_scale(scale)
    check_new_folder(out, "write the frames")
    check_writable_above(Path(out))


def frame_name(index: int, count: int) -> str:
    """The file of frame `index` of `count`: frame00003.png (names sort in frame order)."""
    width = max(FRAME_DIGITS, len(str(max(count - 1, 0))))
    return f"frame{index:0{width}d}.png"


def write_frames(chunks: Iterable[np.ndarray], count: int, folder: str | os.PathLike,
                 scale: int = 1) -> Path:
    """uint8 (n, H, W, C) chunks of `count` frames in order -> one PNG per frame in `folder`
    (frame_name), enlarged `scale` times with nearest neighbour; published whole."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-frames-", dir=folder.parent))
    try:
        index = 0
        for chunk in chunks:
            for frame in chunk:
                enlarged(to_pil(frame), scale).save(tmp / frame_name(index, count), "PNG")
                index += 1
        os.chmod(tmp, 0o777 & ~_umask())                 # mkdtemp makes 0700
        if folder.is_dir():
            folder.rmdir()                               # the empty folder asked for
        publish(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def write_walk_frames(walk: Walk, folder: str | os.PathLike, scale: int = 1,
                      progress: bool = True) -> Path:
    """Every frame of `walk` (the animation's, not a storyboard's) as a PNG in `folder`."""
    return write_frames(walk.chunks(progress), len(walk), folder, scale)
