"""Read what a run directory holds (config, ticks, rollbacks, metrics, sample grids) into one
plain object for the report, eval and the app, forgiving half-written or missing files."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import checkpoint as ckpt
from ..aspect import SQUARE, describe
from ..errors import ConfigError, GanvasError
from .layout import CONFIG_FILE, EVAL_DIR, LOG_FILE, METRICS_FILE, SAMPLES_DIR, STATS_FILE
from .log import read_jsonl as jsonl_entries
from .snapshots import list_snapshots

# log.txt lines that open a training session (Loop.run's first line).
SESSION_STARTS = ("training ", "already at ")
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.*)$")


@dataclass
class RunData:
    """Everything the report shows, read once. `ticks` is the effective history: ticks that a
    rollback or a resume discarded are dropped, so kimg increases along it."""

    path: Path
    config: dict
    ticks: list[dict] = field(default_factory=list)
    rollbacks: list[dict] = field(default_factory=list)    # {"kimg", "rollback", "lr_scale"}
    metrics: list[dict] = field(default_factory=list)      # metrics.jsonl lines, by kimg
    samples: list[Path] = field(default_factory=list)      # snapshot grids, training order
    snapshot_info: dict = field(default_factory=dict)      # newest model.json ({} if none)
    evals: list[dict] = field(default_factory=list)        # eval/*.json, by kimg, then time
    seconds: float | None = None                           # training wall time, see below

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def preset(self) -> str:
        return self.config.get("train", {}).get("preset") or self.snapshot_info.get("preset", "?")

    @property
    def dataset(self) -> str | None:
        """The DATA argument the run trained on (demo:emoji, an archive or a folder)."""
        return (self.config.get("train", {}).get("data")
                or self.snapshot_info.get("dataset", {}).get("name"))

    @property
    def dataset_hash(self) -> str | None:
        """The sha256 of the dataset's content the newest snapshot recorded (None without
        one): the report shows the training images only from data that still matches it."""
        dataset = self.snapshot_info.get("dataset")
        return dataset.get("sha256") if isinstance(dataset, dict) else None

    @property
    def resolution(self) -> int:
        """The model's resolution (0 in a config means "the dataset's": then model.json's)."""
        res = self.config.get("model", {}).get("resolution") or 0
        return int(res or self.snapshot_info.get("model", {}).get("resolution") or 64)

    @property
    def picture_size(self) -> str:
        """'64x64' or '128x64 (2:1)': the pictures' W x H (model.json's aspect; a config
        or snapshot that records none, or one no model makes, reads as square)."""
        aspect = self.snapshot_info.get("model", {}).get("aspect") or \
            self.config.get("model", {}).get("aspect") or SQUARE
        try:
            return describe(self.resolution, str(aspect))
        except ConfigError:
            return describe(self.resolution, SQUARE)

    @property
    def conditional(self) -> bool:
        return self.config.get("model", {}).get("num_classes", 0) != 0

    @property
    def kimg(self) -> float:
        """The newest kimg reached by a tick (0 before the first one)."""
        return self.ticks[-1]["kimg"] if self.ticks else 0.0

    @property
    def flags(self) -> list[str]:
        """The health flags of the newest tick."""
        return list(self.ticks[-1].get("flags") or []) if self.ticks else []

    def first_flags(self) -> dict[str, float]:
        """Every health flag ever raised on the effective history -> the kimg it first was."""
        first: dict[str, float] = {}
        for t in self.ticks:
            for f in t.get("flags") or []:
                first.setdefault(f, t["kimg"])
        return first


def read_run(run_dir: str | Path) -> RunData:
    """Read a run directory; GanvasError for a missing path or a folder that is no run."""
    path = Path(run_dir)
    if not path.exists():
        raise GanvasError(f"{path} not found")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        raise GanvasError(f"{path} is not a run directory (no readable config.json)") from None
    if not isinstance(config, dict):
        raise GanvasError(f"{path} is not a run directory (config.json is not an object)")
    ticks, rollbacks = effective_history(read_jsonl(path / STATS_FILE))
    snaps = list_snapshots(path)
    info = {}
    if snaps:
        try:
            info = ckpt.read_model_json(snaps[-1])
        except GanvasError:
            info = {}
    metrics = [m for m in read_jsonl(path / METRICS_FILE)
               if isinstance(m.get("kimg"), (int, float)) and isinstance(m.get("metrics"), dict)]
    metrics.sort(key=lambda m: m["kimg"])
    samples = sorted((path / SAMPLES_DIR).glob("kimg-*.png"))   # names sort in training order
    return RunData(path=path, config=config, ticks=ticks, rollbacks=rollbacks, metrics=metrics,
                   samples=samples, snapshot_info=info, seconds=training_seconds(path / LOG_FILE),
                   evals=read_evals(path / EVAL_DIR))


def read_evals(folder: Path) -> list[dict]:
    """`ganvas eval`'s results in RUN/eval/ (each with "file": its name), oldest kimg first
    and, at one kimg, oldest file first; unreadable files and ones without kimg and metrics
    are skipped."""
    found = []
    for f in folder.glob("*.json") if folder.is_dir() else []:
        try:
            entry = json.loads(f.read_text())
            stamp = f.stat().st_mtime
        except (OSError, ValueError):
            continue
        if (isinstance(entry, dict) and isinstance(entry.get("kimg"), (int, float))
                and isinstance(entry.get("metrics"), dict)):
            found.append((entry["kimg"], stamp, f.name, {**entry, "file": f.name}))
    return [e for *_, e in sorted(found, key=lambda t: t[:3])]


def read_jsonl(path: Path) -> list[dict]:
    """log.read_jsonl (unreadable lines skipped, a missing file empty), with non-finite
    numbers (NaN, Infinity) as float('nan') for the plots."""
    return [{k: (math.nan if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in entry.items()} for entry in jsonl_entries(path)]


def effective_history(entries: list[dict]) -> tuple[list[dict], list[dict]]:
    """Split stats.jsonl into ticks and rollback records, keeping only the ticks that led to
    the current state: a rollback to kimg K (or a resume from K, seen as a tick at or before
    an earlier one) discards the ticks after K that were recorded before it."""
    ticks: list[dict] = []
    rollbacks: list[dict] = []
    for e in entries:
        kimg = e.get("kimg")
        if not isinstance(kimg, (int, float)) or math.isnan(kimg):
            continue
        if "rollback" in e:
            rollbacks.append(e)
            ticks = [t for t in ticks if t["kimg"] <= kimg]
            continue
        ticks = [t for t in ticks if t["kimg"] < kimg]
        ticks.append(e)
    return ticks, rollbacks


def training_seconds(log: Path) -> float | None:
    """Wall-clock seconds of training from log.txt: each session runs from its first line to
    its last (a session starts at a "training ..." or "already at ..." line), so pauses
    between a stop and a --resume do not count. None without a readable log."""
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return None
    total, start, last = 0.0, None, None
    for line in lines:
        m = LOG_TIME.match(line)
        if not m:
            continue
        t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
        if m.group(2).startswith(SESSION_STARTS) and start is not None:
            total += last - start
            start = None
        start = t if start is None else start
        last = t
    if start is None:
        return None
    return total + last - start
