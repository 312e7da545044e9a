"""The names inside a run folder (runs/00007-dcgan-emoji/) and the numbering of new ones."""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_FILE = "config.json"         # the resolved RunConfig, rewritten by each resume
STATS_FILE = "stats.jsonl"          # one line per tick (and per rollback)
METRICS_FILE = "metrics.jsonl"      # one line per measurement
LOG_FILE = "log.txt"                # the console lines, time-stamped
LOCK_FILE = "lock"                  # held by the one process that writes (lock.RunLock)
SAMPLES_DIR = "samples"             # kimg-NNNNNN.png grids from the fixed latents
CHECKPOINTS_DIR = "checkpoints"     # snapshot folders (snapshots.py)
EVAL_DIR = "eval"                   # `ganvas eval`'s results: kimg-NNNNNN-METRICS.json

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
