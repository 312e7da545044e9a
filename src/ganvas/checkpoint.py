"""Saving and loading weights: the only module that touches weight files.

A snapshot folder holds model.json (family, ModelConfig, kimg, dataset facts), G.safetensors,
G_ema.safetensors, D.safetensors and trainer.pt (plain tensors and dicts, loadable with
torch.load(weights_only=True)). An exported model is model.json + G_ema.safetensors. Nothing here
unpickles code. Which folders a run holds, and how a folder is put in place whole, is
runfolder/snapshots.py's; this module reads and writes the files inside one.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config.schema import ModelConfig
from .durable import atomic_save
from .errors import GanvasError
from .models import build_generator, family_of
from .validate_model import (check_bounds, check_finite, check_weights,  # noqa: F401
                             meta_module, model_config, safetensors_header)

MODEL_FORMAT = "ganvas-model"
MODEL_VERSION = 1


def save_module(module: nn.Module, path: Path) -> None:
    """A module's state_dict (parameters and buffers) as safetensors."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(path))


def read_weights(path: Path, like: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """A safetensors file as a state dict (CPU tensors); its header is checked first (and,
    given `like`, its names and shapes against like's state_dict), so a truncated or lying
    file is one GanvasError naming it, before any tensor is allocated; a NaN or an infinity
    in its values is one too, naming the tensor."""
    if like is not None:
        check_weights(path, like)
    else:
        safetensors_header(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise GanvasError(f"{path} is not a readable safetensors file ({e})") from None
    check_finite(path, tensors)
    return tensors


def load_module(module: nn.Module, path: Path) -> nn.Module:
    """Load safetensors weights into `module` in place (strict: names and shapes must match)."""
    module.load_state_dict(read_weights(path, like=module), strict=True)
    return module


def write_model_files(folder: Path, modules: dict[str, nn.Module], info: dict,
                      trainer: dict | None = None) -> None:
    """Write NAME.safetensors per module, trainer.pt and model.json (from `info`) into the
    empty folder `folder` (runfolder/snapshots.py makes it and renames it into place)."""
    for name, module in modules.items():
        save_module(module, folder / f"{name}.safetensors")
    if trainer is not None:
        torch.save(trainer, folder / "trainer.pt")
    # model.json last: a folder without it is never taken for a snapshot.
    (folder / "model.json").write_text(json.dumps(
        {"format": MODEL_FORMAT, "version": MODEL_VERSION, **info}, indent=1))


def read_trainer_state(path: Path) -> dict:
    """A snapshot's trainer.pt (plain tensors and dicts, weights_only): the optimisers,
    counters and random streams; a bad file is a GanvasError naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:                  # noqa: BLE001 (garbage bytes raise anything)
        raise GanvasError(f"{path} is not a readable trainer state "
                          f"({type(e).__name__})") from None
    if not isinstance(state, dict) or "images_seen" not in state:
        raise GanvasError(f"{path} is not a trainer state")
    return state


def model_info(cfg: ModelConfig, images_seen: int, dataset: dict, preset: str = "") -> dict:
    """The content of model.json (besides format and version)."""
    return {"model": asdict(cfg), "architecture": family_of(cfg.family).architecture,
            "preset": preset, "images_seen": images_seen, "kimg": images_seen / 1000,
            "dataset": dataset}


def check_architecture(info: dict, cfg: ModelConfig, path: Path) -> None:
    """A model.json's recorded layer layout (1 where it predates the field) must be the one
    its family builds now: older weights would not fit (a GanvasError saying why)."""
    family = family_of(cfg.family)
    recorded = info.get("architecture", 1)
    if recorded != family.architecture:
        note = f" ({family.architecture_note})" if family.architecture_note else ""
        raise GanvasError(f"{path}: a {cfg.family} model of architecture "
                          f"{recorded!r}; this ganvas builds architecture "
                          f"{family.architecture}{note}: retrain, or open it with the ganvas "
                          f"that made it")


def read_model_json(folder: Path) -> dict:
    """model.json of a snapshot or exported model, checked."""
    path = folder / "model.json"
    try:
        if path.stat().st_size > 16 * 2 ** 20:
            raise GanvasError(f"{path} is too large for a model.json")
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise GanvasError(f"{folder} has no readable model.json ({e.__class__.__name__})") from None
    if not isinstance(info, dict):
        raise GanvasError(f"{path} is not a ganvas model (not a JSON object)")
    if info.get("format") != MODEL_FORMAT or info.get("version") != MODEL_VERSION:
        raise GanvasError(f"{path} is not a ganvas model (format {info.get('format')!r}, "
                          f"version {info.get('version')!r})")
    check_architecture(info, model_config(info.get("model"), path), path)
    if not isinstance(info.get("dataset", {}), dict):
        raise GanvasError(f"{path}: 'dataset' is not an object")
    return info


def model_of(folder: Path, info: dict) -> ModelConfig:
    """The checked ModelConfig of a model.json read by read_model_json."""
    return model_config(info["model"], folder / "model.json")


def load_generator(folder: Path, which: str = "G_ema") -> tuple[nn.Module, dict]:
    """(generator in eval mode on CPU, model.json) from a snapshot or exported model folder."""
    info = read_model_json(folder)
    cfg = model_of(folder, info)
    weights = folder / f"{which}.safetensors"
    if not weights.is_file():
        raise GanvasError(f"{folder} has no {weights.name}")
    check_weights(weights, meta_module(build_generator, cfg))     # before any allocation
    G = build_generator(cfg)
    load_module(G, weights)
    return G.eval().requires_grad_(False), info


def write_json(path: Path, value) -> Path:
    """`value` as indented JSON at `path`, atomically (a kill leaves the old file or the
    new one, never a part)."""
    text = json.dumps(value, indent=1)
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text))

