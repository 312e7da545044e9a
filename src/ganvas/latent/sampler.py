"""The one sampler: seeds -> z -> latent -> images for a generator of any family.

Every verb that makes pictures (ganvas.Model, walks, sweeps, style mixing, projection, export's
check, training's grids and metrics, the page) goes through a Sampler, which asks the family's
contract (ganvas.models) what the generator can do and calls its generator interface. Two rules
make a picture depend only on its own seed and settings:
  - each seed owns its latent (sampling.z_from_seeds);
  - the generator always runs on batches of exactly `chunk` rows (the last one padded with
    zeros), so batch norm in eval mode and the kernels see equal batches whatever else was
    asked (sampling.in_chunks).
Inputs besides z (N, z_dim): classes, either int64 labels (N,) or float class embeddings
(N, E) (rows of the class table or points between them, what a class walk interpolates); ws
(N, num_ws, w_dim) for families with a w space. Images come back float (N, C, H, W) in about
[-1, 1] on the CPU; `generate` gives uint8 (N, H, W, C).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import GanvasError
from ..imaging import to_uint8
from ..models import check_noise_mode, families_with, family_of
from .look import Look, check_truncation
from .sampling import in_chunks, z_from_seeds

CHUNK = 16


class Sampler:
    """Seeds and a Look (class, truncation, noise) -> pictures, for generator `G` (in eval mode) of
    the family G.cfg.family. `name` names the model in error messages (e.g. its path)."""

    def __init__(self, G: nn.Module, class_names: list[str] | None = None,
                 name: str = "this model", chunk: int = CHUNK):
        self.G, self.cfg, self.name, self.chunk = G, G.cfg, str(name), chunk
        self.family = self.cfg.family
        self.capabilities = family_of(self.family).capabilities
        self.resolution, self.channels = self.cfg.resolution, self.cfg.channels
        self.aspect, self.shape = self.cfg.aspect, self.cfg.image_shape   # shape: (H, W)
        self.z_dim, self.num_classes = self.cfg.z_dim, self.cfg.num_classes
        names = list(class_names or [])
        self.class_names = names if len(names) == self.num_classes else \
            [str(i) for i in range(self.num_classes)]

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    # ---- seeds and classes ----------------------------------------------------------------
    def z(self, seeds) -> Tensor:
        """Latents (N, z_dim) of the seeds (each seed always gives the same latent)."""
        return z_from_seeds(list(seeds), self.z_dim)

    def class_index(self, label: int | str) -> int:
        """A class name or index -> its index; a clear error for unconditional models and
        unknown classes."""
        if not self.num_classes:
            raise GanvasError(f"{self.name} is an unconditional model: it has no classes")
        if isinstance(label, str) and label in self.class_names:
            return self.class_names.index(label)
        if isinstance(label, (int, np.integer)) or (isinstance(label, str) and label.isdigit()):
            if 0 <= int(label) < self.num_classes:
                return int(label)
        raise GanvasError(f"unknown class {label!r}; choose from "
                          f"{', '.join(self.class_names)} (or 0-{self.num_classes - 1})")

    def labels(self, seeds, label: int | str | None = None) -> Tensor | None:
        """Class labels (N,) for `seeds`: the class asked for, or for a conditional model
        without one, class seed % num_classes (so a seed's image never depends on the others).
        None for unconditional models."""
        seeds = list(seeds)
        if label is not None:
            return torch.full((len(seeds),), self.class_index(label), dtype=torch.int64)
        if not self.num_classes:
            return None
        return torch.tensor([s % self.num_classes for s in seeds], dtype=torch.int64)

    def class_table(self) -> Tensor:
        """The generator's class embeddings (num_classes, E) float32 on the CPU: row c is what
        label c becomes inside G."""
        self.class_index(0)                        # a clear error for unconditional models
        return self.G.class_embedding.weight.detach().float().cpu()

    # ---- what the family can do -------------------------------------------------------------
    def noise_mode(self, noise_mode: str | None) -> str:
        """The noise mode to use (const by default); a clear error where there is none."""
        return check_noise_mode(self.family, noise_mode, self.name)

    def need(self, capability: str, what: str) -> None:
        """A GanvasError unless the family has `capability` (what: the verb or option)."""
        if not getattr(self.capabilities, capability):
            raise GanvasError(f"{what} needs a model with {capability.replace('_', ' ')} "
                              f"({families_with(capability)}); {self.name} is {self.family}")

    def check_space(self, space: str) -> None:
        """A GanvasError for a latent space the family does not have."""
        spaces = self.capabilities.latent_spaces()
        if space not in ("z", "w"):
            raise GanvasError(f"unknown space {space!r}; choose from z, w")
        if space not in spaces:
            raise GanvasError(f"--space {space} needs a model with a w space; {self.name} is "
                              f"{self.family} (spaces: {', '.join(spaces)})")

    @property
    def num_ws(self) -> int:
        self.need("w_space", "w latents")
        return self.G.num_ws

    @property
    def w_dim(self) -> int:
        self.need("w_space", "w latents")
        return self.G.w_dim

    def style_layers(self) -> dict[int, list[int]]:
        """{resolution: [w indices]} of the family's styles (style mixing)."""
        self.need("style_mixing", "style mixing")
        return self.G.style_layers()

    # ---- latents -> pictures ----------------------------------------------------------------
    def run(self, fn, *inputs: Tensor | None) -> Tensor:
        """in_chunks on the model's device; at least one row is required."""
        if not len(next(x for x in inputs if x is not None)):
            raise ValueError("nothing to synthesize: no rows")
        return in_chunks(fn, self.device, *inputs, chunk=self.chunk)

    def images(self, z: Tensor, classes: Tensor | None = None, look: Look = Look()) -> Tensor:
        """z (N, z_dim) [+ classes] -> images float (N, C, H, W) with the look's truncation
        psi (where the family applies it: capabilities.truncation_space) and noise mode; the
        classes are the rows' own (the look's label is what chose them, see `labels`)."""
        mode = self.noise_mode(look.noise_mode)
        psi = look.truncation
        with self.transformed(look):
            return self.run(lambda zb, cb: self.G.synthesize(zb, cb, psi, mode), z, classes)

    def to_w(self, z: Tensor, classes: Tensor | None = None, truncation: float = 1.0) -> Tensor:
        """z (N, z_dim) [+ classes] -> ws (N, num_ws, w_dim), truncated towards w_avg by psi."""
        self.need("w_space", "w space")
        check_truncation(truncation)
        return self.run(lambda zb, cb: self.G.to_w(zb, cb, truncation), z, classes)

    def images_from_w(self, ws: Tensor, look: Look = Look()) -> Tensor:
        """ws (N, num_ws, w_dim) -> images float (N, C, H, W) with the look's noise mode (ws
        carry their class and truncation already)."""
        self.need("w_space", "w space")
        mode = self.noise_mode(look.noise_mode)
        with self.transformed(look):
            return self.run(lambda wb: self.G.from_w(wb, mode), ws)

    @contextmanager
    def transformed(self, look: Look):
        """G with the look's translation and rotation for the duration (the model's own
        input transform, as saved, afterwards); nothing to do for a look that does not move."""
        if not look.moved:
            yield
            return
        self.need("input_transform", "--translate / --rotate")
        saved = [(b, b.clone()) for b in self.G.buffers()]   # the transform is a buffer
        try:
            self.G.input_transform(look.translate, look.rotate)
            yield
        finally:
            with torch.no_grad():
                for buffer, value in saved:
                    buffer.copy_(value)

    def truncate_w(self, ws: Tensor, truncation: float) -> Tensor:
        """ws (N, num_ws, w_dim) lerped towards G's w_avg by psi (1 = unchanged)."""
        check_truncation(truncation)
        if truncation == 1:
            return ws
        avg = self.G.w_avg.detach().float().cpu()
        return avg + truncation * (ws - avg)

    def w(self, seeds, look: Look = Look()) -> Tensor:
        """The ws (N, num_ws, w_dim) of the seeds (classes as in `labels`), truncated by the
        look's psi."""
        seeds = list(seeds)
        return self.to_w(self.z(seeds), self.labels(seeds, look.label), look.truncation)

    def generate(self, seeds, look: Look = Look()) -> np.ndarray:
        """Seeds -> uint8 images (N, H, W, C); same seed and look, same image."""
        seeds = list(seeds)
        return to_uint8(self.images(self.z(seeds), self.labels(seeds, look.label), look))
