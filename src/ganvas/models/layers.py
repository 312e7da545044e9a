"""Small building blocks shared by the model families."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch' -> BatchNorm2d; 'layer' -> per-sample normalisation over (C, H, W) with a
    per-channel scale and shift (GroupNorm with one group); 'none' -> identity. Gradient
    penalties need 'layer' or 'none': batch norm makes each sample's output depend on the
    others in its batch."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}")


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (one power iteration per training forward) on every convolution,
    linear layer and embedding of `module`, in place."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            spectral_norm(m)
    return module


def freeze_blocks(D: nn.Module, freeze: int) -> None:
    """FreezeD (Mo et al. 2020): stop gradients into D's first `freeze` blocks."""
    blocks = getattr(D, "blocks", None)
    if blocks is None:
        raise ValueError(f"{type(D).__name__} has no blocks to freeze")
    for block in list(blocks)[:freeze]:
        block.requires_grad_(False)


def projection_logits(logits: torch.Tensor, x: torch.Tensor, embed: nn.Embedding | None,
                      labels: torch.Tensor | None) -> torch.Tensor:
    """D's logits (N,) plus, for a conditional D, the projection term <embed(y), sum-pooled
    features x (N, C, h, w)> (Miyato & Koyama 2018)."""
    if embed is None:
        return logits
    if labels is None:
        raise ValueError("this discriminator is conditional: pass labels")
    features = x.sum(dim=(2, 3))                                # (N, C)
    return logits + (embed(labels).to(features.dtype) * features).sum(dim=1)
