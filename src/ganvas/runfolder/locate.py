"""Which folder a MODEL argument means: a run (its newest snapshot), a snapshot folder (or
the .old-NAME copy a kill left of it), an exported model or a model.json file; and what a
fine-tuning source holds (one of those, or an NVlabs network pickle: runfolder/imported.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .. import checkpoint as ckpt
from ..errors import GanvasError
from .imported import is_network_pickle, read_imported
from .layout import CHECKPOINTS_DIR, CONFIG_FILE, EVAL_DIR, RUN_RE
from .snapshots import existing, list_snapshots, snapshot_name


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """MODEL argument -> the folder holding model.json and G_ema.safetensors: a run directory
    (its newest snapshot), a snapshot folder, an exported model, or a model.json file."""
    p = Path(path)
    if not p.exists() and existing(p) is None:
        raise GanvasError(f"model not found: {p}")
    if p.is_file() and p.name == "model.json":
        p = p.parent
    if not p.exists() and existing(p) is not None:         # killed while being replaced
        p = existing(p)
    if p.is_dir() and (p / "model.json").is_file():
        return p
    if p.is_dir() and (p / CHECKPOINTS_DIR).is_dir():
        snaps = list_snapshots(p)
        if not snaps:
            raise GanvasError(f"run {p} has no snapshot yet")
        return snaps[-1]
    check_not_a_folder_of_runs(p)
    raise GanvasError(f"{p} is not a run directory, snapshot or exported model "
                      f"(expected model.json or checkpoints/)")


RUNS_NAMED = 5              # a folder of runs: the newest runs its error names


def is_run(folder: Path) -> bool:
    """A run directory: a folder with a config.json or a checkpoints/ folder."""
    return folder.is_dir() and ((folder / CONFIG_FILE).is_file()
                                or (folder / CHECKPOINTS_DIR).is_dir())


def runs_inside(folder: Path) -> list[Path]:
    """The runs directly inside `folder` (a --out of `ganvas train`), newest first: by run
    number (00007-...), then by time of change for runs named otherwise."""
    try:
        found = [child for child in Path(folder).iterdir() if is_run(child)]
    except OSError:
        return []

    def age(run: Path) -> tuple[int, float]:
        m = RUN_RE.match(run.name)
        try:
            changed = run.stat().st_mtime
        except OSError:
            changed = 0.0
        return (int(m.group(1)) if m else -1, changed)

    return sorted(found, key=age, reverse=True)


def check_not_a_folder_of_runs(folder: Path) -> None:
    """A GanvasError naming the runs when `folder` is no run but holds runs (runs/ instead of
    runs/00003-dcgan-frogs): the newest RUNS_NAMED, "and N more", and one to give instead
    (the newest that has a snapshot, where one has)."""
    folder = Path(folder)
    if is_run(folder):
        return
    runs = runs_inside(folder)
    if not runs:
        return
    example = next((r for r in runs if list_snapshots(r)), runs[0])
    named = ", ".join(r.name for r in runs[:RUNS_NAMED])
    more = f" and {len(runs) - RUNS_NAMED} more" if len(runs) > RUNS_NAMED else ""
    raise GanvasError(f"{folder} holds runs rather than being one: name one of them, e.g. "
                      f"{example} (newest first: {named}{more})")


def run_of(folder: Path) -> Path | None:
    """The run a model folder belongs to (RUN for RUN/checkpoints/NAME), None for an exported
    or imported model."""
    folder = Path(folder)
    run = folder.parent.parent
    if folder.parent.name == CHECKPOINTS_DIR and (run / CONFIG_FILE).is_file():
        return run
    return None


def eval_out(model_arg: str | os.PathLike, folder: Path | None, kimg: float,
             metrics: list[str], extractor: str | None = None) -> Path:
    """Where `ganvas eval MODEL` writes its JSON without --out: into the run it measured,
    RUN/eval/kimg-NNNNNN-METRICS[-EXTRACTOR].json (the report reads that folder), for a run
    or one of its snapshots. Anything else (an exported or imported model, a network pickle)
    or a run that cannot be written is a GanvasError asking for --out: eval writes into no
    folder but the model's run unless told."""
    run = None if folder is None or is_network_pickle(model_arg) else run_of(folder)
    if run is None:
        raise GanvasError(f"{model_arg} is not a run or one of its snapshots: say where the "
                          f"metrics go with --out FILE.json")
    if not os.access(run, os.W_OK):
        raise GanvasError(f"cannot write into the run {run}: say where the metrics go with "
                          f"--out FILE.json")
    name = "-".join([snapshot_name(round(kimg * 1000)), *metrics, *filter(None, [extractor])])
    return run / EVAL_DIR / f"{name}.json"


NETWORKS = ("G", "G_ema", "D")


@dataclass
class FinetuneSource:
    """What --init-from MODEL starts from: its model.json (read or, for a pickle, made), its
    G, G_ema and D (`state(name)`), the augmentation p it reached (None: not known) and the
    kimg the run counts on from (an NVlabs snapshot's, from its file name; else 0)."""

    name: str
    info: dict
    state: Callable[[str], dict[str, torch.Tensor]]
    augment_p: float | None
    start_kimg: float


def _number(value, default: float | None) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    return float(value) if ok and value == value else default


def finetune_source(model: str) -> FinetuneSource:
    """--init-from MODEL -> its FinetuneSource: a run, a snapshot, a folder `ganvas import`
    wrote, or an NVlabs pickle (converted in memory); a GanvasError when it lacks G or D."""
    if is_network_pickle(model):
        imported = read_imported(model)
        info = imported.info
        have = [name for name in NETWORKS if getattr(imported.converted, name) is not None]

        def state(name: str) -> dict:
            return getattr(imported.converted, name)
    else:
        folder = resolve_model_dir(model)
        info = ckpt.read_model_json(folder)
        have = [name for name in NETWORKS if (folder / f"{name}.safetensors").is_file()]

        def state(name: str) -> dict:
            return ckpt.read_weights(folder / f"{name}.safetensors")
    missing = [name for name in NETWORKS if name not in have]
    if missing:
        raise GanvasError(f"cannot fine-tune from {model}: it has no {missing[0]} (exported "
                          f"models keep only G_ema; give a run, a snapshot or a network "
                          f"snapshot pickle)")
    facts = info.get("imported") if isinstance(info.get("imported"), dict) else {}
    p = _number(facts.get("augment_p"), None)
    return FinetuneSource(str(model), info, state, p if p is None or p <= 1 else None,
                          _number(facts.get("kimg"), 0.0))
