"""The run's log.txt and its jsonl files (stats.jsonl, metrics.jsonl): appended line by line
as training goes, read back forgiving a line a crash left half-written."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm import tqdm

from ..durable import naming
from .layout import LOG_FILE


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
        with naming(self.run_dir / LOG_FILE), open(self.run_dir / LOG_FILE, "a") as f:
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
    with naming(path), open(path, "ab+") as f:       # a full disk names the file
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
