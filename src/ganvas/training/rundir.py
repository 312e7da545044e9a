"""Run directories (runs/00007-dcgan-emoji/) and what is written into them as training goes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tqdm import tqdm

RUN_RE = re.compile(r"^(\d{5})-")


def new_run_dir(root: str | Path, name: str) -> Path:
    """Create root/NNNNN-name with the next free number (numbers never repeat)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    while True:
        taken = [int(m.group(1)) for p in root.iterdir() if (m := RUN_RE.match(p.name))]
        path = root / f"{max(taken, default=-1) + 1:05d}-{safe}"
        try:
            path.mkdir()
            return path
        except FileExistsError:        # another process took the number: try the next
            continue


class RunLog:
    """Console lines that are also appended to log.txt, and jsonl records; with write=False
    (a process of many other than the main one) it shows and writes nothing."""

    def __init__(self, run_dir: Path, echo: bool = True, write: bool = True):
        self.run_dir = run_dir
        self.echo = echo and write
        self.write = write

    def info(self, message: str) -> None:
        """Show a line (above any progress bar) and append it to log.txt."""
        if not self.write:
            return
        if self.echo:
            tqdm.write(message)
        with open(self.run_dir / "log.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def record(self, filename: str, entry: dict) -> None:
        """Append one JSON line to run_dir/filename."""
        if not self.write:
            return
        append_jsonl(self.run_dir / filename, entry)


def append_jsonl(path: Path, entry: dict) -> None:
    """Append `entry` as one JSON line; after a half-written last line (a crash mid-append)
    a newline first, so the new line stays whole and only the broken one is skipped."""
    line = (json.dumps(entry) + "\n").encode()
    with open(path, "ab+") as f:
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                line = b"\n" + line
        f.write(line)


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a .jsonl file, skipping unreadable lines (a crash mid-append);
    a missing file is empty."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out
