"""DCGAN (Radford et al. 2015) for any power-of-two resolution and 1, 3 or 4 channels.

G: z -> 4x4 by a transposed convolution, then stride-2 transposed convolutions that double the
resolution and halve the width, batch norm and ReLU between, tanh at the end.
D: the mirror image with strided convolutions and LeakyReLU(0.2), batch norm on every layer but
the first, and a 4x4 convolution to one logit. Weights start from N(0, 0.02), BN scales N(1, 0.02).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..config import ModelConfig
from . import MODELS, Family


def widths(cfg: ModelConfig, base: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution/2: base doubles per halving, capped at max_width."""
    n = int(math.log2(cfg.resolution)) - 2          # number of 2x steps from 4x4 to full size
    return [min(base * 2 ** (n - 1 - i), cfg.max_width) for i in range(n)]


def init_weights(module: nn.Module) -> None:
    """The paper's init: conv weights N(0, 0.02); BN scale N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, z_dim) float -> images (N, channels, res, res) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = widths(cfg, cfg.g_width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.z_dim, w[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(w[0]), nn.ReLU(True),
        ]
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(w[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """images (N, channels, res, res) in [-1, 1] -> logits (N,)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = widths(cfg, cfg.d_width)[::-1]              # res/2, ..., 4x4
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, w[0], 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(w[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()


MODELS.register("dcgan")(Family(generator=Generator, discriminator=Discriminator))
