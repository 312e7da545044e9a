"""Publishing files so that a crash or a power cut leaves the old version or the new one.

The one module that publishes files. `publish(tmp, final)` is the one way a finished temporary
file or folder takes its place: the temporary's bytes are flushed to disk (every file of a
folder), it is renamed onto `final`, and the parent folder is flushed so the rename itself
survives a power cut. `atomic_save(path, write_fn)` is the usual way to get there for one
file: a temporary beside `path`, filled by write_fn, given the umask's permissions, published.
Whatever goes wrong while writing names the user's path, never a temporary (`naming`): a full
disk is an OSError naming `path` (exit 1), a folder that cannot be written a GanvasError
naming it (exit 2), and the temporary is gone.
Without the flushes a journaling file system may keep the rename but lose the data written just
before it, which is how a power cut leaves a zero-length "atomically written" file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import GanvasError

# What an OSError means for the path it names: one of these is a path the user gave that
# cannot be used (exit 2); any other errno (ENOSPC, EIO, EDQUOT, ...) is the machine's fault.
UNUSABLE_PATH = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EEXIST, errno.ENOTDIR,
                 errno.EISDIR, errno.ENAMETOOLONG}
# Rust libraries (safetensors) report an I/O error as text ending "(os error 28)".
RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


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
    """Flush `tmp` (a file or a folder), give it the umask's permissions (follow_umask),
    rename it onto `final` (os.replace: a file replaces a file atomically), then flush the
    parent folder; returns `final`."""
    final = Path(final)
    follow_umask(tmp)
    fsync_tree(tmp)
    os.replace(tmp, final)
    fsync_path(final.parent)
    return final


def atomic_save(path: str | os.PathLike, write_fn) -> Path:
    """Call write_fn(tmp_path) on a temporary file beside `path`, then publish it onto `path`:
    readers never see a half-written file; a failed write leaves no temporary behind and
    names `path` (see `naming`)."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        with naming(path, tmp):
            write_fn(str(tmp))
            publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_all(files: dict) -> list[Path]:
    """atomic_save for several files that belong together ({path: bytes}): every file is
    written to its temporary first, and only when all are written are they published, so a
    full disk half-way leaves the earlier files (or none) and no temporaries."""
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            path = Path(path)
            temps[path] = temporary_beside(path)
            with naming(path, temps[path]):
                temps[path].write_bytes(data)
        for path, tmp in temps.items():
            with naming(path, tmp):
                publish(tmp, path)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    return list(temps)


@contextlib.contextmanager
def removed_on_failure(folder: str | os.PathLike):
    """A folder that does not exist yet and is filled inside: removed again (with what was
    written into it) when the block fails, so a failed verb leaves no half-filled folder. An
    existing folder is left as it is."""
    folder = Path(folder)
    new = not folder.exists()
    try:
        yield folder
    except BaseException:
        if new:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def temporary_beside(path: Path, suffix: str | None = None) -> Path:
    """A new empty file .STEM.<random>SUFFIX in `path`'s folder (made if missing), for a write
    that is published onto `path`; a folder that cannot hold it is a GanvasError naming
    `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", dir=path.parent,
                                   suffix=path.suffix if suffix is None else suffix)
    except OSError as e:                         # it names the temporary or the folder
        raise user_path_error(e.errno, e.strerror or str(e), path) from e
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def naming(path: str | os.PathLike, *temporaries: str | os.PathLike):
    """Errors raised inside name the user's `path`, not the `temporaries` written on its way:
    an OSError about a temporary (or about no file) is raised again naming `path`, as a
    GanvasError when `path` cannot be used (a read-only folder: UNUSABLE_PATH) and as an
    OSError otherwise (a full disk); a Rust library's I/O error becomes that OSError."""
    try:
        yield
    except OSError as e:
        if e.errno is None or (e.filename is not None and not _within(e.filename, temporaries)):
            raise                                # no system error, or about another file
        raise user_path_error(e.errno, e.strerror or str(e), path) from e
    except Exception as e:
        found = RUST_OS_ERROR.search(str(e))
        if found is None:
            raise
        code = int(found.group(1))
        raise user_path_error(code, os.strerror(code), path) from e


def user_path_error(code: int | None, reason: str, path: str | os.PathLike) -> Exception:
    """The error for failing to write `path`: a GanvasError (exit 2) when the path cannot be
    used, an OSError naming it (exit 1) when the machine failed."""
    if code in UNUSABLE_PATH:
        return GanvasError(f"cannot write {path}: {reason}")
    return OSError(code, reason, str(path))


def _within(name: str | os.PathLike, folders) -> bool:
    """True when `name` is one of `folders` or lies below one."""
    name = Path(name)
    return any(name == Path(f) or Path(f) in name.parents for f in folders)


def follow_umask(path: str | os.PathLike) -> None:
    """Give a file 0666, a folder 0777, less the umask, as open() and mkdir() would: a folder
    with everything in it (mkstemp, mkdtemp and safetensors' writer make 0600 or 0700)."""
    path, mask = Path(path), _umask()
    for p in [*path.rglob("*"), path] if path.is_dir() else [path]:
        if not p.is_symlink():
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
