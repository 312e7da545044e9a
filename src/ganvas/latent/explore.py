"""Sweeps of single latent dimensions: what does dimension d do to this seed's picture?

Row r of a sweep moves dimension dims[r] of the seed's latent by each value of
linspace(lo, hi, steps), the other dimensions fixed:
  z space (every family): z[d] + value (z is standard normal, so values are in std units);
  w space (StyleGAN2, its default): w[:, d] + value * std_d in every layer, where std_d is
      the standard deviation of dimension d of untruncated w over W_STD_SAMPLES latents drawn
      from a fixed seed (so values are in units of w's own spread, like z's).
A symmetric range with an odd number of steps has value 0, the unchanged seed, in the middle.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from ..errors import GanvasError
from ..imaging import to_uint8
from .keyframes import check_space
from .sampling import MAX_SEED
from .synth import images_from_w, images_from_z, is_stylegan2, map_to_w

W_STD_SAMPLES = 4096
W_STD_SEED = 0x5EED
MAX_STEPS = 64
MAX_DIMS = 64


def parse_dims(text: str) -> list[int]:
    """'0,10,20-22' -> [0, 10, 20, 21, 22]; a GanvasError for anything else."""
    dims: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise GanvasError(f"bad dims {text!r}: use numbers and ranges like 0,10,20-23")
        dims.extend(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return dims


def check_sweep(dims: list[int], size: int, space: str, lo: float, hi: float,
                steps: int) -> None:
    """GanvasErrors for dims outside [0, size), too many rows or steps, a bad range."""
    bad = [d for d in dims if not 0 <= d < size]
    if bad:
        raise GanvasError(f"dimension(s) {', '.join(map(str, bad))} out of range: {space} has "
                          f"{size} dimensions, 0-{size - 1}")
    if not 1 <= len(dims) <= MAX_DIMS:
        raise GanvasError(f"give 1 to {MAX_DIMS} dimensions, not {len(dims)}")
    if not 2 <= steps <= MAX_STEPS:
        raise GanvasError(f"steps must be from 2 to {MAX_STEPS}, not {steps}")
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo == hi:
        raise GanvasError(f"bad range {lo:g} {hi:g}: need two different finite numbers")


def w_std(model) -> torch.Tensor:
    """StyleGAN2: (w_dim,) std of untruncated w over W_STD_SAMPLES fixed random latents
    (random classes for a conditional model)."""
    gen = torch.Generator().manual_seed(W_STD_SEED)
    z = torch.randn(W_STD_SAMPLES, model.z_dim, generator=gen)
    labels = None
    if model.num_classes:
        labels = torch.randint(0, model.num_classes, (W_STD_SAMPLES,), generator=gen)
    return map_to_w(model, z, labels)[:, 0].std(dim=0)


def explore(model, seed: int, dims: list[int], lo: float = -3.0, hi: float = 3.0,
            steps: int = 7, space: str | None = None, label=None, truncation: float = 1.0,
            noise_mode: str | None = None) -> np.ndarray:
    """uint8 (len(dims), steps, H, W, C): row r is the seed's picture with dimension dims[r]
    moved by linspace(lo, hi, steps) (see the module docstring for the units)."""
    if not 0 <= seed <= MAX_SEED:
        raise GanvasError(f"bad seed {seed}: need 0 <= seed <= {MAX_SEED}")
    space = space or ("w" if is_stylegan2(model) else "z")
    check_space(model, space)
    size = model.G.w_dim if space == "w" else model.z_dim
    check_sweep(dims, size, space, lo, hi, steps)
    values = torch.linspace(lo, hi, steps)
    shifts = torch.zeros(len(dims), steps, size)
    for r, d in enumerate(dims):
        shifts[r, :, d] = values
    shifts = shifts.reshape(-1, size)                            # (rows * steps, size)
    z = model.z([seed])
    labels = model.labels([seed], label)
    if space == "z":
        zs = z + shifts
        classes = None if labels is None else labels.repeat(len(zs))
        images = images_from_z(model, zs, classes, truncation, noise_mode)
    else:
        w = map_to_w(model, z, labels, truncation)                  # (1, num_ws, w_dim)
        ws = w + (shifts * w_std(model))[:, None, :]
        images = images_from_w(model, ws, noise_mode)
    pictures = to_uint8(images)                                  # (rows * steps, H, W, C)
    return pictures.reshape(len(dims), steps, *pictures.shape[1:])
