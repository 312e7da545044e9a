"""Starting and resuming runs: `start(cfg, out)` creates a numbered run directory;
`resume(run_dir)` continues one from its newest complete snapshot. Both open the data, build
the Trainer (of this process, under torchrun: training/distributed.py), hand them to the Loop
and return the run directory.
"""

from __future__ import annotations

import json
import shutil
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch

from .. import checkpoint as ckpt
from ..config.resolve import Resolved, replay, with_data
from ..config.schema import RunConfig
from ..data.dataset import ImageBank, load_archive, resolve_dataset
from ..device import pick_device
from ..errors import GanvasError
from ..runfolder.layout import CONFIG_FILE, new_run_dir
from ..runfolder.locate import check_not_a_folder_of_runs, finetune_source, runs_inside
from ..runfolder.lock import RunLock
from ..runfolder.log import RunLog
from ..threads import using_threads
from ..runfolder.snapshots import list_snapshots, read_snapshot, remove_stale_temporaries
from . import finetune
from .distributed import SINGLE, World, processes
from .loop import Loop, Watch
from .measure import TrainingMetrics
from .trainer import Trainer


def dataset_name(spec: str) -> str:
    """'demo:emoji' -> 'emoji'; '/data/frogs.zip' -> 'frogs'; '/data/frogs/' -> 'frogs'."""
    return spec.split(":", 1)[1] if spec.startswith("demo:") else Path(spec.rstrip("/")).stem


def open_data(cfg: RunConfig) -> tuple[RunConfig, ImageBank, dict]:
    """Load the run's dataset; return `cfg` with the model's channels and classes from it (a
    new value, checked against the data), the batch server and the dataset facts stored in
    model.json. Writes only the dataset caches (an image folder's prepared archive)."""
    archive = load_archive(prepare_data(cfg))
    cfg = with_data(cfg, archive)
    bank = ImageBank(archive, resolution=cfg.model.resolution, mirror=cfg.train.mirror)
    info = {"name": cfg.train.data, "num_images": len(archive), "resolution": archive.resolution,
            "channels": archive.channels, "class_names": archive.class_names,
            "sha256": archive.content_hash, "upscaled": int(archive.meta.get("upscaled", 0))}
    return cfg, bank, info


def unused_labels(cfg: RunConfig, data_info: dict) -> list[str]:
    """The console's line when the data has classes an unconditional run leaves unused."""
    names = data_info.get("class_names") or []
    if cfg.model.num_classes or len(names) < 2:
        return []
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return [f"the data has {len(names)} classes ({shown}); this run ignores them: "
            f"--conditional trains a model that draws by class"]


def prepare_data(cfg: RunConfig) -> Path:
    """The run's dataset archive, prepared from an image folder when it is one (cached):
    what open_data opens, checked to exist."""
    conditional = cfg.model.num_classes != 0
    return resolve_dataset(cfg.train.data, resolution=cfg.model.resolution,
                           labels="folders" if conditional else "none")


def start(plan: Resolved, out: str | Path = "runs", progress: bool = True,
          watch: Watch | None = None, new_run: bool = False) -> Path:
    """Train `plan` (config.resolve: validated, so every option was checked before this)
    under `out`, from scratch or fine-tuned from its train.init_from; returns its run
    directory. The same plan started again into the same `out` continues the run it made
    (`continuable`: the newest run there with this configuration, whatever its length or
    device) to the new --kimg total or for --minutes more; `new_run` starts a new one anyway,
    as every run of a `watch` (ganvas tune's trials) does. What the data decides is checked
    when it opens, and only then is a run directory made. Under torchrun every process calls
    this; the main one makes the run directory and writes into it. `watch` sees each
    measurement and may end the run there (loop.Watch)."""
    cfg = plan.config
    with processes(pick_device(cfg.train.device)) as world, run_threads(world, cfg):
        source = finetune_source(cfg.train.init_from) if cfg.train.init_from else None
        cfg, bank, data_info = world.main_first(lambda: open_data(cfg))
        if not new_run and watch is None:
            previous, why = world.from_main(lambda: continuable(out, cfg, data_info))
            if why and world.main and progress:
                print(why, flush=True)
            if previous is not None:
                again = resume_config(previous, cfg.train.kimg, cfg.train.minutes,
                                      cfg.train.device)
                return resume_in(world, previous, again, progress, continuing=True,
                                 opened=(bank, data_info))
        notes = unused_labels(cfg, data_info)
        if source is not None:
            new_classes = finetune.check_compatible(cfg.model, source.info["model"],
                                                    cfg.train.init_from)
        trainer = make_trainer(cfg, bank, world)
        if source is not None:
            fresh = finetune.load_weights(trainer, source, new_classes)
            notes += finetune.console_lines(source, trainer.cfg, fresh)
        # Extractors (and their weight files) now: a missing file stops the run before a folder.
        metrics = training_metrics(cfg, bank, data_info, trainer.device)
        run_dir = world.from_main(lambda: new_run_dir(
            out, f"{cfg.train.preset}-{dataset_name(cfg.train.data)}"))
        try:
            with main_lock(world, run_dir):
                if world.main:
                    ckpt.write_json(run_dir / CONFIG_FILE, trainer.cfg.to_dict())
                return Loop(trainer, run_dir, data_info, metrics, progress, watch, notes).run()
        except OSError:
            # The machine's fault (a full disk) before the first snapshot: nothing of the run
            # is worth keeping, so no half-made run folder is left behind.
            if world.main and not list_snapshots(run_dir):
                shutil.rmtree(run_dir, ignore_errors=True)
            raise


def run_threads(world: World, cfg: RunConfig) -> using_threads:
    """The run's CPU threads while it trains (many processes: the launcher's)."""
    return using_threads(0 if world.distributed else cfg.train.threads)


def main_lock(world: World, run_dir: Path):
    """The run directory's lock, held by the main process (the one that writes)."""
    return RunLock(run_dir) if world.main else nullcontext()


def resume(run_dir: str | Path, kimg: float | None = None, minutes: float | None = None,
           progress: bool = True, device: str | None = None) -> Path:
    """Continue `run_dir` from its newest complete snapshot, to a new --kimg total or for
    --minutes more (else to the run's original length), on its device or `device`."""
    run_dir = Path(run_dir)
    check_is_a_run(run_dir)
    cfg = resume_config(run_dir, kimg, minutes, device)
    with processes(pick_device(cfg.train.device)) as world:
        return resume_in(world, run_dir, cfg, progress)


def check_is_a_run(run_dir: Path) -> None:
    """A GanvasError unless `run_dir` has a config.json (a folder of runs: naming them)."""
    check_not_a_folder_of_runs(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise GanvasError(f"{run_dir} is not a run directory (no readable config.json)")


def resume_in(world: World, run_dir: Path, cfg: RunConfig, progress: bool,
              continuing: bool = False, opened: tuple[ImageBank, dict] | None = None) -> Path:
    """resume()'s work in a process group already started; `continuing`: a start that found
    its run (the console says so), `opened`: the run's data that start opened already (its
    bank and facts; the run's config replays the same data)."""
    with main_lock(world, run_dir), run_threads(world, cfg):
        if world.main:
            remove_stale_temporaries(run_dir)
        if opened is None:
            cfg, bank, data_info = world.main_first(lambda: open_data(cfg))
        else:
            bank, data_info = opened
        trainer = make_trainer(cfg, bank, world)
        # The main process picks the snapshot and restores it; the others restore what it read.
        folder, state = world.from_main(lambda: restore_newest(trainer, run_dir, data_info,
                                                               echo=progress))
        if not world.main:
            trainer.restore(state)
        del state
        RunLog(run_dir, echo=progress, write=world.main).info(
            f"{'continuing' if continuing else 'resuming'} {run_dir} from "
            f"{restart_point(run_dir, folder, trainer.images_seen, cfg)}"
            + ("; the same data and options (--new-run starts a new run)" if continuing
               else ""))
        metrics = training_metrics(cfg, bank, data_info, trainer.device)
        if world.main:
            metrics.load_best(run_dir)
            ckpt.write_json(run_dir / CONFIG_FILE, trainer.cfg.to_dict())
        return Loop(trainer, run_dir, data_info, metrics, progress).run()


def resume_dry_run(run_dir: Path, kimg: float | None, minutes: float | None,
                   device: str | None) -> str:
    """What `train --resume RUN --dry-run` prints: where the run would restart and to what,
    from its files alone (nothing is loaded, built or written)."""
    check_is_a_run(run_dir)
    cfg = resume_config(run_dir, kimg, minutes, device)
    newest = list_snapshots(run_dir)[-1]
    try:
        images = int(ckpt.read_model_json(newest)["images_seen"])
    except (GanvasError, KeyError, TypeError, ValueError):
        raise GanvasError(f"{newest}: its model.json does not say how far it trained") from None
    t = cfg.train
    return (f"would resume {run_dir} from {restart_point(run_dir, newest, images, cfg)} "
            f"(the newest snapshot; one that fails its checks is skipped for the one before)\n"
            f"model {t.preset} ({cfg.model.family}) on {t.data}, device {t.device}, batch "
            f"{t.batch}, precision {t.precision}; the rest: {run_dir / CONFIG_FILE}\n"
            f"dry run: nothing was written")


def restart_point(run_dir: Path, snapshot: Path, images_seen: int, cfg: RunConfig) -> str:
    """'checkpoints/kimg-000020 (20.000 kimg), to 40 kimg' or '..., for 5 more minutes'."""
    t = cfg.train
    where = f"{snapshot.relative_to(run_dir)} ({images_seen / 1000:.3f} kimg)"
    if t.minutes is not None:
        return f"{where}, for {t.minutes:g} more minutes"
    return f"{where}, to {t.target_images() / 1000:g} kimg"


# Where two configurations may differ and still be one run: its length and the machine (a
# continued run keeps its own thread count: resume_config replays its config.json).
NOT_THE_RUN = {("train", "kimg"), ("train", "minutes"), ("train", "device"),
               ("train", "threads"), ("train", "threads_chosen_by")}


def same_run(a: dict, b: dict) -> bool:
    """Two config.json contents that describe one run (they differ at most in NOT_THE_RUN)."""
    def kept(cfg: dict) -> dict:
        return {section: {k: v for k, v in values.items() if (section, k) not in NOT_THE_RUN}
                if isinstance(values, dict) else values for section, values in cfg.items()}
    return kept(a) == kept(b)


def continuable(out: str | Path, cfg: RunConfig, data_info: dict) -> tuple[Path | None,
                                                                            str | None]:
    """The run under `out` that starting `cfg` again continues: the newest with the same
    configuration (same_run), when it has a snapshot of this data. Returns it (or None) and
    a line saying why a matching run is not continued (or None)."""
    wanted = cfg.to_dict()
    for run in runs_inside(Path(out)):
        try:
            stored = json.loads((run / CONFIG_FILE).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            continue
        if not isinstance(stored, dict) or not same_run(stored, wanted):
            continue
        snaps = list_snapshots(run)
        if not snaps:
            return None, (f"{run} has these options but no snapshot yet (it stopped before "
                          f"its first): a new run")
        try:
            sha = ckpt.read_model_json(snaps[-1]).get("dataset", {}).get("sha256")
        except GanvasError:
            sha = data_info["sha256"]          # restore_newest says what is wrong with it
        if sha != data_info["sha256"]:
            return None, f"the data changed since {run} was trained on it: a new run"
        return run, None
    return None, None


def resume_config(run_dir: Path, kimg: float | None, minutes: float | None,
                  device: str | None = None) -> RunConfig:
    """The run's configuration with a new --kimg/--minutes (and --device), settled and checked
    (config.resolve.replay), and the run checked to have a snapshot (before any process
    group, model or data)."""
    cfg = read_config(run_dir)
    if kimg is not None or minutes is not None:
        cfg = replace(cfg, train=replace(cfg.train, kimg=kimg, minutes=minutes))
    if device is not None:
        cfg = replace(cfg, train=replace(cfg.train, device=device))
    cfg = replay(cfg)                                # before building a model
    if not list_snapshots(run_dir):
        raise GanvasError(f"{run_dir} has no complete snapshot to resume from")
    return cfg


def read_config(run_dir: Path) -> RunConfig:
    """RUN/config.json as a RunConfig, or a one-line GanvasError."""
    path = run_dir / CONFIG_FILE
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


def restore_newest(trainer: Trainer, run_dir: Path, data_info: dict,
                   echo: bool = True) -> tuple[Path, dict]:
    """Restore the newest snapshot of run_dir that loads and passes its checks; each newer
    one skipped is said on the console with the reason. A changed dataset is an error.
    Returns the snapshot folder and the state restored."""
    log = RunLog(run_dir, echo=echo)
    skipped = []
    for folder in reversed(list_snapshots(run_dir)):
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
        saved = state["trainer"].get("world_size", 1)
        if saved != trainer.world.size:
            log.info(f"resuming a run of {saved} process{'es' * (saved > 1)} on "
                     f"{trainer.world.size}: data order, latents and noise continue as they "
                     f"were, each process continues the augmentation stream of its rank"
                     + ("; the new ranks start their own" if trainer.world.size > saved else ""))
        return folder, state
    raise GanvasError(f"{run_dir} has no snapshot that loads (skipped {', '.join(skipped)})")


class DatasetChanged(GanvasError):
    """The run's data is not what its snapshots were trained on."""


def training_metrics(cfg: RunConfig, bank: ImageBank, data_info: dict,
                     device: torch.device) -> TrainingMetrics:
    """The run's metrics; their feature passes run on the training device."""
    return TrainingMetrics(cfg.metrics, bank, data_info["sha256"], device)


def make_trainer(cfg: RunConfig, bank: ImageBank, world: World = SINGLE) -> Trainer:
    """The Trainer (of this process of `world`), with a clear error for a FreezeD depth D
    does not have."""
    trainer = Trainer(cfg, bank, world.training_device(pick_device(cfg.train.device)), world)
    blocks = len(trainer.D.blocks)
    if cfg.train.freeze_d > blocks:
        raise GanvasError(f"--freeze-d {cfg.train.freeze_d}: D has only {blocks} blocks")
    return trainer
