"""One run, one writer: a train or resume holds RUN/lock for its whole life.

The lock is an flock on RUN/lock (which holds "PID HOST" of its holder, for the message). The
kernel drops an flock when its process dies however it dies, so a lock file left by a killed
process is stale by construction and simply taken over. Where fcntl is missing (Windows) the
run is not locked.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import GanvasError
from ..durable import _umask, naming
from .layout import LOCK_FILE

try:
    import fcntl
except ImportError:                          # pragma: no cover (Windows)
    fcntl = None


class RunLock:
    """`with RunLock(run_dir):` -- the run is ours inside, or a GanvasError naming the
    process that holds it."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; GanvasError while a live process holds it."""
        if fcntl is None:
            return
        for _ in range(10):       # the file may be replaced between open and flock: retry
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                pid, _, host = holder.partition(" ")
                who = f"process {pid} on {host}" if host else holder
                raise GanvasError(f"{self.path.parent} is in use by {who} (training or "
                                  f"resuming it); wait for it or stop it") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:                 # its holder removed it as we opened it
                os.close(fd)
                continue
            try:
                with naming(self.path):              # a full disk names the lock file
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
                    os.fsync(fd)
            except BaseException:
                self.path.unlink(missing_ok=True)    # while still holding it, as release()
                os.close(fd)
                raise
            self.fd = fd
            return
        raise GanvasError(f"could not lock {self.path}")

    def release(self) -> None:
        """Remove the lock file and drop the lock (nothing when not held)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)       # while still holding it (see acquire)
        finally:
            os.close(self.fd)
            self.fd = None
