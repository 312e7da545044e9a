"""Publishing files so that a crash or a power cut leaves the old version or the new one.

`publish(tmp, final)` is the one way a finished temporary file or folder takes its place:
the temporary's bytes are flushed to disk (every file of a folder), it is renamed onto
`final`, and the parent folder is flushed so the rename itself survives a power cut. Without
the flushes a journaling file system may keep the rename but lose the data written just
before it, which is how a power cut leaves a zero-length "atomically written" file.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: str | os.PathLike) -> None:
    """Flush one file's bytes, or one folder's entries, to disk (best effort where the
    platform or file system cannot fsync a folder)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() and hasattr(os, "O_DIRECTORY")
                           else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass                              # e.g. folders on some network file systems
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike) -> None:
    """fsync every file below `path` (or `path` itself if it is a file), then the folders."""
    path = Path(path)
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                fsync_path(child)
    fsync_path(path)


def publish(tmp: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Flush `tmp` (a file or a folder), rename it onto `final` (os.replace: a file replaces
    a file atomically), then flush the parent folder; returns `final`."""
    final = Path(final)
    fsync_tree(tmp)
    os.replace(tmp, final)
    fsync_path(final.parent)
    return final
