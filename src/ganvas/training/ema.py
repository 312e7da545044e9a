"""The exponential moving average of G's weights (G_ema), used for every picture we show."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

# Latents for re-estimating G_ema's batch-norm statistics come from this fixed seed, so the
# estimate is the same in an uninterrupted run and a resumed one.
RECALIBRATION_SEED = 0x6A4E5


def ema_beta(ema_kimg: float, rampup: float | None, images_seen: int, images: int) -> float:
    """Decay of one update that follows `images` real images (all D batches since the last
    update: batch * n_critic), for a half-life of `ema_kimg` thousand of the images kimg
    counts; with `rampup`, the half-life is at most rampup * images_seen, so early G_ema does
    not average noise."""
    half_life = ema_kimg * 1000.0
    if rampup is not None:
        half_life = min(half_life, images_seen * rampup)
    return 0.5 ** (images / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema's parameters <- beta * G_ema + (1 - beta) * G; buffers (StyleGAN2's w_avg, ...) are
    copied. Batch-norm statistics of averaged weights are re-estimated by recalibrate_batchnorm
    before G_ema samples."""
    # One multi-tensor call each instead of a Python loop of small kernels (same arithmetic).
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - beta)
    buffers = list(G_ema.buffers())
    if buffers:                               # the multi-tensor ops refuse empty lists
        torch._foreach_copy_(buffers, list(G.buffers()))


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
