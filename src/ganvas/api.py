"""The public Python API; the CLI only parses arguments and calls these."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from . import resolve
from .errors import GanvasError
from .imaging import make_grid, save_png, to_uint8
from .latent import keyframes
from .latent.animate import Walk, WalkOptions, write_walk
from .latent.explore import explore as sweep_dims
from .latent.sampling import synthesize, z_from_seeds
from .latent.stylemix import style_mix as mix_styles
from .latent.video import check_scale, output_format
from .resolve import Resolved
from .training import loop
from .device import fast_precision, pick_device

DEMO_RESOLUTION = 32


class Model:
    """A trained generator ready to make pictures (loaded with `ganvas.load`)."""

    def __init__(self, G: torch.nn.Module, info: dict, path: Path):
        self.G, self.info, self.path = G, info, path
        m = info["model"]
        self.family = m["family"]
        self.resolution, self.channels, self.z_dim = m["resolution"], m["channels"], m["z_dim"]
        self.num_classes = m.get("num_classes", 0)
        self.kimg = info.get("kimg", 0.0)
        names = info.get("dataset", {}).get("class_names", [])
        self.class_names = names if len(names) == self.num_classes else \
            [str(i) for i in range(self.num_classes)]

    def z(self, seeds: list[int]) -> torch.Tensor:
        """Latents (N, z_dim) of the given seeds (each seed always gives the same latent)."""
        return z_from_seeds(list(seeds), self.z_dim)

    def w(self, seeds: list[int], label: int | str | None = None,
          truncation: float = 1.0) -> torch.Tensor:
        """StyleGAN2: the ws (N, num_ws, w_dim) of the seeds (classes as in `labels`), after
        truncation; what a walk in w space starts from. A clear error for other families."""
        return keyframes.from_seeds(self, list(seeds), label, "w", truncation).latents

    def class_index(self, label: int | str) -> int:
        """A class name or index -> its index; a clear error for unconditional models and
        unknown classes."""
        if not self.num_classes:
            raise GanvasError(f"{self.path} is an unconditional model: it has no classes")
        if isinstance(label, str) and label in self.class_names:
            return self.class_names.index(label)
        if isinstance(label, int) or (isinstance(label, str) and label.isdigit()):
            if 0 <= int(label) < self.num_classes:
                return int(label)
        raise GanvasError(f"unknown class {label!r}; choose from "
                          f"{', '.join(self.class_names)} (or 0-{self.num_classes - 1})")

    def labels(self, seeds: list[int], label: int | str | None = None) -> torch.Tensor | None:
        """Class labels (N,) for `seeds`: the class asked for, or for a conditional model
        without one, class seed % num_classes (so a seed's image never depends on the others).
        None for unconditional models."""
        if label is not None:
            return torch.full((len(seeds),), self.class_index(label), dtype=torch.int64)
        if not self.num_classes:
            return None
        return torch.tensor([s % self.num_classes for s in seeds], dtype=torch.int64)

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                   truncation: float = 1.0, noise_mode: str | None = None) -> np.ndarray:
        """Latents (N, z_dim) [+ labels (N,)] -> uint8 images (N, H, W, C).

        truncation psi pulls each latent towards the average one (1 = none, 0 = the average
        image, negative = the "opposite" side): in w space for StyleGAN2 (towards w_avg), in z
        space for the others (z * psi, towards the mean of the prior). noise_mode (StyleGAN2
        only): const (default), random or none."""
        style = {}
        if self.family == "stylegan2":
            style = {"truncation_psi": truncation, "noise_mode": noise_mode or "const"}
        else:
            if noise_mode is not None:
                raise GanvasError(f"--noise-mode is for StyleGAN2 models; {self.path} is "
                                  f"{self.family}")
            z = z * truncation
        return to_uint8(synthesize(self.G, z, labels, **style))

    def generate(self, seeds, label: int | str | None = None, truncation: float = 1.0,
                 noise_mode: str | None = None) -> np.ndarray:
        """Seeds (an iterable of ints) -> uint8 images (N, H, W, C); same seed, same image.
        `label`: class name or index for conditional models; truncation and noise_mode as in
        `synthesize`."""
        seeds = list(seeds)
        return self.synthesize(self.z(seeds), self.labels(seeds, label), truncation, noise_mode)

    def walk(self, seeds=None, latents=None, class_walk=None, label: int | str | None = None,
             space: str | None = None, truncation: float = 1.0, storyboard: bool = False,
             **options) -> Walk:
        """A walk through keyframes as a lazy frame sequence: len(walk) frames,
        walk.frames(start, stop) -> uint8 (n, H, W, C). Keyframes and `options`
        (frames_per_step, loop, method, easing, noise_mode) as in `interpolate`; storyboard:
        one row of frames_per_step + 1 frames per step instead of the animation."""
        keys = keyframes.build(self, seeds, latents, class_walk, label, space, truncation)
        return Walk(self, keys, WalkOptions(truncation=truncation, **options), storyboard)

    def interpolate(self, out: str | os.PathLike, seeds=None, latents=None, class_walk=None,
                    label: int | str | None = None, space: str | None = None,
                    truncation: float = 1.0, fps: float = 24, scale: int = 1,
                    progress: bool = True, **options) -> Path:
        """Write a walk through keyframes to `out`: .mp4 (H.264, streamed to disk), .gif or
        .png (a grid, one row per step from keyframe to keyframe); atomically.

        Keyframes, exactly one of: `seeds` (ints); `latents`, a .npz file with "z" (K, z_dim)
        [+ "labels" (K,)] or "w" (K, num_ws, w_dim) or (K, w_dim) (ganvas.latent.keyframes);
        `class_walk`, classes (names or indices) of a conditional model visited with one
        fixed latent (seeds: at most one, default 0), interpolating the class embedding.
        `label` fixes a conditional model's class (default: seed % num_classes).
        space: "z" (default) or "w" (StyleGAN2: interpolate after the mapping network).
        options: frames_per_step (24), loop (False: K - 1 steps and a last frame on the last
        keyframe; True: K steps back to the first, the last frame just before it), method
        ("slerp" or "lerp"), easing ("linear" or "smooth"), noise_mode (StyleGAN2).
        truncation psi as in `synthesize`; fps (24); scale: nearest-neighbour enlargement."""
        output_format(out)
        check_scale(scale)
        keys = keyframes.build(self, seeds, latents, class_walk, label, space, truncation)
        return write_walk(self, keys, WalkOptions(truncation=truncation, **options), out,
                          fps=fps, scale=scale, progress=progress)

    def explore(self, seed: int, dims: list[int], lo: float = -3.0, hi: float = 3.0,
                steps: int = 7, space: str | None = None, label: int | str | None = None,
                truncation: float = 1.0, noise_mode: str | None = None) -> np.ndarray:
        """uint8 (len(dims), steps, H, W, C): row r moves latent dimension dims[r] of the
        seed by linspace(lo, hi, steps); z for DCGAN-style models, w (in units of w's std)
        for StyleGAN2 by default (ganvas.latent.explore)."""
        return sweep_dims(self, seed, list(dims), lo, hi, steps, space, label, truncation,
                          noise_mode)

    def style_mix(self, rows, cols, styles: str = "coarse", label: int | str | None = None,
                  truncation: float = 1.0, noise_mode: str | None = None) -> np.ndarray:
        """StyleGAN2 style-mixing grid, uint8 (R + 1, C + 1, H, W, C): top row the column
        seeds, left column the row seeds, cell (r, c) row seed r with the `styles` layers
        ("coarse", "middle", "fine" or w indices like "0-3") from column seed c
        (ganvas.latent.stylemix)."""
        return mix_styles(self, list(rows), list(cols), styles, label, truncation, noise_mode)

    def project(self, targets, out: str | os.PathLike = "projection", steps: int = 1000,
                seed: int = 0, label: int | str | None = None, w_plus: bool = False,
                feature_weights: str | os.PathLike | None = None, video: str | None = None,
                fps: float = 30, scale: int = 1, progress: bool = True,
                callback=None) -> dict:
        """Find latents whose pictures reproduce the image files `targets` (one or a list);
        write to folder `out` latent.npz (keyframes for `interpolate`), reconstruction.png
        (targets beside reconstructions), projection.json (returned: distances before and
        after) and, with `video` (a file name ending .mp4 or .gif), the optimisation.
        StyleGAN2: w from w_avg (one w for all layers; `w_plus`: one per layer); others: z.
        Distance: VGG-16 (`feature_weights`, else found as ganvas.metrics.weights does) or,
        without weights, a Laplacian-pyramid pixel loss (ganvas.latent.project).
        callback(step, steps, distance): called after every step (e.g. a progress bar)."""
        from .latent.project import ProjectOptions, project
        if isinstance(targets, (str, os.PathLike)):
            targets = [targets]
        options = ProjectOptions(steps=steps, seed=seed, label=label, w_plus=w_plus)
        return project(self, list(targets), out, options, feature_weights=feature_weights,
                       video=video, fps=fps, scale=scale, progress=progress,
                       callback=callback)

    def export(self, out: str | os.PathLike, format: str = "safetensors",
               uint8: bool = False) -> Path:
        """Write the generator to `out`: "safetensors" = a standalone model folder
        (model.json + G_ema.safetensors), "onnx" = out/generator.onnx, checked against
        PyTorch with onnxruntime (uint8: uint8 NHWC output); see ganvas.export."""
        from .export import export
        return export(self, out, format, uint8=uint8)

    def __repr__(self) -> str:
        return (f"<ganvas Model {self.family} {self.resolution}px x{self.channels} "
                f"kimg={self.kimg:g} from {self.path}>")


def load(model: str | os.PathLike, device: str = "auto") -> Model:
    """Load a run directory (its newest snapshot), a snapshot or an exported model onto
    `device` (ganvas.device.pick_device: auto = CUDA, then MPS, then CPU)."""
    folder = checkpoint.resolve_model_dir(model)
    G, info = checkpoint.load_generator(folder)
    return Model(G.to(pick_device(device)), info, folder)


def train(data: str | os.PathLike | None = None, out: str | os.PathLike = "runs",
          model: str | None = None, progress: bool = True,
          config: str | os.PathLike | None = None, dry_run: bool = False,
          **options) -> Path | Resolved:
    """Train a new run on `data` (archive, image folder or demo:NAME) with preset `model`
    (dcgan, wgan-gp, cgan, cwgan-gp, stylegan2 and their -tiny twins; default dcgan, or with
    init_from the source model's preset); returns the run directory.

    `options` are the training options (ganvas.options; `ganvas train --help` lists them with
    their flags): ModelConfig / TrainConfig fields (resolution, kimg, minutes, batch, seed,
    loss, n_critic, z_dim, ema_kimg, spectral_norm, d_norm, gate_d, init_from, freeze_d,
    precision, ...), conditional=True (any preset conditioned on the dataset's labels),
    augmentation (aug="ada"|"fixed"|"diffaug"|"none", p, target, augpipe, ada_kimg,
    ada_interval, diffaug="color,translation,cutout", classic_aug=True, aug_crop, aug_rotate,
    aug_shear, aug_brightness, aug_contrast) and metrics measured during training
    (metrics="swd,fid", metrics_every kimg (0: at each snapshot), metrics_num, best_metric,
    extractor, feature_weights). None means "not given"; ganvas.options.OFF turns an optional
    one off (gate_d=OFF).

    config: a run's config.json (or part of one) replayed: its values replace the preset's,
    `options` replace its; `data` defaults to its train.data. dry_run: return the resolved
    configuration (a `Resolved`: .config, and .sources saying where each value came from)
    without writing anything. Every option is checked before any file is written."""
    plan = resolve.plan(data, model, config, options)
    if dry_run:
        return plan
    return loop.start(plan.config, out, progress=progress)


def resume(run_dir: str | os.PathLike, kimg: float | None = None, minutes: float | None = None,
           progress: bool = True) -> Path:
    """Continue a run from its newest snapshot (see training.loop.resume)."""
    return loop.resume(run_dir, kimg=kimg, minutes=minutes, progress=progress)


def demo(out: str | os.PathLike = "ganvas-demo", minutes: float = 5.0, seed: int = 0,
         progress: bool = True, precision: str | None = None) -> dict[str, Path]:
    """Train a small DCGAN on the bundled emoji for `minutes`, then write a sample grid and a
    latent-walk GIF. Returns {"run": ..., "grid": ..., "walk": ...}.

    It trains at 32x32 (the 64px emoji downsampled): on a laptop CPU that is four times the
    steps of 64px in the same minutes, which is what turns noise into emoji-like shapes. On a
    CPU with native bfloat16 it trains in bf16 (more steps per minute; `precision` overrides)."""
    out = Path(out)
    run = train("demo:emoji", out=out / "runs", model="dcgan", resolution=DEMO_RESOLUTION,
                g_width=32, d_width=32, minutes=minutes, mirror=True, seed=seed, snap_kimg=50,
                precision=precision or fast_precision(pick_device("auto")), progress=progress)
    m = load(run)
    scale = 128 // DEMO_RESOLUTION
    grid = save_png(make_grid(m.generate(range(64)), pad=2), out / "grid.png", scale=scale // 2)
    gif = m.interpolate(out / "walk.gif", seeds=range(6), frames_per_step=12, loop=True,
                        fps=12, scale=scale * 2, progress=False)
    return {"run": run, "grid": grid, "walk": gif}


def report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the run's self-contained report page (default run_dir/report.html) with its
    curves, reals beside fakes, latest grid and progress GIF; returns the HTML path."""
    from .report import write_report
    return write_report(run_dir, out=out)
