"""Publishing files so that a crash or a power cut leaves the old version or the new one.

The one module that publishes files. `publish(tmp, final)` is the one way a finished temporary
file or folder takes its place: the temporary's bytes are flushed to disk (every file of a
folder), it is renamed onto `final`, and the parent folder is flushed so the rename itself
survives a power cut. `atomic_save(path, write_fn)` is the usual way to get there for one
file: a temporary beside `path`, filled by write_fn, given the umask's permissions, published.
Without the flushes a journaling file system may keep the rename but lose the data written just
before it, which is how a power cut leaves a zero-length "atomically written" file.
"""

from __future__ import annotations

import os
import tempfile
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


def atomic_save(path: str | os.PathLike, write_fn) -> Path:
    """Call write_fn(tmp_path) on a temporary file beside `path`, then publish it onto `path`:
    readers never see a half-written file; a failed write leaves no temporary behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write_fn(tmp)
        os.chmod(tmp, 0o666 & ~_umask())        # mkstemp makes 0600; files are for sharing
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
