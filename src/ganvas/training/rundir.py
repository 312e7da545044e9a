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
    """Console lines that are also appended to log.txt, and jsonl records."""

    def __init__(self, run_dir: Path, echo: bool = True):
        self.run_dir = run_dir
        self.echo = echo

    def info(self, message: str) -> None:
        """Show a line (above any progress bar) and append it to log.txt."""
        if self.echo:
            tqdm.write(message)
        with open(self.run_dir / "log.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def record(self, filename: str, entry: dict) -> None:
        """Append one JSON line to run_dir/filename."""
        with open(self.run_dir / filename, "a") as f:
            f.write(json.dumps(entry) + "\n")
