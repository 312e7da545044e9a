"""The training loop: step, then "is a tick / snapshot due? should we stop?", until done.

`Loop(trainer, run_dir, ...).run()` drives a Trainer and writes the run directory;
training/runs.py starts and resumes runs around it.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..aspect import describe
from ..errors import GanvasError
from ..imaging import save_png
from ..metrics.evaluate import counts
from ..report import write_report
from ..report.tensorboard import TensorBoardLog
from ..runfolder import snapshots
from ..runfolder.hints import HINTS
from ..runfolder.layout import CHECKPOINTS_DIR, SAMPLES_DIR, STATS_FILE
from ..runfolder.log import RunLog
from .console import Cadence, RunClock, tick_line
from .health import Health, probe
from .measure import MeasurementStopped, TrainingMetrics
from .samples import SampleGrid
from .trainer import Trainer


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


# A tick ends at every --tick-kimg, or after this many seconds when the model is slower than
# that (a 2-core CPU training StyleGAN2: 8 img/s, a kimg in two minutes).
TICK_MAX_SECONDS = 30.0


def interval_images(every_kimg: float) -> int:
    """An interval in kimg (ticks, snapshots, metrics) in the whole images the loop counts:
    its events come at the first multiple of it reached."""
    return max(1, round(every_kimg * 1000))


class Watch:
    """What a caller of runs.start sees of a run while it trains (ganvas tune): each
    measurement, with the power to end the run there, and whether a stop request ended it."""

    interrupted = False
    run_dir: Path | None = None           # set as the run starts
    # Measurements compare with a fixed subset of this many training images (ganvas tune's
    # cheap per-snapshot objective); None: all of them, as `ganvas eval` does.
    reals_limit: int | None = None

    def trained(self, images_seen: int) -> None:
        """After each training step, the images seen so far (ganvas tune's progress bar)."""

    def measured(self, entry: dict) -> bool:
        """A metrics.jsonl entry was just written; True ends the run after this snapshot."""
        return False


class Loop:
    """Drives a Trainer and writes the run directory: stats, grids, snapshots, log."""

    def __init__(self, trainer: Trainer, run_dir: Path, data_info: dict,
                 metrics: TrainingMetrics, progress: bool, watch: Watch | None = None,
                 notes: list[str] | tuple = ()):
        self.watch = watch or Watch()
        self.watch.run_dir = run_dir
        self.trainer, self.run_dir, self.data_info = trainer, run_dir, data_info
        self.notes = notes             # lines said after the start's (fine-tuning)
        self.t = trainer.cfg.train
        self.world = world = trainer.world
        # The main process alone writes files and prints; the others take every decision
        # with it (the same statistics, checks and stops), so all run the same steps.
        self.log = RunLog(run_dir, echo=progress, write=world.main)
        # A resumed run drops TensorBoard events after its snapshot (they were never kept).
        self.tb = TensorBoardLog(run_dir, purge_kimg=trainer.images_seen / 1000 or None,
                                 write=world.main)
        self.progress = progress and world.main
        m = trainer.cfg.model
        self.grid = SampleGrid(m, self.t.grid_size)
        self.health = Health(*probe(trainer.bank, m.z_dim, m.num_classes),
                             warmup_kimg=self.t.health_warmup_kimg)
        self.warned: set[str] = set()
        # The last good state: the start (a CPU copy), then the newest snapshot folder.
        self.good: dict | Path = trainer.capture()
        self.rollbacks = 0
        self.ticks = 0                      # ticks this session (the tick line's number)
        self.metrics = metrics
        metrics.reals_limit = self.watch.reals_limit
        self.said_bias = False              # the small-sample note, once a run
        if world.main:
            (run_dir / SAMPLES_DIR).mkdir(exist_ok=True)

    def run(self) -> Path:
        tr, t = self.trainer, self.t
        target = t.target_images()
        deadline = None if t.minutes is None else time.monotonic() + t.minutes * 60
        if target is not None and tr.images_seen >= target:
            self.log.info(f"already at {tr.images_seen / 1000:.3f} kimg; nothing to do")
            return self.run_dir
        why = tr.cfg.train.preset_chosen_by
        self.log.info(f"training {tr.cfg.train.preset} ({tr.cfg.model.family}"
                      f"{'; ' + why if why else ''}) "
                      f"{describe(tr.cfg.model.resolution, tr.cfg.model.aspect)} px on "
                      f"{self.data_info['name']} "
                      f"({self.data_info['num_images']} images) on {self.where()}; "
                      f"run directory {self.run_dir}")
        self.log.info(tr.cfg.augment.console_line())
        self.log.info(tr.cfg.train.precision_line())
        if tr.device.type == "cpu" and tr.cfg.train.threads_line():
            self.log.info(tr.cfg.train.threads_line())
        for note in self.notes:
            self.log.info(note)
        if self.data_info.get("upscaled"):
            res = tr.cfg.model.resolution
            self.log.info(f"warning: {self.data_info['upscaled']} of the images were smaller "
                          f"than {res} px and are upscaled (`ganvas prepare --min-size {res}` "
                          f"skips them instead)")
        try:
            interrupted = self.train(target, deadline)
        finally:                    # a diverged or interrupted run still gets its report
            self.tb.close()
            if self.world.main:
                self.report()
        self.log.info(f"stopped at {tr.images_seen / 1000:.3f} kimg"
                      + (" (interrupted)" if interrupted else ""))
        ratio = self.health.still_near_copies()
        if ratio is not None:
            why = ("mode collapse was flagged above" if "mode_collapse" in self.warned
                   else "an early run looks like this")
            self.log.info(f"note: the samples are still near copies of each other (diversity "
                          f"{ratio:.2f} of the reals'; healthy runs pass 0.25 after a few "
                          f"kimg; {why}): look at the newest grid; to train longer: ganvas "
                          f"train --resume {self.run_dir} --minutes N")
        return self.run_dir

    def where(self) -> str:
        """The device, or the processes and their device type."""
        tr = self.trainer
        if not self.world.distributed:
            return str(tr.device)
        return (f"{self.world.size} processes ({tr.device.type}, batch {tr.local_batch} "
                f"each)")

    def train(self, target: int | None, deadline: float | None) -> bool:
        """Train until `target` images or the monotonic `deadline` or a stop request; returns
        whether a stop (Ctrl-C, SIGTERM) was requested."""
        tr, t = self.trainer, self.t
        last_snap = tr.images_seen
        next_snap = self.next_multiple(t.snap_kimg)
        next_metrics = self.next_metrics()
        next_tick = self.next_multiple(t.tick_kimg)
        tick = TickStats(tr.images_seen)
        clock = self.clock = RunClock(tr.images_seen, target, t.minutes)
        # By wall time: the console's tick line, grids between snapshots, snapshots.
        lines = Cadence(t.print_seconds, 1 / 30, clock.start, always=True)
        grids = Cadence(t.grid_minutes * 60, 0.5, clock.start)
        snaps = Cadence(t.snap_minutes * 60, 0.0, clock.start)
        with self.progress_bar(clock) as bar, stop_requests() as stop_requested:
            def ending() -> bool:
                return ((target is not None and tr.images_seen >= target)
                        or (deadline is not None and time.monotonic() >= deadline)
                        or stop_requested())

            def finished() -> bool:                  # decided by all processes together
                return self.world.any(ending())

            while True:
                tick.add(tr.train_step(), tr.images_seen)
                # Decided by all processes together: the end, and a tick ended by time (a
                # slow model still gets a line and a health check every TICK_MAX_SECONDS).
                done, long_tick = self.world.any_each(ending(), tick.seconds() >= TICK_MAX_SECONDS)
                self.update_bar(bar, tick)
                self.watch.trained(tr.images_seen)
                snap_by_time = grid_by_time = False
                if (tr.images_seen >= next_tick or tr.images_seen >= next_snap or done
                        or long_tick):
                    entry = tick.close(tr)
                    if not self.end_tick(entry):
                        self.roll_back()           # to last_snap's state, lower learning rates
                        done = finished()
                    else:
                        self.ticks += 1
                        now = time.monotonic()
                        if done or lines.due(now) or self.ticks == 1:
                            self.log.info(tick_line(entry, self.ticks, clock))
                            lines.done(now)
                        # Decided by all processes together, once a tick.
                        snap_by_time, grid_by_time = self.world.any_each(snaps.due(now),
                                                                         grids.due(now))
                    tick = TickStats(tr.images_seen)
                    next_tick = self.next_multiple(t.tick_kimg)
                metrics_due = self.metrics.enabled and (tr.images_seen >= next_metrics or done)
                if (tr.images_seen >= next_snap or metrics_due or snap_by_time
                        or (done and tr.images_seen != last_snap)):
                    folder = self.snapshot()
                    last_snap = tr.images_seen
                    next_snap = self.next_multiple(t.snap_kimg)
                    snaps.done(time.monotonic())
                    grids.done(time.monotonic())
                    if metrics_due or (self.metrics.enabled and not self.metrics.every_kimg):
                        entry = self.measure(folder,
                                             None if self.world.distributed else stop_requested)
                        next_metrics = self.next_metrics()
                        ended = entry is not None and self.watch.measured(entry)
                        done = done or self.world.any(ended) or finished()
                elif grid_by_time:
                    self.grid_only()
                    grids.done(time.monotonic())
                if done:
                    break
            assert last_snap == tr.images_seen
            self.watch.interrupted = self.world.any(stop_requested())
            return self.watch.interrupted

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
        if self.world.any("nonfinite" in flags or not tr.finite()):
            flags = ["nonfinite"]
        entry["flags"] = flags
        self.log.record(STATS_FILE, entry)
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
        good = (self.world.from_main(lambda: snapshots.read_snapshot(self.good))
                if isinstance(self.good, Path) else self.good)
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
        self.log.record(STATS_FILE, {"kimg": good_kimg, "rollback": self.rollbacks,
                                        "lr_scale": tr.lr_scale, "time": round(time.time(), 3)})

    def next_metrics(self) -> float:
        """When metrics are next due, in images (every snapshot: never on their own)."""
        if not self.metrics.enabled or not self.metrics.every_kimg:
            return math.inf
        return self.next_multiple(self.metrics.every_kimg)

    def measure(self, snapshot: Path, stop: StopFlag | None = None) -> dict | None:
        """Measure the snapshot just written and return the metrics.jsonl entry (None off
        the main process); a stop request ends the measurement at once (the snapshot is
        kept, the measurement is not recorded, None)."""
        tr = self.trainer
        try:
            entry = self.metrics.measure(tr.G_ema, tr.images_seen / 1000, self.run_dir,
                                         snapshot, interruptible=stop and stop.interruptible,
                                         world=self.world)
        except MeasurementStopped:
            self.log.info(f"metrics at {tr.images_seen / 1000:.3f} kimg stopped by the stop "
                          f"request (snapshot {snapshot.name} is kept)")
            return None
        if entry is None:                      # not the main process: it measured its part
            return None
        self.tb.metrics(entry)
        shown = "  ".join(f"{k} {v:.4g}" for k, v in entry["metrics"].items())
        self.log.info(f"metrics at {entry['kimg']:.3f} kimg: {shown}: "
                      f"{counts(entry['generated'], entry['reals'])} ({entry['seconds']:.0f} s)"
                      + ("  new best" if entry.get("best") else ""))
        if entry.get("note") and not self.said_bias:
            self.log.info(entry["note"])            # once a run: it holds for every entry
            self.said_bias = True
        return entry

    def next_multiple(self, every_kimg: float) -> int:
        """The first multiple of every_kimg (in images) after the images seen so far."""
        every = interval_images(every_kimg)
        return (self.trainer.images_seen // every + 1) * every

    def snapshot(self) -> Path:
        """Sample grid from the fixed latents, then an atomic checkpoint; prune old ones. Only
        called after a tick found the weights finite, so no snapshot holds a NaN."""
        tr = self.trainer
        name = snapshots.snapshot_name(tr.images_seen)
        state = tr.state_dict()                  # every process: their streams are gathered
        G_ema = tr.prepare_ema_for_sampling()     # every process: all sample for metrics
        self.good = folder = self.run_dir / CHECKPOINTS_DIR / name
        if not self.world.main:
            return folder
        grid = self.write_grid(G_ema, name)
        info = ckpt.model_info(tr.cfg.model, tr.images_seen, self.data_info, self.t.preset)
        folder = snapshots.write_snapshot(folder, {"G": tr.G, "G_ema": tr.G_ema, "D": tr.D},
                                          info, trainer=state)
        snapshots.prune_snapshots(self.run_dir, self.t.keep_snapshots)
        self.log.info(f"snapshot {folder.relative_to(self.run_dir)}  "
                      f"grid {grid.relative_to(self.run_dir)}")
        return folder

    def write_grid(self, G_ema, name: str) -> Path:
        """samples/NAME.png from the fixed latents (and the TensorBoard image)."""
        tr = self.trainer
        grid_image = self.grid.render(G_ema)
        grid = save_png(grid_image, self.run_dir / SAMPLES_DIR / f"{name}.png",
                        scale=max(1, 64 // tr.cfg.model.resolution))
        self.tb.image("samples", grid_image, tr.images_seen / 1000)
        self.tb.flush()
        return grid

    def progress_bar(self, clock: RunClock) -> tqdm:
        """A bar on a terminal only (a log file gets the tick lines, which say as much): in
        kimg when the run is bounded in kimg, else in time."""
        show = self.progress and sys.stderr.isatty()
        total = clock.target / 1000 if clock.target is not None else clock.minutes * 60
        unit = "kimg" if clock.target is not None else "s"
        return tqdm(total=total, disable=not show, dynamic_ncols=True, mininterval=0.2,
                    leave=False, bar_format="{percentage:3.0f}%|{bar}| {postfix}",
                    unit=unit)

    def update_bar(self, bar: tqdm, tick: "TickStats") -> None:
        if bar.disable:
            return
        tr, clock = self.trainer, self.clock
        n = tr.images_seen / 1000 if clock.target is not None else clock.elapsed()
        bar.update(min(n, bar.total) - bar.n)
        bar.set_postfix_str(f"{clock.position(tr.images_seen)}, {tick.rate():.0f} img/s",
                            refresh=False)

    def grid_only(self) -> None:
        """A sample grid between snapshots (by wall time), named like a snapshot's; the main
        process alone draws it (nothing is measured on the others)."""
        if not self.world.main:
            return
        tr = self.trainer
        grid = self.write_grid(tr.prepare_ema_for_sampling(),
                               snapshots.snapshot_name(tr.images_seen))
        self.log.info(f"grid {grid.relative_to(self.run_dir)}")


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

    def seconds(self) -> float:
        """Wall time since the tick began."""
        return time.monotonic() - self.start_time

    def rate(self) -> float:
        """Images per second since the tick began."""
        dt = max(time.monotonic() - self.start_time, 1e-9)
        return (self.images_seen - self.start_images) / dt

    def close(self, tr: Trainer) -> dict:
        """The stats.jsonl entry for this tick: means of the step statistics and speed."""
        images = tr.images_seen - self.start_images
        dt = max(time.monotonic() - self.start_time, 1e-9)
        keys = sorted(self.sums)
        sums = torch.tensor([float(self.sums[k]) for k in keys], dtype=torch.float64)
        tr.world.mean_([sums])                 # every process's statistics: their average
        means = {k: round(float(v) / max(self.steps, 1), 6) for k, v in zip(keys, sums)}
        return {"kimg": tr.images_seen / 1000, "step": tr.step, **means,
                "img_per_s": round(images / dt, 2),
                "sec_per_kimg": round(dt * 1000 / max(images, 1), 3),
                "instance_noise": round(tr.noise_sigma(), 6), "lr_scale": tr.lr_scale,
                "time": round(time.time(), 3)}
