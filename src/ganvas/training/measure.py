"""Metrics during training: G_ema measured at snapshots, metrics.jsonl, checkpoints/best.

The same samples (seeds 0..num-1, num generated images) and the same real images (all the
training images, up to MAX_REALS) as `ganvas eval` are used, so the numbers in metrics.jsonl
equal an eval of that snapshot with the same --num and options, and the real images' features
come from the shared reference cache after the first time.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..config.schema import MetricsConfig
from ..data.dataset import ImageBank
from ..latent.sampler import Sampler
from ..metrics.evaluate import (METRICS, bias_note, build_extractors, extractor_plan, measure,
                                parse_feature_weights, real_subset_of)
from ..runfolder.layout import CHECKPOINTS_DIR, METRICS_FILE
from ..runfolder.log import append_jsonl, read_jsonl
from ..runfolder.snapshots import copy_snapshot, existing
from .distributed import SINGLE, World

BEST = "best"          # checkpoints/best: a copy of the best snapshot so far


def interleave(parts: list[np.ndarray], n: int) -> np.ndarray:
    """The n rows that World.shard dealt out (part r: rows r, r + size, ...) back in order."""
    out = np.empty((n, *parts[0].shape[1:]), dtype=parts[0].dtype)
    for rank, part in enumerate(parts):
        out[rank::len(parts)] = part
    return out


class MeasurementStopped(Exception):
    """A stop request (Ctrl-C, SIGTERM) ended a measurement; the snapshot stays."""


def best_key(cfg: MetricsConfig) -> str | None:
    """The result key that picks the best snapshot: --best-metric, else the first metric's
    first ranked key (None when no metrics are measured)."""
    names = cfg.names()
    return cfg.best or (next(iter(METRICS.get(names[0]).better)) if names else None)


class TrainingMetrics:
    """Measures a run's snapshots and keeps the best one.

    Extractors (and so their weight files) are set up at construction, so a missing weight
    file stops the run before it trains, not an hour later.
    """

    def __init__(self, cfg: MetricsConfig, bank: ImageBank, dataset_hash: str,
                 device: torch.device | str = "auto"):
        self.names = cfg.names()
        self.every_kimg = cfg.every_kimg
        self.device = device
        self.plan = extractor_plan(self.names, cfg.extractor)
        self.extractors = build_extractors(self.plan, parse_feature_weights(cfg.feature_weights))
        self.bank, self.dataset_hash, self.num = bank, dataset_hash, cfg.num
        self.reals: tuple[np.ndarray, dict] | None = None       # loaded at the first use
        self.reals_limit: int | None = None      # a fixed subset of the reals (ganvas tune)
        self.best_key = best_key(cfg)
        self.sign = next((METRICS.get(n).better[self.best_key] for n in self.names
                          if self.best_key in METRICS.get(n).better), -1)
        self.best_value: float | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.names)

    def load_best(self, run_dir: Path) -> None:
        """On resume: the best value already in run_dir's metrics.jsonl, if its copy exists."""
        path = run_dir / METRICS_FILE
        if not path.is_file() or existing(run_dir / CHECKPOINTS_DIR / BEST) is None:
            return
        values = [e["metrics"].get(self.best_key) for e in read_jsonl(path)
                  if isinstance(e.get("metrics"), dict)]      # half-written lines are skipped
        values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        self.best_value = max(values, key=lambda v: self.sign * v) if values else None

    def samples(self, G: torch.nn.Module, seeds) -> np.ndarray:
        """uint8 (len(seeds), H, W, C): exactly what `ganvas eval` of the snapshot generates
        for these seeds (the same Sampler.generate, on the training G_ema)."""
        # Random noise inputs would draw from torch's RNG: keep training's stream intact.
        with torch.random.fork_rng():
            return Sampler(G).generate(seeds)

    def fakes(self, G: torch.nn.Module, world: World) -> tuple[np.ndarray | None, dict]:
        """The fakes of seeds 0..num-1 and their extractor outputs, each process generating
        and embedding every size-th seed from its rank; on the main process gathered in seed
        order (the pixels only when a metric reads them), None and {} on the others."""
        num = self.num
        part = self.samples(G, range(num)[world.shard(num)])
        outputs = {name: ex.extract(part, device=self.device)
                   for name, ex in self.extractors.items()}
        pixels = any(METRICS.get(n).needs == "pixels" for n in self.names)
        parts = world.gather((part if pixels else None, outputs))
        if parts is None:
            return None, {}
        fakes = interleave([p[0] for p in parts], num) if pixels else None
        gathered = {name: {key: interleave([p[1][name][key] for p in parts], num)
                           for key in outputs[name]} for name in outputs}
        return fakes, gathered

    def measure(self, G_ema: torch.nn.Module, kimg: float, run_dir: Path,
                snapshot: Path, interruptible=None, world: World = SINGLE) -> dict | None:
        """Measure G_ema (in eval mode), append to run_dir/metrics.jsonl, copy `snapshot` to
        checkpoints/best when it is the best so far; returns the metrics.jsonl entry.
        `interruptible`: a context manager factory inside which a stop request raises
        MeasurementStopped (the computation only: files are never left half-done). With many
        processes all call it and share the fakes; the main one measures and returns the
        entry, the others None."""
        started = time.monotonic()
        with (interruptible or contextlib.nullcontext)():
            if self.reals is None:
                self.reals = real_subset_of(self.bank, self.dataset_hash, self.reals_limit)
            reals, key = self.reals
            fakes, fake_outputs = self.fakes(G_ema, world)
            if not world.main:
                return None
            result = measure(self.names, reals, fakes, self.extractors, self.plan,
                             real_key=key, device=self.device, fake_outputs=fake_outputs)
        scalars = {k: v for k, v in result["metrics"].items() if isinstance(v, (int, float))}
        entry = {"kimg": kimg, "snapshot": str(snapshot.relative_to(run_dir)),
                 "generated": self.num, "reals": len(reals), "metrics": scalars,
                 # by result key (precision and recall both come from "pr"), for the report
                 "extractors": {k: ex for m, ex in self.plan.items()
                                for k in METRICS.get(m).better},
                 "seconds": round(time.monotonic() - started, 2), "time": round(time.time(), 3)}
        note = bias_note(scalars, len(reals))
        if note:
            entry["note"] = note
        value = scalars.get(self.best_key)
        if value is not None and math.isfinite(value) and (
                self.best_value is None or self.sign * value > self.sign * self.best_value):
            self.best_value = value
            copy_snapshot(snapshot, snapshot.parent / BEST)
            entry["best"] = True
        append_jsonl(run_dir / METRICS_FILE, entry)
        return entry
