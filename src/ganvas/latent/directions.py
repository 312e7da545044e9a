"""Meaningful directions in a model's latent space, found without labels, and their file.

- SeFa (Shen & Zhou 2021, "Closed-form factorization of latent semantics in GANs"): the
  directions n that the weights first acting on the latent, A (F outputs x D latent), stretch
  most, i.e. the top eigenvectors of A^T A, each output's row of A normalised to unit length
  first, as the authors' code does (so no channel outweighs another by its scale). A is
  G.latent_weights(layers): StyleGAN2's style affines of the convolutions reading the w
  indices `layers` (default all; the last index: the last toRGB's), the first layer of the
  other families. Linear algebra on the weights, no sampling.
- PCA (GANSpace, Härkönen et al. 2020): principal components of PCA_SAMPLES sampled latents'
  images under those first weights: for StyleGAN2 of w itself (untruncated, one w per
  latent); for the others of the first layer's activations A z, mapped back to z by least
  squares (GANSpace's regression).

A direction set is saved as .npz: "directions" (K, D) float32 unit rows, "values" (K,)
(eigenvalues / explained variances, largest first), "space" ("w" or "z"), "method", and
"layers" (the w indices a StyleGAN2 direction applies to; empty = all).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import GanvasError
from ..durable import atomic_save

METHODS = ("sefa", "pca")
PCA_SAMPLES = 10_000
PCA_SEED = 0xD1
MAX_DIRECTIONS = 512
MIN_LENGTH = 1e-6               # a direction shorter than this moves no picture (found ones are 1)


@dataclass(frozen=True)
class Directions:
    vectors: np.ndarray          # (K, D) float32, unit rows
    values: np.ndarray           # (K,) float64, largest first
    space: str                   # "w" or "z"
    method: str
    layers: tuple[int, ...] = ()

    def save(self, path: str | Path) -> Path:
        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, directions=self.vectors.astype(np.float32),
                         values=self.values.astype(np.float64), space=np.array(self.space),
                         method=np.array(self.method),
                         layers=np.array(self.layers, dtype=np.int64))
        return atomic_save(Path(path), write)


def load_directions(path: str | Path, dim: int | None = None) -> Directions:
    """A direction file, checked (no pickles; shapes, finite values, no direction of length
    (nearly) 0, the model's size)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            vectors, values = np.asarray(f["directions"]), np.asarray(f["values"])
            space, method = str(f["space"]), str(f["method"])
            layers = tuple(int(i) for i in np.asarray(f["layers"]).reshape(-1))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise GanvasError(f"{path} is not a direction file (ganvas directions writes one): "
                          f"{type(e).__name__}") from None
    if vectors.ndim != 2 or not 1 <= len(vectors) <= MAX_DIRECTIONS or \
            values.shape != (len(vectors),) or space not in ("w", "z"):
        raise GanvasError(f"{path}: expected directions (K, D), values (K,) and space w or z")
    if not (np.isfinite(vectors).all() and np.isfinite(values).all()):
        raise GanvasError(f"{path}: the directions are not finite numbers")
    lengths = np.linalg.norm(vectors.astype(np.float64), axis=1)
    if (lengths < MIN_LENGTH).any():
        k = int(np.argmax(lengths < MIN_LENGTH))
        raise GanvasError(f"{path}: direction {k} is all zeros (length {lengths[k]:.2g}): "
                          f"walking along it changes nothing")
    if dim is not None and vectors.shape[1] != dim:
        raise GanvasError(f"{path} holds directions of size {vectors.shape[1]}; this model's "
                          f"{space} has {dim} dimensions")
    return Directions(vectors.astype(np.float32), values.astype(np.float64), space, method,
                      layers)


def check_layers(sampler, layers: list[int] | None) -> None:
    if layers is None:
        return
    if "w" not in sampler.capabilities.latent_spaces():
        raise GanvasError("--layers picks w indices: this model has no w space (its "
                          "directions act on z)")
    bad = [i for i in layers if not 0 <= i < sampler.num_ws]
    if bad:
        raise GanvasError(f"layer(s) {', '.join(map(str, bad))} out of range: this model has "
                          f"w indices 0-{sampler.num_ws - 1}")


def top_eigen(matrix: torch.Tensor, num: int) -> tuple[np.ndarray, np.ndarray]:
    """The top `num` eigenvectors (rows) and eigenvalues of a symmetric matrix."""
    values, vectors = torch.linalg.eigh(matrix.double())
    order = torch.argsort(values, descending=True)[:num]
    return vectors[:, order].t().float().numpy(), values[order].numpy()


def sefa(sampler, num: int = 10, layers: list[int] | None = None) -> Directions:
    check_layers(sampler, layers)
    weight = sampler.G.latent_weights(layers).cpu()            # (F, D)
    weight = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)   # unit output rows
    num = check_num(num, weight.shape[1])
    vectors, values = top_eigen(weight.t() @ weight, num)
    return Directions(vectors, values, space_of(sampler), "sefa", tuple(layers or ()))


def pca(sampler, num: int = 10, layers: list[int] | None = None) -> Directions:
    check_layers(sampler, layers)
    gen = torch.Generator().manual_seed(PCA_SEED)
    z = torch.randn(PCA_SAMPLES, sampler.z_dim, generator=gen)
    labels = None
    if sampler.num_classes:
        labels = torch.randint(0, sampler.num_classes, (PCA_SAMPLES,), generator=gen)
    space = space_of(sampler)
    if space == "w":
        feats = sampler.to_w(z, labels)[:, 0].double()           # (N, w_dim)
        num = check_num(num, feats.shape[1])
        centred = feats - feats.mean(0)
        vectors, values = top_eigen(centred.t() @ centred / (len(feats) - 1), num)
        return Directions(vectors, values, "w", "pca", tuple(layers or ()))
    weight = sampler.G.latent_weights(None).cpu().double()      # (F, z_dim)
    acts = z.double() @ weight.t()                               # the first layer's output
    centred = acts - acts.mean(0)
    num = check_num(num, z.shape[1])
    components, values = top_eigen(centred.t() @ centred / (len(acts) - 1), num)
    coords = centred @ torch.from_numpy(components).double().t()   # (N, num)
    # GANSpace: regress z on the activations' principal coordinates.
    solution = torch.linalg.lstsq(coords, z.double() - z.double().mean(0)).solution
    vectors = solution / solution.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return Directions(vectors.float().numpy(), values, "z", "pca")


def find_directions(sampler, method: str = "sefa", num: int = 10,
                    layers: list[int] | None = None) -> Directions:
    if method not in METHODS:
        raise GanvasError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    with torch.no_grad():
        return (sefa if method == "sefa" else pca)(sampler, num, layers)


def space_of(sampler) -> str:
    return "w" if "w" in sampler.capabilities.latent_spaces() else "z"


def check_num(num: int, dim: int) -> int:
    if not 1 <= num <= min(dim, MAX_DIRECTIONS):
        raise GanvasError(f"--num {num}: give 1 to {min(dim, MAX_DIRECTIONS)} directions "
                          f"(the latent has {dim} dimensions)")
    return num
