"""FastGAN (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis") as published: the layers, widths and outputs of the
authors' PyTorch code (its models.py, as carried by its forks, lightweight-gan and
projected-gan), written here from those facts. At 256, 512 and 1024 px with g_width = d_width
= 64 and z_dim = 256 the layer list and parameter count are the original's
(tests/models/test_fastgan.py holds the reference's numbers); other sizes, channel counts,
aspects and classes extend it as said below.

Widths. G's channels at a feature map of r px: g_width (the original's ngf) times 16, 8, 4, 2,
2, 1, 1/2, 1/4, 1/8 at 4, 8, ..., 1024 px, whatever the output size; D's at r px: d_width
(ndf) times 16, 16, 8, 4, 2, 1, 1/2, 1/4, 1/8 taken at 2r (4 px: the 8 px entry), its small
branch at r px the entry for 4r. Each is at most max_width and at least 1.

G: z [+ a class embedding] -> 4x4 (a transposed convolution, batch norm, GLU), then per
doubling an upsampling block: at 8, 32, 128 and 512 px two 3x3 convolutions, each followed by
per-pixel noise times a learned strength, batch norm and GLU; at 16, 64, 256 and 1024 px one,
without noise. Skip-layer excitation (SLE) gates the channels of the 64, 128, 256 and 512 px
maps from the 4, 8, 16 and 32 px ones (adaptive average pool to 4x4, 4x4 conv, Swish, 1x1
conv, sigmoid). Every convolution is spectrally normalised. Outputs: the image (3x3 conv and
tanh at the model's size) and, for D's second branch, a small image (1x1 conv and tanh on the
128 px map; below 256 px on the res/2 map): `G.views`. The original leaves out the tanh at 256
and 512 px only; ganvas's images are in [-1, 1] at every size.

D: two branches, each ending in 4x4-conv patch logits (5x5 from an 8x8 map), concatenated
(N, P). The big branch takes the image to 256 px (res <= 256: a 3x3 conv at res; 512: one
strided 4x4 conv; 1024: two, the second with batch norm), then down blocks to 8 px (the mean
of a strided 4x4 conv + 3x3 conv path and an average-pool + 1x1 conv shortcut), with D's own
excitations gating the 32, 16 and 8 px maps from the 256, 128 and 64 px ones, and a 1x1 conv
(batch norm, LeakyReLU) before its logits. The small branch takes the small image (G's own for
fakes; for reals the image resized by nearest neighbour, as the original does) down to 8 px by
a strided conv and plain down blocks. Conditional: the projection term <embed(y), sum-pooled
8 px features> (Miyato & Koyama 2018) is added to every logit. Weights start from N(0, 0.02),
norm scales N(1, 0.02); D's convolutions are spectrally normalised with cfg.spectral_norm.

Self-supervised D (capabilities.d_reconstruction): three small decoders (8x8 -> upsampling
blocks -> 3x3 conv -> tanh, widths d_width/2 times 4, 2, 2, 1 at 16, 32, 64, 128 px) turn the
big branch's 8 px map back into the whole image, the small branch's into the small image, and
one quadrant of the big branch's 16 px map into that quadrant of the image, each at most 128
px; `D.reconstruct` returns the logits with (reconstruction, target) pairs, targets resized by
nearest neighbour as the original does. The distance (the original sums LPIPS over the batch)
is the trainer's: training.reconstruction.
At a non-square aspect (ganvas.aspect) every "4x4" above is the first block's H0 x W0 and
every r px map r x (r W0 / 4) or (r H0 / 4) x r; res is the short side.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..aspect import image_shape
from ..config.schema import ModelConfig
from .contract import Capabilities, Family
from .dcgan import init_weights
from .layers import (apply_spectral_norm, batch_randn, first_layer_weights, norm_layer,
                     projection_logits, state_resolutions)

# The original's width multipliers (nfc_multi) by feature size.
G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
D_MULT = {4: 16, 8: 16, 16: 8, 32: 4, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
# D's decoders: their widths at 16..128 px, times d_width / 2 (the original's fixed 32).
DECODER_MULT = {16: 4, 32: 2, 64: 2, 128: 1}
TWO_CONV = (8, 32, 128, 512)             # G blocks with two convolutions and noise
BIG_TOP = 256                             # D's big branch works from 256 px down
SMALL = 128                               # the small image's size (res >= 256)
MAX_DECODED = 128                         # the decoders' largest output


def width(base: int, mult: float, cap: int) -> int:
    return max(1, min(int(mult * base), cap))


def g_width(cfg: ModelConfig, r: int) -> int:
    return width(cfg.g_width, G_MULT[r], cfg.max_width)


def d_width(cfg: ModelConfig, r: int) -> int:
    """D's channels at r px (4 to 512): the original's nfc[2r]."""
    return width(cfg.d_width, D_MULT[2 * r], cfg.max_width)


def small_size(resolution: int) -> int:
    """The size of G's small image and D's second branch: 128 px, res/2 below 256 px."""
    return SMALL if resolution >= 2 * SMALL else resolution // 2


def sle_pairs(resolution: int) -> list[tuple[int, int]]:
    """(source, target) sizes of G's skip-layer excitations: 4->64, 8->128, 16->256, 32->512
    where the target exists."""
    return [(s, 16 * s) for s in (4, 8, 16, 32) if 16 * s <= resolution]


def d_sle_pairs(resolution: int) -> list[tuple[int, int]]:
    """(source, target) sizes of D's excitations: 256->32, 128->16, 64->8 where the source is
    a map of D's big branch (at most 256 px)."""
    return [(s, s // 8) for s in (256, 128, 64) if s <= min(resolution, BIG_TOP)]


def nearest(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """x resized to (H, W) by nearest neighbour (what the original's F.interpolate does)."""
    return x if tuple(x.shape[-2:]) == tuple(shape) else F.interpolate(x, size=shape,
                                                                       mode="nearest")


class NoiseInjection(nn.Module):
    """x + strength * noise (N, 1, H, W). noise_mode "random": fresh torch.randn (torch's RNG,
    saved by the trainer for exact resume); "const": a fixed map drawn once at construction
    from a generator seeded with the layer's resolution (and its index in the block) and saved
    with the weights; "none": no noise. The strength starts at 0, as in the original."""

    def __init__(self, shape: tuple[int, int], seed: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("noise_const", torch.randn(1, 1, *shape, generator=gen))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "random":
            return x + batch_randn(x, channels=1) * self.strength.to(x.dtype)
        if noise_mode == "const":
            return x + (self.noise_const * self.strength).to(x.dtype)
        if noise_mode == "none":
            return x
        raise ValueError(f"unknown noise mode {noise_mode!r}; choose from const, random, none")


class UpBlock(nn.Module):
    """(N, cin, r, r) -> (N, cout, 2r, 2r): nearest 2x upsample, then per convolution (two
    with noise in the original's UpBlockComp, one without in its UpBlock) a 3x3 conv to
    2*cout, [noise,] batch norm and GLU (which halves the channels back to cout)."""

    def __init__(self, cin: int, cout: int, resolution: int, shape: tuple[int, int],
                 two: bool):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(c, 2 * cout, 3, 1, 1, bias=False)
                                    for c in ((cin, cout) if two else (cin,))])
        self.noises = nn.ModuleList([NoiseInjection(shape, resolution * 2 + i)
                                     for i in range(len(self.convs))] if two else [])
        self.norms = nn.ModuleList([nn.BatchNorm2d(2 * cout) for _ in self.convs])

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = conv(x)
            if self.noises:
                x = self.noises[i](x, noise_mode)
            x = F.glu(norm(x), dim=1)
        return x


class SLE(nn.Module):
    """Skip-layer excitation: channel gates (N, cout, 1, 1) in (0, 1) from a low-resolution
    map (the original's SEBlock: pool to the first block's shape, 4x4 conv, Swish, 1x1 conv,
    sigmoid)."""

    def __init__(self, cin: int, cout: int, block: tuple[int, int] = (4, 4)):
        super().__init__()
        self.block = block
        self.net = nn.Sequential(nn.Conv2d(cin, cout, block, 1, 0, bias=False), nn.SiLU(),
                                 nn.Conv2d(cout, cout, 1, 1, 0, bias=False), nn.Sigmoid())

    def gate(self, low: torch.Tensor) -> torch.Tensor:
        return self.net(F.adaptive_avg_pool2d(low, self.block))

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
        self.small = small_size(res)
        w = {r: g_width(cfg, r) for r in self.sizes}
        # The class embedding has z's size and scale (N(0, 1)), concatenated to z.
        self.embed = nn.Embedding(cfg.num_classes, cfg.z_dim) if cfg.num_classes else None
        z_in = cfg.z_dim * (2 if self.embed is not None else 1)
        block = cfg.block_shape
        self.init = nn.ConvTranspose2d(z_in, 2 * w[4], block, 1, 0, bias=False)
        self.init_norm = nn.BatchNorm2d(2 * w[4])
        self.ups = nn.ModuleDict({str(r): UpBlock(w[r // 2], w[r], r,
                                                  image_shape(r, cfg.aspect), r in TWO_CONV)
                                  for r in self.sizes[1:]})
        self.sles = nn.ModuleDict({f"{s}_{t}": SLE(w[s], w[t], block)
                                   for s, t in sle_pairs(res)})
        self.to_small = nn.Conv2d(w[self.small], cfg.channels, 1, 1, 0, bias=False)
        self.to_img = nn.Conv2d(w[res], cfg.channels, 3, 1, 1, bias=False)
        init_weights(self)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 1.0)
        apply_spectral_norm(self, skip=(nn.Embedding,))

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
            if r >= 64 and f"{r // 16}_{r}" in self.sles:
                x = self.sles[f"{r // 16}_{r}"](feats[r // 16], x)
            feats[r] = x
        return feats

    def layer_resolutions(self) -> dict[str, int]:
        """{state_dict key: resolution of its block} (layer swapping, ganvas.blend): the class
        embedding and the first layer (z -> 4x4, with its batch norm) at 4, each upsampling
        block (its noise and batch norm statistics included) at the resolution it outputs, a
        skip-layer excitation at the resolution it gates (its target: it shapes that block's
        features), the small image's layer at its size, the last convolution (to the image)
        at the model's resolution."""
        owners = {"embed": 4, "init": 4, "init_norm": 4, "to_img": self.cfg.resolution,
                  "to_small": self.small,
                  **{f"ups.{r}": r for r in self.sizes[1:]},
                  **{f"sles.{s}_{t}": t for s, t in sle_pairs(self.cfg.resolution)}}
        return state_resolutions(self, owners)

    def latent_weights(self, layers: list[int] | None = None) -> torch.Tensor:
        """(F, z_dim): the first layer's weights on z (SeFa); see layers.first_layer_weights."""
        return first_layer_weights(self.init, self.cfg.z_dim, layers)

    def views(self, z: torch.Tensor, labels: torch.Tensor | None = None,
              noise_mode: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(image, small image) for D's two branches (training)."""
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        feats = self.features(z, labels, noise_mode)
        return (torch.tanh(self.to_img(feats[self.cfg.resolution])),
                torch.tanh(self.to_small(feats[self.small])))

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


def down(cin: int, cout: int, norm: str, kernel: int = 4, stride: int = 2,
         padding: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), norm_layer(norm, cout),
            nn.LeakyReLU(0.2)]


class DownBlock(nn.Module):
    """(N, cin, r, r) -> (N, cout, r/2, r/2): the mean of a strided 4x4 conv + 3x3 conv path
    and an average-pool + 1x1 conv shortcut, each normalised + LeakyReLU(0.2) (the
    original's DownBlockComp)."""

    def __init__(self, cin: int, cout: int, norm: str):
        super().__init__()
        self.main = nn.Sequential(*down(cin, cout, norm), *down(cout, cout, norm, 3, 1, 1))
        self.direct = nn.Sequential(nn.AvgPool2d(2, 2), *down(cin, cout, norm, 1, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


def big_entry(cfg: ModelConfig) -> nn.Sequential:
    """The image -> D's 256 px map (or the res px one below 256 px)."""
    res, c = cfg.resolution, cfg.channels
    if res <= BIG_TOP:
        return nn.Sequential(nn.Conv2d(c, d_width(cfg, res), 3, 1, 1, bias=False),
                             nn.LeakyReLU(0.2))
    layers: list[nn.Module] = [nn.Conv2d(c, d_width(cfg, res // 2), 4, 2, 1, bias=False),
                               nn.LeakyReLU(0.2)]
    r = res // 2
    while r > BIG_TOP:
        layers += down(d_width(cfg, r), d_width(cfg, r // 2), cfg.d_norm)
        r //= 2
    return nn.Sequential(*layers)


class Decoder(nn.Module):
    """D's features (N, cin, 8, 8) -> an image (N, channels, size, size) in [-1, 1]: per
    doubling a nearest upsample, 3x3 conv, normalisation and GLU; then a 3x3 conv and tanh
    (the original's SimpleDecoder; its adaptive pool to 8x8 is the identity on D's maps)."""

    def __init__(self, cfg: ModelConfig, cin: int, size: int):
        super().__init__()
        base = max(cfg.d_width // 2, 1)
        layers: list[nn.Module] = []
        r = 8
        while r < size:
            r *= 2
            cout = width(base, DECODER_MULT[r], cfg.max_width)
            layers += [nn.Upsample(scale_factor=2.0, mode="nearest"),
                       nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False),
                       norm_layer(cfg.d_norm, 2 * cout), nn.GLU(dim=1)]
            cin = cout
        layers += [nn.Conv2d(cin, cfg.channels, 3, 1, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def quadrant(x: torch.Tensor, q: int) -> torch.Tensor:
    """Quadrant q of (N, C, H, W): 0 top left, 1 top right, 2 bottom left, 3 bottom right."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    row, col = divmod(q, 2)
    return x[..., row * h:(row + 1) * h, col * w:(col + 1) * w]


class Discriminator(nn.Module):
    """images (N, channels, H, W) in [-1, 1], or G's (image, small image) pair [+ labels
    (N,) int64] -> patch logits (N, P) of both branches."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        res = cfg.resolution
        top = min(res, BIG_TOP)
        # Big branch: blocks[0] reads the image (FreezeD freezes blocks[:n]); then to 8 px.
        sizes = [top // 2 ** i for i in range(int(math.log2(top // 8)) + 1)]       # top .. 8
        self.sizes = sizes
        self.blocks = nn.ModuleList([big_entry(cfg)] + [
            DownBlock(d_width(cfg, 2 * r), d_width(cfg, r), cfg.d_norm) for r in sizes[1:]])
        self.sles = nn.ModuleDict({f"{s}_{t}": SLE(d_width(cfg, s), d_width(cfg, t))
                                   for s, t in d_sle_pairs(res)})
        self.out = nn.Sequential(*down(d_width(cfg, 8), d_width(cfg, 4), cfg.d_norm, 1, 1, 0),
                                 nn.Conv2d(d_width(cfg, 4), 1, 4, 1, 0, bias=False))
        # Small branch: the small image down to 8 px (widths: D's at twice the size).
        self.small = small_size(res)
        small: list[nn.Module] = [nn.Conv2d(cfg.channels, d_width(cfg, self.small), 4, 2, 1,
                                            bias=False), nn.LeakyReLU(0.2)]
        r = self.small // 2
        while r > 8:
            small += down(d_width(cfg, 2 * r), d_width(cfg, r), cfg.d_norm)
            r //= 2
        self.small_blocks = nn.Sequential(*small)
        self.small_out = nn.Conv2d(d_width(cfg, 16), 1, 4, 1, 0, bias=False)
        self.embed = nn.Embedding(cfg.num_classes, d_width(cfg, 8)) if cfg.num_classes else None
        self.image_shape = image_shape(res, cfg.aspect)
        self.small_shape = image_shape(self.small, cfg.aspect)
        self.rec_size = min(res, MAX_DECODED)                    # the whole image
        self.part_size = min(res // 2, MAX_DECODED)              # a quadrant
        self.decoder = Decoder(cfg, d_width(cfg, 8), self.rec_size)
        self.small_decoder = Decoder(cfg, d_width(cfg, 16), min(self.small, MAX_DECODED))
        self.part_decoder = Decoder(cfg, d_width(cfg, 16), self.part_size)
        init_weights(self)
        if cfg.spectral_norm:
            apply_spectral_norm(self)

    def branches(self, x: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
                 ) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """({size: big-branch map after any excitation}, the small branch's 8 px map)."""
        big, small = x if isinstance(x, tuple) else (x, nearest(x, self.small_shape))
        feats: dict[int, torch.Tensor] = {}
        h = big
        for r, block in zip(self.sizes, self.blocks):
            h = block(h)
            if f"{8 * r}_{r}" in self.sles:
                h = self.sles[f"{8 * r}_{r}"](feats[8 * r], h)
            feats[r] = h
        return feats, self.small_blocks(small)

    def logits(self, feats: dict[int, torch.Tensor], small: torch.Tensor,
               labels: torch.Tensor | None) -> torch.Tensor:
        n = small.shape[0]
        both = torch.cat([self.out(feats[8]).reshape(n, -1),
                          self.small_out(small).reshape(n, -1)], dim=1)
        if self.embed is not None:
            both = both + projection_logits(both.new_zeros(n), feats[8], self.embed,
                                            labels)[:, None]
        return both

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                    part: int | None = None
                    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(logits as forward's, [(reconstruction, target)] for the whole image, the small
        image and quadrant `part` of the image) for reals `x` (N, C, H, W). `part` None
        draws it from torch's global RNG (on the CPU), whose state training checkpoints save,
        so a resumed run draws the same quadrants."""
        if part is None:
            part = int(torch.randint(4, ()))
        feats, small = self.branches(x)
        whole = self.decoder(feats[8])
        small_rec = self.small_decoder(small)
        crop = self.part_decoder(quadrant(feats[16], part))
        pairs = [(whole, nearest(x, whole.shape[-2:])),
                 (small_rec, nearest(x, small_rec.shape[-2:])),
                 (crop, nearest(quadrant(x, part), crop.shape[-2:]))]
        return self.logits(feats, small, labels), pairs

    def forward(self, x: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                labels: torch.Tensor | None = None) -> torch.Tensor:
        feats, small = self.branches(x)
        return self.logits(feats, small, labels)


FAMILY = Family(
    generator=Generator, discriminator=Discriminator, resolutions=(32, 1024),
    capabilities=Capabilities(noise_inputs=True, d_norms=("batch", "layer", "none"),
                              d_reconstruction=True, two_views=True),
    reads=frozenset({"d_norm", "spectral_norm"}),
    architecture=2, architecture_note="the published FastGAN since ganvas's issue 28")
