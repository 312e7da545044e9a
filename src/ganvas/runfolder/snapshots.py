"""A run's snapshot folders (checkpoints/kimg-000400/, checkpoints/best/): naming, writing
and copying them atomically, listing and pruning them, tidying what a killed writer left, and
reading one back for a resume or a rollback. The files inside a folder are checkpoint.py's.

A folder is written into a hidden temporary folder (.tmp-NAME-<random>) and renamed into
place; one that replaces an existing folder first moves the old one to .old-NAME, which
readers use while NAME is missing (a kill in between) and the next writer restores. Exported
models (model.json + G_ema.safetensors) are written the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import torch.nn as nn

from .. import checkpoint as ckpt
from ..durable import follow_umask, fsync_path, fsync_tree, naming, publish
from .layout import CHECKPOINTS_DIR, SAMPLES_DIR

SNAPSHOT_RE = re.compile(r"^kimg-\d{6}(\.\d{3})?$")
WEIGHTS = ("G", "G_ema", "D")       # the weight files of a snapshot, as Trainer.capture names them


def snapshot_name(images_seen: int) -> str:
    """'kimg-000400' at whole kimg, else 'kimg-000012.500' (sorts in training order)."""
    whole, frac = divmod(images_seen, 1000)
    return f"kimg-{whole:06d}" + (f".{frac:03d}" if frac else "")


def write_snapshot(folder: Path, modules: dict[str, nn.Module], info: dict,
                   trainer: dict | None = None) -> Path:
    """Atomically create `folder` with NAME.safetensors per module, model.json from `info`
    and trainer.pt; an existing `folder` is replaced as a whole."""
    with naming(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_folder(folder)
    try:
        with naming(folder, tmp):                # a full disk names `folder`, not .tmp-
            ckpt.write_model_files(tmp, modules, info, trainer)
            return _move_into_place(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def copy_snapshot(source: Path, folder: Path) -> Path:
    """Atomically make `folder` a copy of snapshot `source` (replacing it as a whole)."""
    tmp = _temporary_folder(folder)
    try:
        # model.json last: a folder without it is never taken for a snapshot.
        for f in sorted(source.iterdir(), key=lambda p: p.name == "model.json"):
            shutil.copy2(f, tmp / f.name)
        return _move_into_place(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_snapshot(folder: Path, like=None) -> dict:
    """A snapshot's G, G_ema, D and trainer state, in the layout of Trainer.capture(); given
    `like` (a Trainer: anything with G, G_ema and D modules), the weight files' names and
    shapes are checked against its modules first. A bad file is a GanvasError naming it."""
    state = {name: ckpt.read_weights(folder / f"{name}.safetensors",
                                     like=getattr(like, name, None))
             for name in WEIGHTS}
    state["trainer"] = ckpt.read_trainer_state(folder / "trainer.pt")
    return state


def _temporary_folder(folder: Path) -> Path:
    """A new hidden folder next to `folder`, with the permissions of the rest of the run
    (mkdtemp makes 0700)."""
    with naming(folder, folder.parent):
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    follow_umask(tmp)
    return tmp


def old_name(folder: Path) -> Path:
    """Where `folder` waits while its replacement is renamed in (see _move_into_place)."""
    return folder.with_name(f".old-{folder.name}")


def _move_into_place(tmp: Path, folder: Path) -> Path:
    """Publish the finished folder `tmp` as `folder` (its files flushed first). An existing
    `folder` is renamed to .old-NAME first and deleted after: a kill in between leaves
    .old-NAME, which readers use (`existing`) and the next writer restores."""
    if folder.exists():
        old = old_name(folder)
        shutil.rmtree(old, ignore_errors=True)
        fsync_tree(tmp)                          # the new copy is whole before the old goes
        os.replace(folder, old)
        publish(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        publish(tmp, folder)
    return folder


def existing(folder: Path) -> Path | None:
    """`folder` if it is there, else its .old-NAME copy left by a kill during a replacement,
    else None."""
    if folder.is_dir():
        return folder
    old = old_name(folder)
    return old if (old / "model.json").is_file() else None


def list_snapshots(run_dir: Path) -> list[Path]:
    """Complete snapshot folders of a run, oldest first (temporary folders never count)."""
    ckpt_dir = run_dir / CHECKPOINTS_DIR
    if not ckpt_dir.is_dir():
        return []
    names = {p.name.removeprefix(".old-") for p in ckpt_dir.iterdir()
             if SNAPSHOT_RE.match(p.name.removeprefix(".old-"))}
    snaps = [existing(ckpt_dir / n) for n in names]
    snaps = [p for p in snaps if p is not None and (p / "model.json").is_file()]
    return sorted(snaps, key=lambda p: p.name.removeprefix(".old-"))


def remove_stale_temporaries(run_dir: Path) -> None:
    """Tidy what a killed writer left: a .old-NAME whose NAME is missing (killed during a
    replacement) becomes NAME again; other .tmp-* and .old-* folders are deleted. Only the
    holder of the run's lock may call this (another writer's temporaries would go)."""
    # atomic_save's temporaries (.config.<random>.json, samples/.kimg-<random>.png) of a
    # killed writer
    for p in [*run_dir.glob(".config.*.json"), *run_dir.glob(f"{SAMPLES_DIR}/.kimg-*.png")]:
        p.unlink(missing_ok=True)
    ckpt_dir = run_dir / CHECKPOINTS_DIR
    if not ckpt_dir.is_dir():
        return
    for p in sorted(ckpt_dir.iterdir()):
        if p.name.startswith(".old-"):
            final = ckpt_dir / p.name.removeprefix(".old-")
            if not final.exists() and (p / "model.json").is_file():
                os.replace(p, final)
                fsync_path(ckpt_dir)
                continue
        if p.name.startswith((".tmp-", ".old-")):
            shutil.rmtree(p, ignore_errors=True)


def prune_snapshots(run_dir: Path, keep: int) -> None:
    """Keep the newest `keep` snapshots of a run."""
    for p in list_snapshots(run_dir)[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
