"""Re-estimating a generator's batch-norm running statistics for its current weights: what
G_ema needs before it samples (training) and a blended generator needs (ganvas.blend), since
weights averaged or swapped in leave the stored statistics of other weights behind."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import parametrize

# Latents for re-estimating batch-norm statistics come from this fixed seed, so the estimate
# is the same in an uninterrupted run and a resumed one, and a blend is reproducible.
RECALIBRATION_SEED = 0x6A4E5


def has_batchnorm(G: nn.Module) -> bool:
    """Whether G has batch-norm layers (running statistics to re-estimate)."""
    return any(isinstance(m, _BatchNorm) for m in G.modules())


@torch.no_grad()
def recalibrate_batchnorm(G: nn.Module, z_dim: int, num: int = 512, batch: int = 64,
                          num_classes: int = 0) -> None:
    """Re-estimate G's batch-norm running statistics on `num` fixed latents (a plain average
    over batches), then leave G in eval mode. The running statistics of G belong to G's weights,
    not to the averaged ones, so G_ema needs its own before it samples."""
    bns = [m for m in G.modules() if isinstance(m, _BatchNorm)]
    if not bns:
        G.eval()
        return
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(RECALIBRATION_SEED)
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None                        # None = cumulative average over the batches
    G.train()
    # Weight parametrizations (spectral norm's power iteration) stay as they are: only the
    # statistics are estimated, the weights G samples with do not move.
    for m in G.modules():
        if parametrize.is_parametrized(m):
            m.parametrizations.eval()
    # Training mode draws G's noise inputs (FastGAN) from torch's RNG: fork it and seed it, so
    # the statistics depend on the weights alone and the training RNG (exact resume) is kept.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(RECALIBRATION_SEED)
        for start in range(0, num, batch):
            n = min(batch, num - start)
            z = torch.randn(n, z_dim, generator=gen).to(device)
            labels = None
            if num_classes:
                labels = torch.randint(num_classes, (n,), generator=gen).to(device)
            G(z, labels)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    G.eval()
