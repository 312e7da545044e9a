"""FastGAN (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis") for 32 to 1024 px and 1, 3 or 4 channels, written
from the paper's ideas.

G: z [+ a class embedding] -> 4x4 by a transposed convolution, then one upsampling block per
doubling (nearest 2x upsample, 3x3 conv, per-pixel noise times a learned per-layer strength,
batch norm, GLU), skip-layer excitation (SLE: a low-resolution map, pooled to 4x4 -> 4x4 conv
-> LeakyReLU -> 1x1 conv -> sigmoid, gates the channels of a 16x (8x below 128 px) larger map),
then a 3x3 conv to the image and tanh.
D: `blocks` (block 0 reads the image; FreezeD freezes the first N), each halving the size by a
strided 4x4 conv and a 3x3 conv, averaged with an average-pool + 1x1 conv shortcut as in the
paper's down blocks; a 4x4 conv to one logit and, when conditional, the projection term
<embed(y), sum-pooled 4x4 features> (Miyato & Koyama 2018). Weights start from N(0, 0.02).
Self-supervised D (capabilities.d_reconstruction), the paper's two decoders: one turns D's 8x8
features of a real image back into the whole image at min(res, 128) px; the other turns one
quadrant (8x8) of D's 16x16 features into the matching quadrant of the real area-downsampled
to min(res, 256) px. `D.reconstruction_loss` sums the two distances. The paper's distance is
LPIPS, which needs downloaded VGG weights; ganvas trains offline, so it is the Laplacian
pyramid L1 (imaging.pyramid_l1), see `reconstruction_distance` for why not pixel L1.
At a non-square aspect (ganvas.aspect) every "4x4" above is the first block's H0 x W0 (4x8 for
2:1) and every r x r map r x (r W0 / 4) or (r H0 / 4) x r; res is the short side.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..aspect import image_shape
from ..config.schema import ModelConfig
from ..imaging import laplacian_pyramid, pyramid_l1
from .contract import Capabilities, Family
from .dcgan import init_weights
from .layers import (apply_spectral_norm, batch_randn, first_layer_weights, norm_layer,
                     projection_logits, state_resolutions)


def width_at(cfg: ModelConfig, base: int, r: int, top: int) -> int:
    """Channels of a feature map at r px: `base` at `top` px, doubling per halving, capped."""
    return min(base * top // r, cfg.max_width)


def sle_pairs(resolution: int) -> list[tuple[int, int]]:
    """(source, target) resolutions of the skip-layer excitations: the paper's 8->128,
    16->256, 32->512 where they exist; below 128 px, 4->32 and 8->64 where they exist."""
    if resolution >= 128:
        return [(s, 16 * s) for s in (8, 16, 32) if 16 * s <= resolution]
    return [(s, 8 * s) for s in (4, 8) if 8 * s <= resolution]


class NoiseInjection(nn.Module):
    """x + strength * noise (N, 1, H, W). noise_mode "random": fresh torch.randn (torch's RNG,
    saved by the trainer for exact resume); "const": a fixed map drawn once at construction
    from a generator seeded with the layer's resolution and saved with the weights; "none":
    no noise. The strength starts at 0, so noise enters only as training finds it useful."""

    def __init__(self, resolution: int, shape: tuple[int, int] | None = None):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        gen = torch.Generator().manual_seed(resolution)
        self.register_buffer("noise_const", torch.randn(1, 1, *(shape or (resolution,
                                                                          resolution)),
                                                        generator=gen))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "random":
            return x + batch_randn(x, channels=1) * self.strength.to(x.dtype)
        if noise_mode == "const":
            return x + (self.noise_const * self.strength).to(x.dtype)
        if noise_mode == "none":
            return x
        raise ValueError(f"unknown noise mode {noise_mode!r}; choose from const, random, none")


class UpBlock(nn.Module):
    """(N, cin, r, r) -> (N, cout, 2r, 2r): nearest upsample, 3x3 conv to 2*cout, noise, batch
    norm, GLU (which halves the channels back to cout). `shape`: the output's (H, W) when the
    model is not square."""

    def __init__(self, cin: int, cout: int, resolution: int,
                 shape: tuple[int, int] | None = None):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False)
        self.noise = NoiseInjection(resolution, shape)
        self.norm = nn.BatchNorm2d(2 * cout)

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return F.glu(self.norm(self.noise(x, noise_mode)), dim=1)


class SLE(nn.Module):
    """Skip-layer excitation: gates (N, C, 1, 1) in (0, 1) from a low-resolution map."""

    def __init__(self, cin: int, cout: int, resolution: int, block: tuple[int, int] = (4, 4)):
        super().__init__()
        self.pool = resolution // 4               # average pooling to 4x4 (H0 x W0: `block`)
        self.net = nn.Sequential(nn.Conv2d(cin, cout, block, 1, 0, bias=False),
                                 nn.LeakyReLU(0.1), nn.Conv2d(cout, cout, 1, 1, 0, bias=False),
                                 nn.Sigmoid())

    def gate(self, low: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:
            low = F.avg_pool2d(low, self.pool)
        return self.net(low)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


class Generator(nn.Module):
    """z (N, z_dim) float [+ labels (N,) int64 or float class embeddings (N, z_dim)] ->
    images (N, channels, H, W) in [-1, 1] (cfg.image_shape). Training mode: random noise;
    eval: const."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.num_classes = cfg.z_dim, cfg.num_classes
        res = cfg.resolution
        self.sizes = [2 ** i for i in range(2, int(math.log2(res)) + 1)]     # 4, 8, ..., res
        w = {r: width_at(cfg, cfg.g_width, r, res) for r in self.sizes}
        # The class embedding has z's size and scale (N(0, 1)), concatenated to z.
        self.embed = nn.Embedding(cfg.num_classes, cfg.z_dim) if cfg.num_classes else None
        z_in = cfg.z_dim * (2 if self.embed is not None else 1)
        block = cfg.block_shape
        self.init = nn.ConvTranspose2d(z_in, 2 * w[4], block, 1, 0, bias=False)
        self.init_norm = nn.BatchNorm2d(2 * w[4])
        self.ups = nn.ModuleDict({str(r): UpBlock(w[r // 2], w[r], r, image_shape(r, cfg.aspect))
                                  for r in self.sizes[1:]})
        self.sles = nn.ModuleDict({f"{s}_{t}": SLE(w[s], w[t], s, block)
                                   for s, t in sle_pairs(res)})
        self.to_img = nn.Conv2d(w[res], cfg.channels, 3, 1, 1, bias=False)
        init_weights(self)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 1.0)

    @property
    def class_embedding(self) -> nn.Embedding | None:
        return self.embed

    def features(self, z: torch.Tensor, labels: torch.Tensor | None,
                 noise_mode: str) -> dict[int, torch.Tensor]:
        """{resolution: feature map after its block and any SLE gate} (for tests and G)."""
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: pass labels")
            y = labels if labels.is_floating_point() else self.embed(labels)
            z = torch.cat([z, y.to(z.dtype)], dim=1)
        x = F.glu(self.init_norm(self.init(z[:, :, None, None])), dim=1)
        feats = {4: x}
        for r in self.sizes[1:]:
            x = self.ups[str(r)](x, noise_mode)
            for s, t in sle_pairs(self.cfg.resolution):
                if t == r:
                    x = self.sles[f"{s}_{t}"](feats[s], x)
            feats[r] = x
        return feats

    def layer_resolutions(self) -> dict[str, int]:
        """{state_dict key: resolution of its block} (layer swapping, ganvas.blend): the class
        embedding and the first layer (z -> 4x4, with its batch norm) at 4, each upsampling
        block (its noise and batch norm statistics included) at the resolution it outputs, a
        skip-layer excitation at the resolution it gates (its target: it shapes that block's
        features), the last convolution (to the image) at the model's resolution."""
        owners = {"embed": 4, "init": 4, "init_norm": 4, "to_img": self.cfg.resolution,
                  **{f"ups.{r}": r for r in self.sizes[1:]},
                  **{f"sles.{s}_{t}": t for s, t in sle_pairs(self.cfg.resolution)}}
        return state_resolutions(self, owners)

    def latent_weights(self, layers: list[int] | None = None) -> torch.Tensor:
        """(F, z_dim): the first layer's weights on z (SeFa); see layers.first_layer_weights."""
        return first_layer_weights(self.init, self.cfg.z_dim, layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                noise_mode: str | None = None) -> torch.Tensor:
        """noise_mode None = "random" when training, "const" in eval mode."""
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        x = self.features(z, labels, noise_mode)[self.cfg.resolution]
        return torch.tanh(self.to_img(x))

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                   truncation: float | torch.Tensor = 1.0,
                   noise_mode: str = "const") -> torch.Tensor:
        """The eval forward of the family contract: truncation psi scales z (z * psi)."""
        return self(z * truncation, labels, noise_mode)


class DownBlock(nn.Module):
    """(N, cin, r, r) -> (N, cout, r/2, r/2): the mean of a strided 4x4 conv + 3x3 conv path
    and an average-pool + 1x1 conv shortcut, each normalised (not block 0) + LeakyReLU(0.2)."""

    def __init__(self, cin: int, cout: int, norm: str):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(cin, cout, 4, 2, 1, bias=False), norm_layer(norm, cout),
            nn.LeakyReLU(0.2), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            norm_layer(norm, cout), nn.LeakyReLU(0.2))
        self.direct = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
                                    norm_layer(norm, cout), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """D's features (N, cin, 8, 8) -> an image (N, channels, size, size) in [-1, 1]: per
    doubling a nearest upsample, 3x3 conv, normalisation and GLU, halving the width."""

    def __init__(self, cin: int, channels: int, size: int, norm: str):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(size // 8))):
            cout = max(cin // 2, 4)
            layers += [nn.Upsample(scale_factor=2.0, mode="nearest"),
                       nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False),
                       norm_layer(norm, 2 * cout), nn.GLU(dim=1)]
            cin = cout
        layers += [nn.Conv2d(cin, channels, 3, 1, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def quadrant(x: torch.Tensor, q: int) -> torch.Tensor:
    """Quadrant q of (N, C, H, W): 0 top left, 1 top right, 2 bottom left, 3 bottom right."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    row, col = divmod(q, 2)
    return x[..., row * h:(row + 1) * h, col * w:(col + 1) * w]


def area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x if tuple(x.shape[-2:]) == size else F.interpolate(x, size=size, mode="area")


def reconstruction_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Scalar distance of two image batches, in float32 (it runs under bf16 autocast too).
    Laplacian pyramid L1 rather than pixel L1: the same pixel errors, plus each coarser band
    counted again, so the decoder (and D's features under it) is pushed to get layout and
    colours right at every scale and to keep edges, where pixel L1 is content with a blur;
    closer to what LPIPS rewards (a reasoned choice, not a measured one: a short run per
    distance is too slow on a shared CPU)."""
    return pyramid_l1(laplacian_pyramid(a.float()), laplacian_pyramid(b.float())).mean()


class Discriminator(nn.Module):
    """images (N, channels, H, W) in [-1, 1] [+ labels (N,) int64] -> logits (N,)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        res = cfg.resolution
        sizes = [res // 2 ** i for i in range(1, int(math.log2(res)) - 1)]     # res/2 .. 4
        w = {r: width_at(cfg, cfg.d_width, r, res // 2) for r in sizes}
        blocks: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(cfg.channels, w[sizes[0]], 4, 2, 1, bias=False), nn.LeakyReLU(0.2))]
        for r in sizes[1:]:
            blocks.append(DownBlock(w[2 * r], w[r], cfg.d_norm))
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Conv2d(w[4], 1, cfg.block_shape, 1, 0, bias=False)
        self.embed = nn.Embedding(cfg.num_classes, w[4]) if cfg.num_classes else None
        self.rec_index = sizes.index(8)                 # blocks[rec_index] outputs 8x8
        self.part_index = sizes.index(16)               # blocks[part_index] outputs 16x16
        self.rec_size = min(res, 128)
        self.part_size = min(res, 256) // 2            # a quadrant of the min(res, 256) real
        self.rec_shape = image_shape(self.rec_size, cfg.aspect)          # (H, W) of those
        self.part_shape = image_shape(2 * self.part_size, cfg.aspect)
        self.decoder = Decoder(w[8], cfg.channels, self.rec_size, cfg.d_norm)
        self.part_decoder = Decoder(w[16], cfg.channels, self.part_size, cfg.d_norm)
        init_weights(self)
        if cfg.spectral_norm:
            apply_spectral_norm(self)

    def reconstruction_loss(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                            part: int | None = None) -> torch.Tensor:
        """Scalar: the distance between the decoding of D's 8x8 features of reals `x`
        (N, C, res, res) and `x` at min(res, 128) px, plus that between the decoding of
        quadrant `part` of D's 16x16 features and that quadrant of `x` at min(res, 256) px.
        `part` None draws it from torch's global RNG (on the CPU), whose state training
        checkpoints save, so a resumed run draws the same quadrants. Labels are not needed."""
        if part is None:
            part = int(torch.randint(4, ()))
        feats = {}
        h = x
        for i, block in enumerate(self.blocks[:self.rec_index + 1]):
            h = feats[i] = block(h)
        whole = self.decoder(feats[self.rec_index])
        crop = self.part_decoder(quadrant(feats[self.part_index], part))
        target_crop = quadrant(area_resize(x, self.part_shape), part)
        return (reconstruction_distance(whole, area_resize(x, self.rec_shape))
                + reconstruction_distance(crop, target_crop))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return projection_logits(self.out(x).flatten(), x, self.embed, labels)


FAMILY = Family(
    generator=Generator, discriminator=Discriminator, resolutions=(32, 1024),
    capabilities=Capabilities(noise_inputs=True, d_norms=("batch", "layer", "none"),
                              d_reconstruction=True),
    reads=frozenset({"d_norm", "spectral_norm"}))
