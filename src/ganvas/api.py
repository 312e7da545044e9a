"""The public Python API; the CLI only parses arguments and calls these."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .config import ModelConfig, TrainConfig, preset_config
from .errors import ConfigError
from .imaging import make_grid, save_gif, save_png, to_uint8
from .latent.interpolate import walk
from .latent.sampling import synthesize, z_from_seeds
from .training import loop

DEMO_RESOLUTION = 32
MODEL_OPTIONS = {f.name for f in fields(ModelConfig)} - {"family", "channels", "num_classes"}
TRAIN_OPTIONS = {f.name for f in fields(TrainConfig)} - {"data", "preset"}


class Model:
    """A trained generator ready to make pictures (loaded with `ganvas.load`)."""

    def __init__(self, G: torch.nn.Module, info: dict, path: Path):
        self.G, self.info, self.path = G, info, path
        m = info["model"]
        self.family = m["family"]
        self.resolution, self.channels, self.z_dim = m["resolution"], m["channels"], m["z_dim"]
        self.kimg = info.get("kimg", 0.0)
        self.class_names = info.get("dataset", {}).get("class_names", [])

    def z(self, seeds: list[int]) -> torch.Tensor:
        """Latents (N, z_dim) of the given seeds (each seed always gives the same latent)."""
        return z_from_seeds(list(seeds), self.z_dim)

    def synthesize(self, z: torch.Tensor) -> np.ndarray:
        """Latents (N, z_dim) -> uint8 images (N, H, W, C)."""
        return to_uint8(synthesize(self.G, z))

    def generate(self, seeds) -> np.ndarray:
        """Seeds (an iterable of ints) -> uint8 images (N, H, W, C); same seed, same image."""
        return self.synthesize(self.z(list(seeds)))

    def __repr__(self) -> str:
        return (f"<ganvas Model {self.family} {self.resolution}px x{self.channels} "
                f"kimg={self.kimg:g} from {self.path}>")


def load(model: str | os.PathLike, device: str = "cpu") -> Model:
    """Load a run directory (its newest snapshot), a snapshot or an exported model."""
    folder = checkpoint.resolve_model_dir(model)
    G, info = checkpoint.load_generator(folder)
    return Model(G.to(device), info, folder)


def train(data: str, out: str | os.PathLike = "runs", model: str = "dcgan",
          progress: bool = True, **options) -> Path:
    """Train a new run on `data` (archive, image folder or demo:NAME) with preset `model`;
    `options` are ModelConfig / TrainConfig fields (resolution, kimg, minutes, batch, seed,
    snap_kimg, mirror, lr_g, lr_d, label_smoothing, instance_noise, ...). Returns the run dir."""
    unknown = set(options) - MODEL_OPTIONS - TRAIN_OPTIONS
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}; valid: "
                          f"{', '.join(sorted(MODEL_OPTIONS | TRAIN_OPTIONS))}")
    model_opts = {k: v for k, v in options.items() if k in MODEL_OPTIONS}
    train_opts = {k: v for k, v in options.items() if k in TRAIN_OPTIONS}
    cfg = preset_config(model, model=model_opts, train={**train_opts, "data": data})
    if options.get("minutes") is not None and options.get("kimg") is None:
        cfg.train.kimg = None                       # a time budget replaces the preset's kimg
    if model_opts.get("resolution") is None:
        cfg.model.resolution = 0                    # 0 = take it from the dataset
    return loop.start(cfg, out, progress=progress)


def resume(run_dir: str | os.PathLike, kimg: float | None = None, minutes: float | None = None,
           progress: bool = True) -> Path:
    """Continue a run from its newest snapshot (see training.loop.resume)."""
    return loop.resume(run_dir, kimg=kimg, minutes=minutes, progress=progress)


def demo(out: str | os.PathLike = "ganvas-demo", minutes: float = 5.0, seed: int = 0,
         progress: bool = True) -> dict[str, Path]:
    """Train a small DCGAN on the bundled emoji for `minutes`, then write a sample grid and a
    latent-walk GIF. Returns {"run": ..., "grid": ..., "walk": ...}.

    It trains at 32x32 (the 64px emoji downsampled): on a laptop CPU that is four times the
    steps of 64px in the same minutes, which is what turns noise into emoji-like shapes."""
    out = Path(out)
    run = train("demo:emoji", out=out / "runs", model="dcgan", resolution=DEMO_RESOLUTION,
                g_width=32, d_width=32, minutes=minutes, mirror=True, seed=seed, snap_kimg=50,
                progress=progress)
    m = load(run)
    scale = 128 // DEMO_RESOLUTION
    grid = save_png(make_grid(m.generate(range(64)), pad=2), out / "grid.png", scale=scale // 2)
    frames = m.synthesize(walk(m.z([0, 1, 2, 3, 4, 5]), frames_per_step=12))
    gif = save_gif(list(frames), out / "walk.gif", fps=12, scale=scale * 2)
    return {"run": run, "grid": grid, "walk": gif}
