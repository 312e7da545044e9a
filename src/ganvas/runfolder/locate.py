"""Which folder a MODEL argument means: a run (its newest snapshot), a snapshot folder (or
the .old-NAME copy a kill left of it), an exported model or a model.json file."""

from __future__ import annotations

import os
from pathlib import Path

from .. import checkpoint as ckpt
from ..errors import GanvasError
from .layout import CHECKPOINTS_DIR
from .snapshots import existing, list_snapshots


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
    raise GanvasError(f"{p} is not a run directory, snapshot or exported model "
                      f"(expected model.json or checkpoints/)")


def finetune_source(model: str) -> tuple[Path, dict]:
    """--init-from MODEL -> (snapshot folder with D, its model.json)."""
    folder = resolve_model_dir(model)
    info = ckpt.read_model_json(folder)
    for name in ("G", "G_ema", "D"):
        if not (folder / f"{name}.safetensors").is_file():
            raise GanvasError(f"cannot fine-tune from {model}: it has no {name}.safetensors "
                              f"(exported models keep only G_ema; give a run or a snapshot)")
    return folder, info
