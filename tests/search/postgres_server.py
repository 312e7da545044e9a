"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, a Unix socket
there and no TCP port, started with pg_ctl and stopped (immediately) afterwards. As root it
runs as the `postgres` user (initdb refuses root). `start()` returns None and a reason when
the server cannot be started (no PostgreSQL installed), so the tests skip saying why."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

START_TIMEOUT_S = 60
USER = "ganvas"


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's /usr/lib/postgresql/N/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Server:
    def __init__(self, folder: Path, bin_dir: Path, as_user: str | None):
        self.folder, self.bin, self.as_user = folder, bin_dir, as_user
        self.data, self.socket = folder / "data", folder / "socket"

    def command(self, *args: str) -> list[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        return ["runuser", "-u", self.as_user, "--", *cmd] if self.as_user else cmd

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True,
                              timeout=START_TIMEOUT_S)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{USER}@/postgres?host={self.socket}"

    def stop(self) -> None:
        try:
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start() -> tuple[Server | None, str]:
    """A running server, or None and why not."""
    bin_dir = binaries()
    if bin_dir is None:
        return None, "PostgreSQL is not installed (apt-get install postgresql)"
    as_user = None
    folder = Path(tempfile.mkdtemp(prefix="ganvas-pg-"))
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no postgres user to run the server"
        as_user = "postgres"
        os.chown(folder, pw.pw_uid, pw.pw_gid)
    server = Server(folder, bin_dir, as_user)
    server.socket.mkdir()
    if as_user:
        os.chown(server.socket, pw.pw_uid, pw.pw_gid)
    steps = [("initdb", "-D", str(server.data), "-U", USER, "-A", "trust", "--no-sync"),
             ("pg_ctl", "-D", str(server.data), "-l", str(folder / "server.log"), "-w",
              "-t", str(START_TIMEOUT_S), "-o",
              f"-k {server.socket} -c listen_addresses='' -c fsync=off", "start")]
    for step in steps:
        try:
            done = server.run(*step)
        except (OSError, subprocess.TimeoutExpired) as e:
            server.stop()
            return None, f"{step[0]} failed: {e}"
        if done.returncode != 0:
            server.stop()
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"{step[0]} failed: {last}"
    return server, ""
