"""Sweeps of single latent dimensions: what does dimension d do to this seed's picture?

Row r of a sweep moves dimension dims[r] of the seed's latent by each value of
linspace(lo, hi, steps), the other dimensions fixed:
  z space (every family): z[d] + value (z is standard normal, so values are in std units);
  w space (families with one, e.g. StyleGAN2; their default): w[:, d] + value * std_d in
      every layer, where std_d is the standard deviation of dimension d of untruncated w
      over W_STD_SAMPLES latents drawn from a fixed seed (so values are in units of w's own
      spread, like z's).
A symmetric range with an odd number of steps has value 0, the unchanged seed, in the middle.
A sweep's grid PNG names its rows ("z[10]", "w[3]", "dir 2": dim_labels, direction_labels)
and columns ("-3.0", "0", "+1.5": value_labels) in a margin (imaging.label_grid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import GanvasError
from ..durable import atomic_save
from ..imaging import to_uint8
from ..limits import check_seed
from ..outputs import check_npz
from .keyframes import save_latents
from .look import Look

W_STD_SAMPLES = 4096
W_STD_SEED = 0x5EED
MAX_STEPS = 64
MAX_DIMS = 64


def parse_dims(text: str, limit: int = MAX_DIMS) -> list[int]:
    """'0,10,20-22' -> [0, 10, 20, 21, 22]; a GanvasError for anything else and for more than
    `limit` dimensions (counted before any range is built)."""
    dims: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise GanvasError(f"bad dims {text!r}: use numbers and ranges like 0,10,20-23")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if len(dims) + hi - lo + 1 > limit:
            raise GanvasError(f"too many dims in {text!r}: at most {limit} rows")
        dims.extend(range(lo, hi + 1))
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


def value_labels(lo: float, hi: float, steps: int) -> list[str]:
    """The column labels of a sweep: each shift of linspace(lo, hi, steps), signed, e.g.
    -3 3 7 -> ['-3.0', '-2.0', '-1.0', '0', '+1.0', '+2.0', '+3.0']."""
    tiny = 1e-6 * max(abs(lo), abs(hi))
    labels = []
    for v in torch.linspace(lo, hi, steps).tolist():
        text = f"{v:+.3g}"
        labels.append("0" if abs(v) <= tiny else text if "." in text or "e" in text
                      else f"{text}.0")
    return labels


def dim_labels(dims: list[int], space: str) -> list[str]:
    """The row labels of a sweep of dimensions: [10, 20] in z -> ['z[10]', 'z[20]']."""
    return [f"{space}[{d}]" for d in dims]


def direction_labels(rows: list[int]) -> list[str]:
    """The row labels of a sweep along directions: [0, 2] -> ['dir 0', 'dir 2']."""
    return [f"dir {r}" for r in rows]


def w_samples(sampler) -> torch.Tensor:
    """Families with a w space: (W_STD_SAMPLES, w_dim) untruncated w of fixed random latents
    (random classes for a conditional model)."""
    gen = torch.Generator().manual_seed(W_STD_SEED)
    z = torch.randn(W_STD_SAMPLES, sampler.z_dim, generator=gen)
    labels = None
    if sampler.num_classes:
        labels = torch.randint(0, sampler.num_classes, (W_STD_SAMPLES,), generator=gen)
    return sampler.to_w(z, labels)[:, 0]


def w_std(sampler) -> torch.Tensor:
    """(w_dim,) std of w over the w_samples."""
    return w_samples(sampler).std(dim=0)


def explore(sampler, seed: int, dims: list[int], lo: float = -3.0, hi: float = 3.0,
            steps: int = 7, space: str | None = None, look: Look = Look(),
            latents_out=None) -> np.ndarray:
    """uint8 (len(dims), steps, H, W, C): row r is the seed's picture, made with `look`, with
    dimension dims[r] moved by linspace(lo, hi, steps) (the module docstring: the units)."""
    check_seed(seed)
    space = space or sampler.capabilities.default_space()
    sampler.check_space(space)
    size = sampler.w_dim if space == "w" else sampler.z_dim
    check_sweep(dims, size, space, lo, hi, steps)
    values = torch.linspace(lo, hi, steps)
    shifts = torch.zeros(len(dims), steps, size)
    for r, d in enumerate(dims):
        shifts[r, :, d] = values
    if space == "w":
        shifts = shifts * w_std(sampler)
    return render_shifts(sampler, seed, shifts, space, look, latents_out=latents_out)


def render_shifts(sampler, seed: int, shifts: torch.Tensor, space: str, look: Look,
                  layers: tuple[int, ...] = (), latents_out=None) -> np.ndarray:
    """uint8 (rows, steps, H, W, C): the seed's picture with its latent (z, or w in every
    layer or in `layers`) moved by each of shifts (rows, steps, size). `latents_out`: also
    save the cells' latents there (Shifted.save), row by row."""
    rows, steps = shifts.shape[:2]
    keys = shifted_keyframes(sampler, seed, shifts, space, look, layers)
    if latents_out is not None:
        keys.save(latents_out)
    if keys.space == "z":
        images = sampler.images(keys.latents, keys.labels, look)
    else:
        images = sampler.images_from_w(keys.latents, look)
    pictures = to_uint8(images)                                  # (rows * steps, H, W, C)
    return pictures.reshape(rows, steps, *pictures.shape[1:])


@dataclass
class Shifted:
    """The latents of a sweep's cells, row by row: z (N, z_dim) with int64 labels (N,) or
    None, or w (N, num_ws, w_dim) with truncation and class applied (labels None)."""
    space: str
    latents: torch.Tensor
    labels: torch.Tensor | None

    def save(self, path) -> Path:
        """Write them as a latents file (latent.keyframes) that `interpolate --latents` walks."""
        check_npz(path)
        arrays = {self.space: self.latents}
        if self.labels is not None:
            arrays["labels"] = self.labels
        return atomic_save(path, lambda tmp: save_latents(tmp, **arrays))


def shifted_keyframes(sampler, seed: int, shifts: torch.Tensor, space: str, look: Look,
                      layers: tuple[int, ...] = ()) -> Shifted:
    """The latents of render_shifts' cells, rows * steps of them in row order."""
    size = shifts.shape[-1]
    shifts = shifts.reshape(-1, size)                            # (rows * steps, size)
    z = sampler.z([seed])
    labels = sampler.labels([seed], look.label)
    if space == "z":
        classes = None if labels is None else labels.repeat(len(shifts))
        return Shifted("z", z + shifts, classes)
    w = sampler.to_w(z, labels, look.truncation)                      # (1, num_ws, w_dim)
    where = torch.zeros(sampler.num_ws, 1)
    where[list(layers) if layers else slice(None)] = 1.0
    return Shifted("w", w + shifts[:, None, :] * where, None)


def explore_directions(sampler, seed: int, directions, rows: list[int], lo: float = -3.0,
                       hi: float = 3.0, steps: int = 7, look: Look = Look(),
                       latents_out=None) -> np.ndarray:
    """uint8 (len(rows), steps, H, W, C): row r moves the seed's latent along direction
    rows[r] of `directions` (latent.directions) by linspace(lo, hi, steps), in units of the
    latent's spread along it (z: 1; w: the std of w projected on the direction), in the
    direction's layers (StyleGAN2; default every layer)."""
    check_seed(seed)
    check_sweep(rows, len(directions.vectors), "the direction file", lo, hi, steps)
    chosen = unit_steps(sampler, directions, rows)               # (R, size)
    shifts = torch.linspace(lo, hi, steps)[None, :, None] * chosen[:, None, :]
    return render_shifts(sampler, seed, shifts, directions.space, look, directions.layers,
                         latents_out)


def along_directions(sampler, seed: int, directions, amounts: dict[int, float],
                     look: Look = Look()) -> np.ndarray:
    """uint8 (H, W, C): the seed's picture moved by amounts[r] along direction r for each r at
    once (the page's direction sliders), in the units of explore_directions."""
    check_seed(seed)
    rows = sorted(amounts)
    if any(not 0 <= r < len(directions.vectors) for r in rows):
        raise GanvasError(f"give directions 0-{len(directions.vectors) - 1}, not {rows}")
    size = directions.vectors.shape[1]
    shift = torch.zeros(size)
    if rows:
        steps = unit_steps(sampler, directions, rows)
        shift = (torch.tensor([float(amounts[r]) for r in rows])[:, None] * steps).sum(0)
    return render_shifts(sampler, seed, shift.reshape(1, 1, size), directions.space, look,
                         directions.layers)[0, 0]


def unit_steps(sampler, directions, rows: list[int]) -> torch.Tensor:
    """(len(rows), size): directions[rows] scaled to one unit of the latent's spread along
    each (z: the unit vectors; w: times the std of sampled w projected on them); a GanvasError
    for directions of another model."""
    sampler.check_space(directions.space)
    size = sampler.w_dim if directions.space == "w" else sampler.z_dim
    if directions.vectors.shape[1] != size:
        raise GanvasError(f"the directions have {directions.vectors.shape[1]} dimensions; "
                          f"this model's {directions.space} has {size} (directions of "
                          f"another model?)")
    chosen = torch.from_numpy(directions.vectors)[rows]
    if directions.space == "w":
        chosen = chosen * spread_along(sampler, chosen)[:, None]
    return chosen


def spread_along(sampler, vectors: torch.Tensor) -> torch.Tensor:
    """(R,) std of the w_samples projected on each unit vector."""
    return (w_samples(sampler) @ vectors.t()).std(dim=0)
