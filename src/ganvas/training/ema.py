"""The exponential moving average of G's weights (G_ema), used for every picture we show."""

from __future__ import annotations

import torch
import torch.nn as nn


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
    copied. Batch-norm statistics of averaged weights are re-estimated by
    ganvas.models.batchnorm.recalibrate_batchnorm before G_ema samples."""
    # One multi-tensor call each instead of a Python loop of small kernels (same arithmetic).
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - beta)
    buffers = list(G_ema.buffers())
    if buffers:                               # the multi-tensor ops refuse empty lists
        torch._foreach_copy_(buffers, list(G.buffers()))
