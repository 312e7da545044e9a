"""Fine-tuning (transfer learning): start a run from another model's G, G_ema and D (the
source folder is found by runfolder/locate.finetune_source)."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

from .. import checkpoint as ckpt
from ..config.schema import ModelConfig
from ..errors import GanvasError


def check_compatible(cfg: ModelConfig, source: dict, model: str) -> None:
    """A clear error naming every field where the new model differs from the source."""
    ours = asdict(cfg)
    names = [f.name for f in fields(ModelConfig)]
    diffs = [f"{n} is {source.get(n)!r} there but {ours[n]!r} here" for n in names
             if source.get(n) != ours[n]]
    if diffs:
        raise GanvasError(f"cannot fine-tune from {model}: " + "; ".join(diffs))


def load_weights(trainer, folder: Path) -> None:
    """G, G_ema and D of the source into the trainer (optimisers and counters start fresh)."""
    for name in ("G", "G_ema", "D"):
        ckpt.load_module(getattr(trainer, name), folder / f"{name}.safetensors")
