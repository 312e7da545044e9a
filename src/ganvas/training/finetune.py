"""Fine-tuning (transfer learning): start a run from another model's G, G_ema and D."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

from .. import checkpoint as ckpt
from ..config import ModelConfig
from ..errors import GanvasError


def source_folder(model: str) -> tuple[Path, dict]:
    """--init-from MODEL -> (snapshot folder with D, its model.json)."""
    folder = ckpt.resolve_model_dir(model)
    info = ckpt.read_model_json(folder)
    for name in ("G", "G_ema", "D"):
        if not (folder / f"{name}.safetensors").is_file():
            raise GanvasError(f"cannot fine-tune from {model}: it has no {name}.safetensors "
                              f"(exported models keep only G_ema; give a run or a snapshot)")
    return folder, info


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
