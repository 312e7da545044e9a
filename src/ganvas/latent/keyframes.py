"""The keyframes of a walk: from seeds, from one seed across classes, or from a latents file.

Latents file (.npz, written by `save_latents`, read by `load_latents`), one row per keyframe:
    "z"       float (K, z_dim)                    latents before the mapping network; or
    "w"       float (K, num_ws, w_dim) or (K, w_dim)   StyleGAN2 ws (a (K, w_dim) row is used
                                                  for every layer);
    "labels"  int (K,), optional                  class indices for "z" of a conditional model
                                                  (refused for an unconditional one).
A file may hold both "z" and "w"; --space picks one (default: z when present).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import GanvasError
from .look import Look
from .sampling import check_seeds

MAX_KEYFRAMES = 100_000          # rows of a latents file, seeds of a walk
MAX_NPZ_VALUES = 1 << 28         # numbers in all of a latents file's arrays (1 GiB float32)
MAX_NPZ_ARRAYS = 16


@dataclass
class Keyframes:
    """K keyframes in one space.
    space "z": latents (K, z_dim); classes (K, E) float class embeddings for a conditional model
               (rows of the class table; a class walk interpolates them), else None.
    space "w": latents (K, num_ws, w_dim), truncation and class already applied; classes None."""
    space: str
    latents: torch.Tensor
    classes: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.latents)


def in_space(sampler, z: torch.Tensor, labels: torch.Tensor | None, space: str,
             truncation: float) -> Keyframes:
    """z (K, z_dim) + int64 labels (K,) or None -> keyframes in `space`."""
    if space == "w":
        return Keyframes("w", sampler.to_w(z, labels, truncation))
    classes = None if labels is None else sampler.class_table()[labels]
    return Keyframes("z", z, classes)


def from_seeds(sampler, seeds: list[int], look: Look = Look(), space: str = "z") -> Keyframes:
    """One keyframe per seed; a conditional model's class is the look's, or seed % num_classes
    (as in Model.generate); w keyframes get the look's truncation."""
    sampler.check_space(space)
    return in_space(sampler, sampler.z(seeds), sampler.labels(seeds, look.label), space,
                    look.truncation)


def from_class_walk(sampler, seed: int, classes: list, space: str = "z",
                    truncation: float = 1.0) -> Keyframes:
    """One latent (the seed's z), one keyframe per class name or index: in z space the walk
    interpolates the class embedding with z fixed; in w space it interpolates the ws that the
    mapping network gives z with each class."""
    sampler.check_space(space)
    labels = torch.tensor([sampler.class_index(c) for c in classes], dtype=torch.int64)
    return in_space(sampler, sampler.z([seed]).repeat(len(labels), 1), labels, space, truncation)


def save_latents(path: str | os.PathLike, z=None, w=None, labels=None) -> Path:
    """Write a latents file (format in the module docstring); arrays or tensors, K rows each."""
    arrays = {k: np.asarray(v.cpu() if torch.is_tensor(v) else v)
              for k, v in (("z", z), ("w", w), ("labels", labels)) if v is not None}
    if "z" not in arrays and "w" not in arrays:
        raise GanvasError("a latents file needs z or w")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a latents file; a GanvasError when it is missing or not an .npz."""
    path = Path(path)
    if not path.is_file():
        raise GanvasError(f"latents file not found: {path}")
    check_npz_headers(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise GanvasError(f"{path} is not a readable .npz latents file ({e})") from None


def npy_header(f) -> tuple[tuple, np.dtype]:
    """(shape, dtype) from the header of an open .npy stream, reading nothing else."""
    version = np.lib.format.read_magic(f)
    read = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"unsupported .npy version {version}")
    shape, _, dtype = read(f)
    return shape, dtype


def check_npz_headers(path: Path) -> None:
    """Before loading: every member an .npy array of numbers, at most MAX_KEYFRAMES rows and
    MAX_NPZ_VALUES numbers in all, read from the npy headers (no array is decompressed)."""
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if len(members) > MAX_NPZ_ARRAYS:
                raise GanvasError(f"{path}: {len(members)} arrays; a latents file has at most "
                                  f"{MAX_NPZ_ARRAYS}")
            for info in members:
                with z.open(info) as f:
                    shape, dtype = npy_header(f)
                if dtype.kind not in "biuf":
                    raise GanvasError(f"{path}: {info.filename} holds {dtype}, not numbers")
                if shape and shape[0] > MAX_KEYFRAMES:
                    raise GanvasError(f"{path}: {info.filename} has {shape[0]:,} rows; at most "
                                      f"{MAX_KEYFRAMES:,} keyframes")
                total += int(np.prod(shape, dtype=object))
                if total > MAX_NPZ_VALUES:
                    raise GanvasError(f"{path}: its arrays declare {total:,} numbers; at most "
                                      f"{MAX_NPZ_VALUES:,} in a latents file")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise GanvasError(f"{path} is not a readable .npz latents file ({e})") from None


def from_npz(sampler, path: str | os.PathLike, look: Look = Look(),
             space: str | None = None) -> Keyframes:
    """Keyframes from a latents file; space None = z when the file has z, else w. The look's
    class replaces the file's labels; its truncation applies to w keyframes."""
    arrays = read_npz(path)
    if "labels" in arrays and not sampler.num_classes:
        raise GanvasError(f"{path} holds 'labels', but {sampler.name} is an unconditional "
                          f"model: it has no classes (remove them from the file)")
    if space is None:
        space = "z" if "z" in arrays else "w"
        if space not in sampler.capabilities.latent_spaces():
            raise GanvasError(f"{path} holds only w latents, and {sampler.name} "
                              f"({sampler.family}) has no w space")
    sampler.check_space(space)
    if space not in arrays:
        raise GanvasError(f"{path} has no {space!r} array (it has "
                          f"{', '.join(arrays) or 'nothing'}); see ganvas.latent.keyframes")
    x = torch.from_numpy(np.asarray(arrays[space], dtype=np.float32))
    if not torch.isfinite(x).all():
        raise GanvasError(f"{path}: {space!r} has NaN or infinite values")
    if space == "w":
        return Keyframes("w", sampler.truncate_w(w_rows(sampler, x, path), look.truncation))
    if x.ndim != 2 or x.shape[1] != sampler.z_dim:
        raise GanvasError(f"{path}: z must be (K, {sampler.z_dim}), not {tuple(x.shape)}")
    labels = npz_labels(sampler, arrays, len(x), look.label, path)
    return in_space(sampler, x, labels, "z", look.truncation)


def w_rows(sampler, w: torch.Tensor, path) -> torch.Tensor:
    """(K, w_dim) or (K, num_ws, w_dim) -> (K, num_ws, w_dim), checked against the model."""
    num_ws, w_dim = sampler.num_ws, sampler.w_dim
    if w.ndim == 2 and w.shape[1] == w_dim:
        return w[:, None].repeat(1, num_ws, 1)
    if w.ndim == 3 and w.shape[1:] == (num_ws, w_dim):
        return w
    raise GanvasError(f"{path}: w must be (K, {num_ws}, {w_dim}) or (K, {w_dim}), "
                      f"not {tuple(w.shape)}")


def npz_labels(sampler, arrays: dict, k: int, label, path) -> torch.Tensor | None:
    """Class indices (K,) for z keyframes of a conditional model: `label` for all, else the
    file's "labels"; None for unconditional models."""
    if label is not None:
        return sampler.labels(range(k), label)          # a clear error if unconditional
    if not sampler.num_classes:
        return None
    if "labels" not in arrays:
        raise GanvasError(f"{path} has no 'labels' for this conditional model; "
                          f"add them to the file or give a class")
    labels = np.asarray(arrays["labels"]).reshape(-1)
    if len(labels) != k or labels.dtype.kind not in "iu":
        raise GanvasError(f"{path}: labels must be {k} integers")
    bad = [int(c) for c in labels if not 0 <= int(c) < sampler.num_classes]
    if bad:
        raise GanvasError(f"{path}: label {bad[0]} is not a class of {sampler.name} (0 to "
                          f"{sampler.num_classes - 1}: {', '.join(sampler.class_names)})"[:300])
    return torch.from_numpy(labels.astype(np.int64))



def build(sampler, seeds=None, latents=None, class_walk=None, space: str | None = None,
          look: Look = Look()) -> Keyframes:
    """Keyframes from exactly one source: `seeds` (ints), `latents` (a latents file), or
    `class_walk` (class names or indices; with at most one seed, default 0). The look's label
    fixes the class of seed and z-file keyframes, its truncation that of w keyframes; space
    None = z (w for a file holding only w)."""
    if latents is not None:
        if seeds is not None or class_walk:
            raise GanvasError("give keyframes one way: seeds, a latents file or a class walk")
        return from_npz(sampler, latents, look, space)
    if class_walk:
        if look.label is not None:
            raise GanvasError("a class walk chooses the classes itself: drop the class option")
        seeds = [0] if seeds is None else check_seeds(seeds, MAX_KEYFRAMES)
        if len(seeds) != 1:
            raise GanvasError(f"a class walk keeps one latent fixed: give one seed, "
                              f"not {len(seeds)}")
        if len(class_walk) > MAX_KEYFRAMES:
            raise GanvasError(f"a class walk of {len(class_walk):,} classes: at most "
                              f"{MAX_KEYFRAMES:,} keyframes")
        return from_class_walk(sampler, seeds[0], list(class_walk), space or "z",
                               look.truncation)
    if seeds is None:
        raise GanvasError("give keyframes: seeds (e.g. 3,7,11), a latents .npz file or a "
                          "class walk")
    return from_seeds(sampler, check_seeds(seeds, MAX_KEYFRAMES), look, space or "z")
