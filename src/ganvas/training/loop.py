"""The training loop: step, then "is a tick / snapshot due? should we stop?", until done.

`start(cfg, out)` creates a numbered run directory; `resume(run_dir)` continues one from its
newest complete snapshot. Both return the run directory.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..config import FROM_DATA, RunConfig
from ..data.dataset import ImageBank, load_archive, resolve_dataset
from ..errors import GanvasError
from ..imaging import save_png
from ..report import write_report
from ..report.tensorboard import TensorBoardLog
from . import finetune
from .health import HINTS, Health, probe
from .measure import MeasurementStopped, TrainingMetrics
from .rundir import RunLog, new_run_dir
from .runlock import RunLock
from .samples import SampleGrid
from ..device import pick_device
from .trainer import Trainer


def dataset_name(spec: str) -> str:
    """'demo:emoji' -> 'emoji'; '/data/frogs.zip' -> 'frogs'; '/data/frogs/' -> 'frogs'."""
    return spec.split(":", 1)[1] if spec.startswith("demo:") else Path(spec.rstrip("/")).stem


def open_data(cfg: RunConfig) -> tuple[RunConfig, ImageBank, dict]:
    """Load the run's dataset; return `cfg` with the model's channels and classes from it (a
    new value, checked against the data), the batch server and the dataset facts stored in
    model.json. Writes only the dataset caches (an image folder's prepared archive)."""
    conditional = cfg.model.num_classes != 0
    path = resolve_dataset(cfg.train.data, resolution=cfg.model.resolution,
                           labels="folders" if conditional else "none")
    archive = load_archive(path)
    cfg = with_data(cfg, archive)
    bank = ImageBank(archive, resolution=cfg.model.resolution, mirror=cfg.train.mirror)
    info = {"name": cfg.train.data, "num_images": len(archive), "resolution": archive.resolution,
            "channels": archive.channels, "class_names": archive.class_names,
            "sha256": archive.content_hash, "upscaled": int(archive.meta.get("upscaled", 0))}
    return cfg, bank, info


def with_data(cfg: RunConfig, archive) -> RunConfig:
    """`cfg` with channels and num_classes taken from `archive` and `--aug auto` settled by
    its size, or a GanvasError for what only the data can tell: a conditional model without
    labels, another class count."""
    m = cfg.model
    classes = len(archive.class_names) if archive.labels is not None else 0
    if m.num_classes != 0 and classes == 0:
        raise GanvasError(f"model {cfg.train.preset} is conditional but {cfg.train.data} has no "
                          f"class labels: prepare it with --labels folders (a sub-folder "
                          f"per class)")
    if m.num_classes not in (0, FROM_DATA, classes):
        raise GanvasError(f"the model has {m.num_classes} classes but "
                          f"{cfg.train.data} has {classes}")
    model = replace(m, channels=archive.channels,
                    num_classes=classes if m.num_classes == FROM_DATA else m.num_classes)
    model.validate()
    augment = cfg.augment.settled(len(archive))
    augment.validate()
    return replace(cfg, model=model, augment=augment)


def start(cfg: RunConfig, out: str | Path = "runs", progress: bool = True) -> Path:
    """Train a new run under `out` (from scratch, or fine-tuned from cfg.train.init_from);
    returns its run directory. Every option is checked before the data is opened, what the
    data decides right after, and only then is the run directory made."""
    cfg = cfg.resolved()
    cfg.validate()
    source = None
    if cfg.train.init_from:
        source, info = finetune.source_folder(cfg.train.init_from)
    cfg, bank, data_info = open_data(cfg)
    if source is not None:
        finetune.check_compatible(cfg.model, info["model"], cfg.train.init_from)
    trainer = make_trainer(cfg, bank)
    if source is not None:
        finetune.load_weights(trainer, source)
    # Extractors (and their weight files) now: a missing file stops the run before a folder.
    metrics = training_metrics(cfg, bank, data_info, trainer.device)
    run_dir = new_run_dir(out, f"{cfg.train.preset}-{dataset_name(cfg.train.data)}")
    with RunLock(run_dir):
        ckpt.write_json(run_dir / "config.json", trainer.cfg.to_dict())
        return Loop(trainer, run_dir, data_info, metrics, progress).run()


def resume(run_dir: str | Path, kimg: float | None = None, minutes: float | None = None,
           progress: bool = True) -> Path:
    """Continue `run_dir` from its newest complete snapshot, to a new --kimg total or for
    --minutes more (else to the run's original length)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise GanvasError(f"{run_dir} is not a run directory (no readable config.json)")
    with RunLock(run_dir):
        cfg = read_config(run_dir)
        if kimg is not None or minutes is not None:
            cfg = replace(cfg, train=replace(cfg.train, kimg=kimg, minutes=minutes))
        cfg = cfg.resolved()
        cfg.validate()
        ckpt.check_bounds(cfg.model, run_dir / "config.json")   # before building a model
        ckpt.remove_stale_temporaries(run_dir)
        if not ckpt.list_snapshots(run_dir):
            raise GanvasError(f"{run_dir} has no complete snapshot to resume from")
        cfg, bank, data_info = open_data(cfg)
        trainer = make_trainer(cfg, bank)
        restore_newest(trainer, run_dir, data_info, echo=progress)
        metrics = training_metrics(cfg, bank, data_info, trainer.device)
        metrics.load_best(run_dir)
        ckpt.write_json(run_dir / "config.json", trainer.cfg.to_dict())
        return Loop(trainer, run_dir, data_info, metrics, progress).run()


def read_config(run_dir: Path) -> RunConfig:
    """RUN/config.json as a RunConfig, or a one-line GanvasError."""
    path = run_dir / "config.json"
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise GanvasError(f"{run_dir} is not a run directory (no readable config.json)") from None
    if not isinstance(values, dict):
        raise GanvasError(f"{path} is not a run configuration (not a JSON object)")
    try:
        return RunConfig.from_dict(values)
    except GanvasError as e:
        raise GanvasError(f"{path}: {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise GanvasError(f"{path} is not a valid run configuration ({e})") from None


def restore_newest(trainer: Trainer, run_dir: Path, data_info: dict, echo: bool = True) -> Path:
    """Restore the newest snapshot of run_dir that loads and passes its checks; each newer
    one skipped is said on the console with the reason. A changed dataset is an error."""
    log = RunLog(run_dir, echo=echo)
    skipped = []
    for folder in reversed(ckpt.list_snapshots(run_dir)):
        try:
            info = ckpt.read_model_json(folder)
            if info.get("dataset", {}).get("sha256") != data_info["sha256"]:
                raise DatasetChanged(f"the dataset {trainer.cfg.train.data} has changed since "
                                     f"this run started")
            state = read_snapshot(folder, like=trainer)
            try:
                trainer.restore(state)
            except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
                raise GanvasError(f"{folder / 'trainer.pt'} does not fit this run "
                                  f"({type(e).__name__}: {str(e)[:80]})") from None
        except DatasetChanged:
            raise
        except GanvasError as e:
            log.info(f"skipping snapshot {folder.name}: {e}")
            skipped.append(folder.name)
            continue
        if skipped:
            log.info(f"resuming from {folder.name}, the newest snapshot that loads")
        return folder
    raise GanvasError(f"{run_dir} has no snapshot that loads (skipped {', '.join(skipped)})")


class DatasetChanged(GanvasError):
    """The run's data is not what its snapshots were trained on."""


def read_snapshot(folder: Path, like: Trainer | None = None) -> dict:
    """A snapshot's G, G_ema, D and trainer state, in the layout of Trainer.capture(); given
    `like`, the weight files' names and shapes are checked against its modules first. A
    bad file is a GanvasError naming it."""
    state = {name: ckpt.read_weights(folder / f"{name}.safetensors",
                                     like=getattr(like, name, None))
             for name in ("G", "G_ema", "D")}
    path = folder / "trainer.pt"
    try:
        state["trainer"] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:                  # noqa: BLE001 (garbage bytes raise anything)
        raise GanvasError(f"{path} is not a readable trainer state "
                          f"({type(e).__name__})") from None
    if not isinstance(state["trainer"], dict) or "images_seen" not in state["trainer"]:
        raise GanvasError(f"{path} is not a trainer state")
    return state


def training_metrics(cfg: RunConfig, bank: ImageBank, data_info: dict,
                     device: torch.device) -> TrainingMetrics:
    """The run's metrics; their feature passes run on the training device."""
    return TrainingMetrics(cfg.metrics, bank, data_info["sha256"], device)


def make_trainer(cfg: RunConfig, bank: ImageBank) -> Trainer:
    """The Trainer, with a clear error for a FreezeD depth D does not have."""
    trainer = Trainer(cfg, bank, pick_device(cfg.train.device))
    blocks = len(trainer.D.blocks)
    if cfg.train.freeze_d > blocks:
        raise GanvasError(f"--freeze-d {cfg.train.freeze_d}: D has only {blocks} blocks")
    return trainer


class StopFlag:
    """Whether Ctrl-C or SIGTERM came (call it); inside `interruptible()` a request also
    raises MeasurementStopped at once, so a long measurement ends within seconds."""

    def __init__(self):
        self.flag = threading.Event()
        self.raising = False

    def __call__(self) -> bool:
        return self.flag.is_set()

    def handler(self, signum, frame) -> None:
        self.flag.set()
        if self.raising:
            self.raising = False                # once: the clean-up must not be interrupted
            raise MeasurementStopped

    @contextmanager
    def interruptible(self):
        if self.flag.is_set():
            raise MeasurementStopped
        self.raising = True
        try:
            yield
        finally:
            self.raising = False


@contextmanager
def stop_requests():
    """While inside, Ctrl-C and SIGTERM set a flag (checked between steps) instead of killing
    the process in the middle of an update; yields a StopFlag (call it: did one come?)."""
    stop = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {s: signal.signal(s, stop.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Loop:
    """Drives a Trainer and writes the run directory: stats, grids, snapshots, log."""

    def __init__(self, trainer: Trainer, run_dir: Path, data_info: dict,
                 metrics: TrainingMetrics, progress: bool):
        self.trainer, self.run_dir, self.data_info = trainer, run_dir, data_info
        self.t = trainer.cfg.train
        self.log = RunLog(run_dir, echo=progress)
        # A resumed run drops TensorBoard events after its snapshot (they were never kept).
        self.tb = TensorBoardLog(run_dir, purge_kimg=trainer.images_seen / 1000 or None)
        self.progress = progress
        m = trainer.cfg.model
        self.grid = SampleGrid(m, self.t.grid_size)
        self.health = Health(*probe(trainer.bank, m.z_dim, m.num_classes))
        self.warned: set[str] = set()
        # The last good state: the start (a CPU copy), then the newest snapshot folder.
        self.good: dict | Path = trainer.capture()
        self.rollbacks = 0
        self.metrics = metrics
        (run_dir / "samples").mkdir(exist_ok=True)

    def run(self) -> Path:
        tr, t = self.trainer, self.t
        target = None if t.kimg is None else round(t.kimg * 1000)
        deadline = None if t.minutes is None else time.monotonic() + t.minutes * 60
        if target is not None and tr.images_seen >= target:
            self.log.info(f"already at {tr.images_seen / 1000:.3f} kimg; nothing to do")
            return self.run_dir
        why = tr.cfg.train.preset_chosen_by
        self.log.info(f"training {tr.cfg.train.preset} ({tr.cfg.model.family}"
                      f"{'; ' + why if why else ''}) "
                      f"{tr.cfg.model.resolution}px on {self.data_info['name']} "
                      f"({self.data_info['num_images']} images) on {tr.device}; "
                      f"run directory {self.run_dir}")
        self.log.info(tr.cfg.augment.console_line())
        self.log.info(tr.cfg.train.precision_line())
        if self.data_info.get("upscaled"):
            res = tr.cfg.model.resolution
            self.log.info(f"warning: {self.data_info['upscaled']} of the images were smaller "
                          f"than {res} px and are upscaled (`ganvas prepare --min-size {res}` "
                          f"skips them instead)")
        try:
            interrupted = self.train(target, deadline)
        finally:                    # a diverged or interrupted run still gets its report
            self.tb.close()
            self.report()
        self.log.info(f"stopped at {tr.images_seen / 1000:.3f} kimg"
                      + (" (interrupted)" if interrupted else ""))
        return self.run_dir

    def train(self, target: int | None, deadline: float | None) -> bool:
        """Train until `target` images or the monotonic `deadline` or a stop request; returns
        whether a stop (Ctrl-C, SIGTERM) was requested."""
        tr, t = self.trainer, self.t
        last_snap = tr.images_seen
        next_snap = self.next_multiple(t.snap_kimg)
        next_metrics = self.next_metrics()
        next_tick = self.next_multiple(t.tick_kimg)
        tick = TickStats(tr.images_seen)
        bar = self.progress_bar(target, t.minutes)
        with stop_requests() as stop_requested:
            def finished() -> bool:
                return ((target is not None and tr.images_seen >= target)
                        or (deadline is not None and time.monotonic() >= deadline)
                        or stop_requested())

            while True:
                tick.add(tr.train_step(), tr.images_seen)
                done = finished()
                self.update_bar(bar, tick, deadline)
                if tr.images_seen >= next_tick or tr.images_seen >= next_snap or done:
                    if not self.end_tick(tick.close(tr)):
                        self.roll_back()           # to last_snap's state, lower learning rates
                        done = finished()
                    tick = TickStats(tr.images_seen)
                    next_tick = self.next_multiple(t.tick_kimg)
                metrics_due = self.metrics.enabled and (tr.images_seen >= next_metrics or done)
                if (tr.images_seen >= next_snap or metrics_due
                        or (done and tr.images_seen != last_snap)):
                    folder = self.snapshot()
                    last_snap = tr.images_seen
                    next_snap = self.next_multiple(t.snap_kimg)
                    if metrics_due or (self.metrics.enabled and not self.metrics.every_kimg):
                        self.measure(folder, stop_requested)
                        next_metrics = self.next_metrics()
                        done = done or finished()
                if done:
                    break
            bar.close()
            assert last_snap == tr.images_seen
            return stop_requested()

    def report(self) -> None:
        """report.html at the end of training; a failure here never fails the run."""
        try:
            self.log.info(f"report {write_report(self.run_dir).relative_to(self.run_dir)}")
        except Exception as e:                  # noqa: BLE001 (the run itself succeeded)
            self.log.info(f"report not written: {type(e).__name__}: {e}")

    def end_tick(self, entry: dict) -> bool:
        """Check the tick's health, record it in stats.jsonl, warn about new flags; False when
        the losses or weights are no longer finite."""
        tr = self.trainer
        flags = self.health.check(entry, tr.G)
        if "nonfinite" not in flags and not tr.finite():
            flags = ["nonfinite"]
        entry["flags"] = flags
        self.log.record("stats.jsonl", entry)
        self.tb.scalars(entry["kimg"], entry)
        for flag in sorted(set(flags) - self.warned):      # once per flag and process
            self.log.info(f"warning at {entry['kimg']:.3f} kimg: {flag}: {HINTS[flag]} "
                          f"(later ticks: 'flags' in stats.jsonl)")
            self.warned.add(flag)
        return "nonfinite" not in flags

    def roll_back(self) -> None:
        """Back to the last good state with halved learning rates, or a clear stop."""
        tr = self.trainer
        self.rollbacks += 1
        good = read_snapshot(self.good) if isinstance(self.good, Path) else self.good
        good_kimg = int(good["trainer"]["images_seen"]) / 1000
        if self.rollbacks > self.t.max_rollbacks:
            raise GanvasError(f"training diverged (NaN/Inf) {self.rollbacks} times; stopped. "
                              f"The last good snapshot is at {good_kimg:.3f} kimg in "
                              f"{self.run_dir}; try lower --lr-g/--lr-d or --loss hinge")
        lr_scale = tr.lr_scale
        tr.restore(good)
        self.tb.rewind(good_kimg)
        tr.lr_scale = lr_scale                 # the lowered rates survive the rollback
        tr.scale_learning_rates(0.5)
        self.health.reset()
        self.log.info(f"rolled back to {good_kimg:.3f} kimg with learning rates x"
                      f"{tr.lr_scale:g} (rollback {self.rollbacks} of {self.t.max_rollbacks})")
        self.log.record("stats.jsonl", {"kimg": good_kimg, "rollback": self.rollbacks,
                                        "lr_scale": tr.lr_scale, "time": round(time.time(), 3)})

    def next_metrics(self) -> float:
        """When metrics are next due, in images (every snapshot: never on their own)."""
        if not self.metrics.enabled or not self.metrics.every_kimg:
            return math.inf
        return self.next_multiple(self.metrics.every_kimg)

    def measure(self, snapshot: Path, stop: StopFlag | None = None) -> None:
        """Measure the snapshot just written; a stop request ends the measurement at once
        (the snapshot is kept, the measurement is not recorded)."""
        tr = self.trainer
        try:
            entry = self.metrics.measure(tr.G_ema, tr.images_seen / 1000, self.run_dir,
                                         snapshot, interruptible=stop and stop.interruptible)
        except MeasurementStopped:
            self.log.info(f"metrics at {tr.images_seen / 1000:.3f} kimg stopped by the stop "
                          f"request (snapshot {snapshot.name} is kept)")
            return
        self.tb.metrics(entry)
        shown = "  ".join(f"{k} {v:.4g}" for k, v in entry["metrics"].items())
        self.log.info(f"metrics at {entry['kimg']:.3f} kimg: {shown} ({entry['seconds']:.0f} s)"
                      + ("  new best" if entry.get("best") else ""))

    def next_multiple(self, every_kimg: float) -> int:
        """The first multiple of every_kimg (in images) after the images seen so far."""
        every = max(1, round(every_kimg * 1000))
        return (self.trainer.images_seen // every + 1) * every

    def snapshot(self) -> Path:
        """Sample grid from the fixed latents, then an atomic checkpoint; prune old ones. Only
        called after a tick found the weights finite, so no snapshot holds a NaN."""
        tr = self.trainer
        name = ckpt.snapshot_name(tr.images_seen)
        grid_image = self.grid.render(tr.prepare_ema_for_sampling())
        grid = save_png(grid_image, self.run_dir / "samples" / f"{name}.png",
                        scale=max(1, 64 // tr.cfg.model.resolution))
        self.tb.image("samples", grid_image, tr.images_seen / 1000)
        self.tb.flush()
        info = ckpt.model_info(tr.cfg.model, tr.images_seen, self.data_info, self.t.preset)
        folder = ckpt.write_snapshot(self.run_dir / "checkpoints" / name,
                                     {"G": tr.G, "G_ema": tr.G_ema, "D": tr.D}, info,
                                     trainer=tr.state_dict())
        ckpt.prune_snapshots(self.run_dir, self.t.keep_snapshots)
        self.good = folder
        self.log.info(f"snapshot {folder.relative_to(self.run_dir)}  "
                      f"grid {grid.relative_to(self.run_dir)}")
        return folder

    def progress_bar(self, target: int | None, minutes: float | None) -> tqdm:
        # A log file (no terminal) gets a line every 30 s instead of ten redraws a second.
        every = 0.2 if sys.stderr.isatty() else 30.0
        if target is not None:
            return tqdm(total=target / 1000, initial=self.trainer.images_seen / 1000,
                        unit="kimg", disable=not self.progress, dynamic_ncols=True,
                        mininterval=every,
                        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg "
                                   "[{elapsed}<{remaining}{postfix}]")
        return tqdm(total=round(minutes * 60), unit="s", disable=not self.progress,
                    dynamic_ncols=True, mininterval=every,
                    bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}{postfix}]")

    def update_bar(self, bar: tqdm, tick: "TickStats", deadline: float | None) -> None:
        if bar.disable:
            return
        tr = self.trainer
        if deadline is None:
            bar.update(min(tr.images_seen / 1000, bar.total) - bar.n)
        else:
            bar.update(bar.total - max(0.0, deadline - time.monotonic()) - bar.n)
        bar.set_postfix_str(f"{tr.images_seen / 1000:.2f} kimg, {tick.rate():.0f} img/s",
                            refresh=False)


class TickStats:
    """Sums a tick's step statistics (as tensors, so no device sync per step)."""

    def __init__(self, images_seen: int):
        self.start_images = self.images_seen = images_seen
        self.start_time = time.monotonic()
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0

    def add(self, stats: dict[str, torch.Tensor], images_seen: int) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0) + v
        self.steps += 1
        self.images_seen = images_seen

    def rate(self) -> float:
        """Images per second since the tick began."""
        dt = max(time.monotonic() - self.start_time, 1e-9)
        return (self.images_seen - self.start_images) / dt

    def close(self, tr: Trainer) -> dict:
        """The stats.jsonl entry for this tick: means of the step statistics and speed."""
        images = tr.images_seen - self.start_images
        dt = max(time.monotonic() - self.start_time, 1e-9)
        means = {k: round(float(v) / max(self.steps, 1), 6) for k, v in self.sums.items()}
        return {"kimg": tr.images_seen / 1000, "step": tr.step, **means,
                "img_per_s": round(images / dt, 2),
                "sec_per_kimg": round(dt * 1000 / max(images, 1), 3),
                "instance_noise": round(tr.noise_sigma(), 6), "lr_scale": tr.lr_scale,
                "time": round(time.time(), 3)}
