"""DCGAN (Radford et al. 2015) for any power-of-two resolution and 1, 3 or 4 channels, with the
variants the GAN family needs: a critic without batch norm (WGAN-GP), spectral normalisation,
and class conditioning (cGAN, cWGAN-GP).

G: z -> 4x4 (H0 x W0 at a non-square aspect: 4x8 for 2:1) by a transposed convolution, then
stride-2 transposed convolutions that double the resolution and halve the width, batch norm
and ReLU between, tanh at the end. A conditional G concatenates a learned class embedding to z
(Mirza & Osindero 2014).
D: the mirror image, as `blocks` (block 0 reads the image; FreezeD freezes the first N), each a
strided convolution, a normalisation (batch, layer or none; never on block 0) and LeakyReLU(0.2),
then a 4x4 (H0 x W0) convolution to one logit. A conditional D adds the projection term
<embed(y), sum-pooled features> (Miyato & Koyama 2018). Weights start from N(0, 0.02), but G's
class embedding starts N(0, 1) like the z beside it; D's projection embedding keeps N(0, 0.02),
the scale of the output convolution whose logit it adds to.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..config.schema import ModelConfig
from .contract import Capabilities, Family
from .layers import (apply_spectral_norm, first_layer_weights, norm_layer, projection_logits,
                     state_resolutions)


def widths(cfg: ModelConfig, base: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution/2: base doubles per halving, capped at max_width."""
    n = int(math.log2(cfg.resolution)) - 2          # number of 2x steps from 4x4 to full size
    return [min(base * 2 ** (n - 1 - i), cfg.max_width) for i in range(n)]


def init_weights(module: nn.Module) -> None:
    """The paper's init: conv weights and embeddings N(0, 0.02); norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, z_dim) float [+ labels (N,) int64] -> images (N, channels, H, W) in [-1, 1]
    (cfg.image_shape: res x res for a square model).
    labels may also be float class embeddings (N, z_dim): rows of embed.weight or points
    between them (a walk from one class to another)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = widths(cfg, cfg.g_width)
        # The class embedding has z's size, so a conditional G sees twice z_dim inputs.
        self.embed = nn.Embedding(cfg.num_classes, cfg.z_dim) if cfg.num_classes else None
        z_in = cfg.z_dim * (2 if self.embed is not None else 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_in, w[0], cfg.block_shape, 1, 0, bias=False),
            nn.BatchNorm2d(w[0]), nn.ReLU(True),
        ]
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(w[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self.net)
        if self.embed is not None:
            # At z's scale, N(0, 1): the paper's N(0, 0.02) would start the class signal 50x
            # weaker than the noise it is concatenated to.
            nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def latent_weights(self, layers: list[int] | None = None) -> torch.Tensor:
        """(F, z_dim): the first layer's weights on z (it maps the 1x1 latent linearly to
        w[0] x 4 x 4), what first acts on z (SeFa). `layers` is for w-space families."""
        return first_layer_weights(self.net[0], self.cfg.z_dim, layers)

    def layer_resolutions(self) -> dict[str, int]:
        """{state_dict key: resolution of its block} (layer swapping, ganvas.blend): the class
        embedding and the first layer (z -> 4x4) at 4, each transposed convolution and the
        batch norm after it (running statistics included) at the resolution it outputs, the
        last one (to the image) at the model's resolution."""
        owners, r = {"embed": 4}, 2
        for i, layer in enumerate(self.net):
            if isinstance(layer, nn.ConvTranspose2d):
                r *= 2
            owners[f"net.{i}"] = r
        return state_resolutions(self, owners)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: pass labels")
            y = labels if labels.is_floating_point() else self.embed(labels)
            z = torch.cat([z, y.to(z.dtype)], dim=1)
        return self.net(z[:, :, None, None])

    @property
    def class_embedding(self) -> nn.Embedding | None:
        return self.embed

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                   truncation: float | torch.Tensor = 1.0,
                   noise_mode: str = "const") -> torch.Tensor:
        """The eval forward of the family contract: truncation psi scales z towards the mean
        of its prior (z * psi); there are no noise inputs, so noise_mode has no effect."""
        return self(z * truncation, labels)


class Discriminator(nn.Module):
    """images (N, channels, H, W) in [-1, 1] [+ labels (N,) int64] -> logits (N,)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = widths(cfg, cfg.d_width)[::-1]              # res/2, ..., 4x4
        blocks = [nn.Sequential(nn.Conv2d(cfg.channels, w[0], 4, 2, 1, bias=False),
                                nn.LeakyReLU(0.2, True))]
        for cin, cout in zip(w[:-1], w[1:]):
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
                                        norm_layer(cfg.d_norm, cout), nn.LeakyReLU(0.2, True)))
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Conv2d(w[-1], 1, cfg.block_shape, 1, 0, bias=False)
        self.embed = nn.Embedding(cfg.num_classes, w[-1]) if cfg.num_classes else None
        init_weights(self)
        if cfg.spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return projection_logits(self.out(x).flatten(), x, self.embed, labels)


FAMILY = Family(generator=Generator, discriminator=Discriminator, resolutions=(16, 256),
                capabilities=Capabilities(), reads=frozenset({"d_norm", "spectral_norm"}))
