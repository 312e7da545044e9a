"""The fixed-latent sample grid written at every snapshot.

Unconditional models: seeds 0..grid_size-1 in a square grid. Conditional models: one row per
class (the first MAX_CLASS_ROWS classes), the same latents in every row, so a row shows what the
class does and a column what the latent does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..config.schema import ModelConfig
from ..imaging import make_grid, to_uint8
from ..latent.sampler import Sampler
from ..latent.sampling import z_from_seeds

MAX_CLASS_ROWS = 32


class SampleGrid:
    """Latents (and labels) fixed for the whole run, and the grid image they make."""

    def __init__(self, model: ModelConfig, grid_size: int):
        if model.num_classes:
            rows = min(model.num_classes, MAX_CLASS_ROWS)
            self.cols = min(16, max(4, grid_size // rows))
            seeds = list(range(self.cols)) * rows
            self.labels = torch.arange(rows).repeat_interleave(self.cols)
        else:
            self.cols = math.ceil(math.sqrt(grid_size))
            seeds = list(range(grid_size))
            self.labels = None
        self.z = z_from_seeds(seeds, model.z_dim)

    def render(self, G: torch.nn.Module) -> np.ndarray:
        """uint8 (H, W, C) grid from G (in eval mode)."""
        return make_grid(to_uint8(Sampler(G).images(self.z, self.labels)), cols=self.cols)
