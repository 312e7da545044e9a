"""Training health: read every tick and raise flags for the failures people meet in practice
(their one-line hints: runfolder/hints.py). The loop writes the flags into stats.jsonl and the
console, and rolls back on non-finite losses.

- "nonfinite": a NaN or Inf loss or weight. The loop rolls back to the last good snapshot with
  lower learning rates, and stops after `max_rollbacks` of them.
- "d_won": D tells reals from fakes almost perfectly (accuracy >= D_WON_ACC) while G's loss has
  risen for RISING_TICKS ticks: G gets no useful gradient any more.
- "mode_collapse": a fixed batch of fakes has lost diversity: its mean pairwise distance (at
  16x16, relative to a fixed batch of reals) fell under COLLAPSE_RATIO and under COLLAPSE_DROP
  of the best this run has seen. (An untrained G is not diverse either; that is no collapse.)
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.batchnorm import has_batchnorm

D_WON_ACC = 0.98
RISING_TICKS = 3
COLLAPSE_RATIO = 0.5
COLLAPSE_DROP = 0.5
PROBE_SIZE = 32            # fixed latents and reals used to measure diversity
PROBE_SEED = 0x5EED


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise L2 distance of images (N, C, H, W) in [-1, 1], compared at 16x16 so the
    number means the same at every resolution."""
    small = F.adaptive_avg_pool2d(images.float(), 16).flatten(1)
    n = len(small)
    if n < 2:
        return 0.0
    dist = torch.cdist(small, small)
    return float(dist.sum() / (n * (n - 1)))


@contextmanager
def side_effect_free(module: nn.Module):
    """Run `module` for a measurement without changing the training: its buffers (batch-norm
    statistics, StyleGAN2's w_avg) and torch's RNG are restored afterwards. A model with batch
    norm runs in training mode (batch statistics, as it trains); others run in eval mode (no
    style mixing, constant noise)."""
    has_bn = has_batchnorm(module)
    was_training = module.training
    buffers = [b.clone() for b in module.buffers()]
    rng = torch.get_rng_state()
    module.train(has_bn)
    try:
        yield
    finally:
        module.train(was_training)
        with torch.no_grad():
            for b, saved in zip(module.buffers(), buffers):
                b.copy_(saved)
        torch.set_rng_state(rng)


class Health:
    """Remembers the recent ticks and says which flags the newest one raises."""

    def __init__(self, reals: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None):
        """reals: a fixed batch (N, C, H, W) in [-1, 1]; z, labels: fixed latents for G."""
        self.real_diversity = diversity(reals)
        self.z, self.labels = z, labels
        self.loss_g: list[float] = []
        self.best_ratio = 0.0

    def check(self, stats: dict, G: nn.Module) -> list[str]:
        """Flags raised by this tick's mean statistics and the current G."""
        flags = []
        values = [v for k, v in stats.items() if k.startswith("loss")]
        if not all(math.isfinite(v) for v in values):
            return ["nonfinite"]
        self.loss_g = (self.loss_g + [stats["loss_g"]])[-(RISING_TICKS + 1):]
        rising = (len(self.loss_g) > RISING_TICKS
                  and all(a < b for a, b in zip(self.loss_g, self.loss_g[1:])))
        if stats.get("d_acc", 0.0) >= D_WON_ACC and rising:
            flags.append("d_won")
        ratio = self.diversity_ratio(G)
        stats["diversity"] = round(ratio, 4)
        self.best_ratio = max(self.best_ratio, ratio)
        if ratio < COLLAPSE_RATIO and ratio < COLLAPSE_DROP * self.best_ratio:
            flags.append("mode_collapse")
        return flags

    @torch.no_grad()
    def diversity_ratio(self, G: nn.Module) -> float:
        """Diversity of G's fakes on the fixed latents over that of the fixed reals."""
        device = next(G.parameters()).device
        labels = None if self.labels is None else self.labels.to(device)
        with side_effect_free(G):
            fakes = G(self.z.to(device), labels)
        return diversity(fakes) / max(self.real_diversity, 1e-8)

    def reset(self) -> None:
        """Forget the history (after a rollback)."""
        self.loss_g = []
        self.best_ratio = 0.0


def probe(bank, z_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor,
                                                        torch.Tensor | None]:
    """The fixed reals, latents and labels Health measures with (their own seed: drawing
    them never moves the training streams)."""
    gen = torch.Generator().manual_seed(PROBE_SEED)
    idx = torch.randperm(len(bank), generator=gen)[:PROBE_SIZE]
    reals = bank.images_at(idx)
    z = torch.randn(len(idx), z_dim, generator=gen)
    labels = torch.randint(num_classes, (len(idx),), generator=gen) if num_classes else None
    return reals, z, labels
