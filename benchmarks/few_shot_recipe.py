"""The reference the few-shot benchmark compares against: the recipe of the PyTorch
examples' dcgan/main.py, written here from its description (Radford et al. 2015 as the
example sets it up), not imported from ganvas.

- G: ConvTranspose(nz -> 8 ngf, 4, 1, 0), then stride-2 ConvTranspose blocks halving the
  width up to the resolution, batch norm and ReLU between, tanh at the end; nz 100, ngf 64.
- D: the mirror, stride-2 convs with LeakyReLU(0.2) and batch norm (none after the first),
  a 4x4 conv to one logit; ndf 64.
- Weights N(0, 0.02) for convs, N(1, 0.02) for batch-norm scales; Adam(2e-4, 0.5, 0.999) for
  both; batch 64; BCE with real label 1 and fake label 0; D step on reals then fakes, G step
  on the same fakes; no augmentation. The example is written for 64 px; at 32 px both
  networks lose one block.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn


def generator(res: int, nz: int = 100, ngf: int = 64, channels: int = 3) -> nn.Sequential:
    blocks = int(math.log2(res)) - 2          # stride-2 layers from 4 px to the resolution
    width = ngf * 2 ** (blocks - 1)
    layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width),
              nn.ReLU(True)]
    for _ in range(blocks - 1):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(res: int, ndf: int = 64, channels: int = 3) -> nn.Sequential:
    blocks = int(math.log2(res)) - 2          # stride-2 layers from the resolution to 4 px
    layers = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    width = ndf
    for _ in range(blocks - 1):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                   nn.LeakyReLU(0.2, True)]
        width *= 2
    layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Flatten()]
    return nn.Sequential(*layers)


def init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Recipe:
    """The example's training loop on an in-memory uint8 (N, H, W, C) set, run for a wall
    budget; epochs of shuffled batches of 64 (the example's DataLoader drops no last batch
    either)."""

    def __init__(self, images: np.ndarray, seed: int = 0, nz: int = 100, batch: int = 64):
        torch.manual_seed(seed)
        self.res, self.nz, self.batch = images.shape[1], nz, batch
        self.data = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
        c = images.shape[-1]
        self.G, self.D = generator(self.res, nz, channels=c), discriminator(self.res, channels=c)
        self.G.apply(init_weights)
        self.D.apply(init_weights)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()     # the example's Sigmoid + BCELoss, fused
        self.images_seen = 0

    def step(self, real: torch.Tensor) -> None:
        n = len(real)
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
        fake = self.G(torch.randn(n, self.nz, 1, 1))
        self.opt_d.zero_grad()
        (self.bce(self.D(real), ones) + self.bce(self.D(fake.detach()), zeros)).backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        self.bce(self.D(fake), ones).backward()
        self.opt_g.step()
        self.images_seen += n

    def train(self, minutes: float) -> dict:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        deadline = start_wall + 60 * minutes
        while time.perf_counter() < deadline:
            order = torch.randperm(len(self.data))
            for i in range(0, len(order), self.batch):
                self.step(self.data[order[i:i + self.batch]])
                if time.perf_counter() >= deadline:
                    break
        wall = time.perf_counter() - start_wall
        return {"wall_s": wall, "cpu_s": time.process_time() - start_cpu,
                "images_per_s": self.images_seen / wall, "kimg": self.images_seen / 1000}

    @torch.no_grad()
    def generate(self, count: int, seed: int = 0) -> np.ndarray:
        """uint8 (count, H, W, C); G stays in training mode as in the example, whose sample
        grids are drawn that way (batch statistics of 64 pictures)."""
        gen = torch.Generator().manual_seed(seed)
        out = []
        for i in range(0, count, 64):
            z = torch.randn(min(64, count - i), self.nz, 1, 1, generator=gen)
            x = self.G(z)
            out.append(((x.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte())
        return torch.cat(out).numpy()
