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
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config.schema import ModelConfig
from .durable import fsync_path, fsync_tree, publish
from .errors import GanvasError
from .imaging import _umask, atomic_save
from .models import build_generator
from .validate_model import (check_bounds, check_weights, meta_module, model_config,  # noqa: F401
                             safetensors_header)

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


def read_weights(path: Path, like: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """A safetensors file as a state dict (CPU tensors); its header is checked first (and,
    given `like`, its names and shapes against like's state_dict), so a truncated or lying
    file is one GanvasError naming it, before any tensor is allocated."""
    if like is not None:
        check_weights(path, like)
    else:
        safetensors_header(path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise GanvasError(f"{path} is not a readable safetensors file ({e})") from None


def load_module(module: nn.Module, path: Path) -> nn.Module:
    """Load safetensors weights into `module` in place (strict: names and shapes must match)."""
    module.load_state_dict(read_weights(path, like=module), strict=True)
    return module


def write_snapshot(folder: Path, modules: dict[str, nn.Module], info: dict,
                   trainer: dict | None = None) -> Path:
    """Atomically create `folder` with NAME.safetensors per module, model.json from `info`
    and trainer.pt; an existing `folder` is replaced as a whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_folder(folder)
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
    tmp = _temporary_folder(folder)
    try:
        for f in sorted(source.iterdir(), key=lambda p: p.name == "model.json"):
            shutil.copy2(f, tmp / f.name)                     # model.json last, as above
        return _move_into_place(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _temporary_folder(folder: Path) -> Path:
    """A new hidden folder next to `folder`, with the permissions of the rest of the run
    (mkdtemp makes 0700)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    os.chmod(tmp, 0o777 & ~_umask())
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


def model_info(cfg: ModelConfig, images_seen: int, dataset: dict, preset: str = "") -> dict:
    """The content of model.json (besides format and version)."""
    return {"model": asdict(cfg), "preset": preset, "images_seen": images_seen,
            "kimg": images_seen / 1000, "dataset": dataset}


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
    model_config(info.get("model"), path)
    if not isinstance(info.get("dataset", {}), dict):
        raise GanvasError(f"{path}: 'dataset' is not an object")
    return info


def model_of(folder: Path, info: dict) -> ModelConfig:
    """The checked ModelConfig of a model.json read by read_model_json."""
    return model_config(info["model"], folder / "model.json")


def list_snapshots(run_dir: Path) -> list[Path]:
    """Complete snapshot folders of a run, oldest first (temporary folders never count)."""
    ckpt = run_dir / "checkpoints"
    if not ckpt.is_dir():
        return []
    names = {p.name.removeprefix(".old-") for p in ckpt.iterdir()
             if SNAPSHOT_RE.match(p.name.removeprefix(".old-"))}
    snaps = [existing(ckpt / n) for n in names]
    snaps = [p for p in snaps if p is not None and (p / "model.json").is_file()]
    return sorted(snaps, key=lambda p: p.name.removeprefix(".old-"))


def remove_stale_temporaries(run_dir: Path) -> None:
    """Tidy what a killed writer left: a .old-NAME whose NAME is missing (killed during a
    replacement) becomes NAME again; other .tmp-* and .old-* folders are deleted. Only the
    holder of the run's lock may call this (another writer's temporaries would go)."""
    # atomic_save's temporaries (.config.<random>.json, samples/.kimg-<random>.png) of a
    # killed writer
    for p in [*run_dir.glob(".config.*.json"), *run_dir.glob("samples/.kimg-*.png")]:
        p.unlink(missing_ok=True)
    ckpt = run_dir / "checkpoints"
    if not ckpt.is_dir():
        return
    for p in sorted(ckpt.iterdir()):
        if p.name.startswith(".old-"):
            final = ckpt / p.name.removeprefix(".old-")
            if not final.exists() and (p / "model.json").is_file():
                os.replace(p, final)
                fsync_path(ckpt)
                continue
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
    if not p.exists() and existing(p) is None:
        raise GanvasError(f"model not found: {p}")
    if p.is_file() and p.name == "model.json":
        p = p.parent
    if not p.exists() and existing(p) is not None:         # killed while being replaced
        p = existing(p)
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


def fine_tuning_source(model: str) -> tuple[Path, dict]:
    """--init-from MODEL -> (its snapshot folder, which has D; its model.json)."""
    folder = resolve_model_dir(model)
    info = read_model_json(folder)
    for name in ("G", "G_ema", "D"):
        if not (folder / f"{name}.safetensors").is_file():
            raise GanvasError(f"cannot fine-tune from {model}: it has no {name}.safetensors "
                              f"(exported models keep only G_ema; give a run or a snapshot)")
    return folder, info
