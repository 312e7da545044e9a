"""Saving and loading weights: the only module that touches weight files.

A snapshot folder holds model.json (family, ModelConfig, kimg, dataset facts), G.safetensors,
G_ema.safetensors, D.safetensors and trainer.pt (plain tensors and dicts, loadable with
torch.load(weights_only=True)). An exported model is model.json + G_ema.safetensors. Nothing here
unpickles code. Snapshots are written into a temporary folder and renamed into place.
"""

from __future__ import annotations

import json
from dataclasses import asdict
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from .config import ModelConfig, build
from .errors import GanvasError
from .models import build_generator

MODEL_FORMAT = "ganvas-model"
MODEL_VERSION = 1
SNAPSHOT_RE = re.compile(r"^kimg-\d{6}(\.\d{3})?$")


def snapshot_name(images_seen: int) -> str:
    """'kimg-000400' at whole kimg, else 'kimg-000012.500' (sorts in training order)."""
    whole, frac = divmod(images_seen, 1000)
    return f"kimg-{whole:06d}" + (f".{frac:03d}" if frac else "")


def save_module(module: nn.Module, path: Path) -> None:
    """A module's state_dict (parameters and buffers) as safetensors."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(path))


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file as a state dict (CPU tensors)."""
    return load_file(str(path))


def load_module(module: nn.Module, path: Path) -> nn.Module:
    """Load safetensors weights into `module` in place (strict: names and shapes must match)."""
    module.load_state_dict(read_weights(path), strict=True)
    return module


def write_snapshot(folder: Path, modules: dict[str, nn.Module], info: dict,
                   trainer: dict | None = None) -> Path:
    """Atomically create `folder` with NAME.safetensors per module, model.json from `info`
    and trainer.pt; an existing `folder` is replaced as a whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    try:
        for name, module in modules.items():
            save_module(module, tmp / f"{name}.safetensors")
        if trainer is not None:
            torch.save(trainer, tmp / "trainer.pt")
        # model.json last: a folder without it is never taken for a snapshot.
        (tmp / "model.json").write_text(json.dumps(
            {"format": MODEL_FORMAT, "version": MODEL_VERSION, **info}, indent=1))
        return _move_into_place(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def copy_snapshot(source: Path, folder: Path) -> Path:
    """Atomically make `folder` a copy of snapshot `source` (replacing it as a whole)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    try:
        for f in sorted(source.iterdir(), key=lambda p: p.name == "model.json"):
            shutil.copy2(f, tmp / f.name)                     # model.json last, as above
        return _move_into_place(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, folder: Path) -> Path:
    """Rename the finished folder `tmp` to `folder`; an old `folder` is swapped out first."""
    if folder.exists():
        old = folder.with_name(f".old-{folder.name}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


def model_info(cfg: ModelConfig, images_seen: int, dataset: dict, preset: str = "") -> dict:
    """The content of model.json (besides format and version)."""
    return {"model": asdict(cfg), "preset": preset, "images_seen": images_seen,
            "kimg": images_seen / 1000, "dataset": dataset}


def read_model_json(folder: Path) -> dict:
    """model.json of a snapshot or exported model, checked."""
    path = folder / "model.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise GanvasError(f"{folder} has no readable model.json ({e.__class__.__name__})") from None
    if info.get("format") != MODEL_FORMAT or info.get("version") != MODEL_VERSION:
        raise GanvasError(f"{path} is not a ganvas model (format {info.get('format')!r})")
    return info


def list_snapshots(run_dir: Path) -> list[Path]:
    """Complete snapshot folders of a run, oldest first (temporary folders never count)."""
    ckpt = run_dir / "checkpoints"
    if not ckpt.is_dir():
        return []
    snaps = [p for p in ckpt.iterdir()
             if p.is_dir() and SNAPSHOT_RE.match(p.name) and (p / "model.json").is_file()]
    return sorted(snaps, key=lambda p: p.name)


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete folders a killed process left half-written (.tmp-*, .old-*)."""
    ckpt = run_dir / "checkpoints"
    if ckpt.is_dir():
        for p in ckpt.iterdir():
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)


def prune_snapshots(run_dir: Path, keep: int) -> None:
    """Keep the newest `keep` snapshots of a run."""
    for p in list_snapshots(run_dir)[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """MODEL argument -> the folder holding model.json and G_ema.safetensors: a run directory
    (its newest snapshot), a snapshot folder, an exported model, or a model.json file."""
    p = Path(path)
    if not p.exists():
        raise GanvasError(f"model not found: {p}")
    if p.is_file() and p.name == "model.json":
        p = p.parent
    if p.is_dir() and (p / "model.json").is_file():
        return p
    if p.is_dir() and (p / "checkpoints").is_dir():
        snaps = list_snapshots(p)
        if not snaps:
            raise GanvasError(f"run {p} has no snapshot yet")
        return snaps[-1]
    raise GanvasError(f"{p} is not a run directory, snapshot or exported model "
                      f"(expected model.json or checkpoints/)")


def load_generator(folder: Path, which: str = "G_ema") -> tuple[nn.Module, dict]:
    """(generator in eval mode on CPU, model.json) from a snapshot or exported model folder."""
    info = read_model_json(folder)
    cfg = build(ModelConfig, info["model"])
    G = build_generator(cfg)
    weights = folder / f"{which}.safetensors"
    if not weights.is_file():
        raise GanvasError(f"{folder} has no {weights.name}")
    load_module(G, weights)
    return G.eval().requires_grad_(False), info
