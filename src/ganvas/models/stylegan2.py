"""StyleGAN2 (Karras et al. 2019, "Analyzing and Improving the Image Quality of StyleGAN") for
32 to 1024 px, 1, 3 or 4 channels, unconditional or class-conditional, in pure PyTorch.

G = mapping network (z [+ class] -> w, 8 or fewer fully connected layers at 1/100 learning
rate) + synthesis network (a learned 4x4 constant, modulated/demodulated 3x3 convolutions
with per-pixel noise, output skips through a toRGB per resolution).
D = residual network (fromRGB, then two 3x3 convolutions and a 1x1 skip per resolution down
to 4x4), minibatch standard deviation, conv, two fully connected layers; a conditional D
projects its features onto a mapped class embedding (Miyato & Koyama 2018).

Widths: G has min(g_width * resolution / r, max_width) channels at resolution r (g_width is its
width at the output resolution, doubling per halving); D the same with d_width. d_norm and
spectral_norm of ModelConfig do not apply to this family: its contract refuses them.
At a non-square aspect (ganvas.aspect) the constant and D's last maps are the first block's
H0 x W0 (4x8 for 2:1) and each block's maps r x (r W0 / 4) or (r H0 / 4) x r, with
resolution the short side; nothing else changes.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch import Tensor

from ..aspect import image_shape
from ..config.schema import ModelConfig, check_range, check_widths
from ..errors import ConfigError
from .contract import Capabilities, Family
from .layers import batch_randn, state_resolutions, truncate_w
from .stylegan2_layers import (Conv2dLayer, DiscriminatorBlock, FullyConnected, MinibatchStd,
                               SynthesisBlock, normalize_2nd_moment)

MAPPING_LR_MUL = 0.01      # the mapping network learns 100x slower (paper, appendix)
W_AVG_BETA = 0.995         # w_avg <- lerp(mean w of the batch, w_avg, beta) per training step
PL_DECAY = 0.01            # pl_mean <- lerp(pl_mean, mean path length, decay)
# Depth of a conditional D's class mapping. Not G's mapping_layers: the reference
# (stylegan2-ada-pytorch) gives D's MappingNetwork its default 8 layers even where its `auto`
# config shortens G's to 2.
D_CLASS_MAPPING_LAYERS = 8


def width(base: int, cfg: ModelConfig, r: int) -> int:
    """Channels at resolution r: `base` at the output resolution, doubled per halving, capped."""
    return min(base * cfg.resolution // r, cfg.max_width)


def fp16_from(cfg: ModelConfig) -> float:
    """Blocks at this resolution and above compute in float16 on CUDA (never 4x4)."""
    if cfg.num_fp16_res <= 0:
        return math.inf
    return max(cfg.resolution / 2 ** (cfg.num_fp16_res - 1), 8)


def need_labels(labels: Tensor | None, who: str) -> Tensor:
    if labels is None:
        raise ValueError(f"this {who} is conditional: pass labels")
    return labels


class MappingNetwork(nn.Module):
    """z (N, z_dim) [+ labels (N,) int64] -> ws (N, num_ws, w_dim), with the running mean
    `w_avg` (w_dim,) that truncation pulls towards. labels may also be float class embeddings
    (N, w_dim): rows of embed.weight or points between them (a walk from class to class)."""

    def __init__(self, cfg: ModelConfig, num_ws: int, w_avg_beta: float = W_AVG_BETA):
        super().__init__()
        self.num_classes, self.num_ws, self.w_avg_beta = cfg.num_classes, num_ws, w_avg_beta
        self.embed = nn.Embedding(cfg.num_classes, cfg.w_dim) if cfg.num_classes else None
        z_in = cfg.z_dim + (cfg.w_dim if cfg.num_classes else 0)
        dims = [z_in] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.Sequential(*[FullyConnected(a, b, lr_mul=MAPPING_LR_MUL,
                                                     activation="lrelu")
                                      for a, b in zip(dims[:-1], dims[1:])])
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: Tensor, labels: Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool = False) -> Tensor:
        """truncation_psi lerps w towards w_avg (1 = none, 0 = the average, negative flips) in
        the ws before `truncation_cutoff` (all when None). `update_w_avg` moves w_avg, in
        training mode only."""
        # z and the embedding get the same weight whatever their sizes (2nd moment = 1).
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            y = need_labels(labels, "generator")
            y = y if y.is_floating_point() else self.embed(y)
            x = torch.cat([x, normalize_2nd_moment(y).to(x.dtype)], dim=1)
        w = self.layers(x)
        if update_w_avg and self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg,
                                                                     self.w_avg_beta))
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            avg = self.w_avg.to(ws.dtype)
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            truncated = avg + truncation_psi * (ws[:, :cut] - avg)
            ws = torch.cat([truncated, ws[:, cut:]], dim=1)
        return ws


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, channels, H, W) float32, about [-1, 1] once
    trained (not squashed). noise_mode: "const" (the saved per-layer noise), "random" (fresh
    torch.randn from the global RNG) or "none"."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w_dim = cfg.w_dim
        resolutions = [2 ** i for i in range(2, int(math.log2(cfg.resolution)) + 1)]
        fp16 = fp16_from(cfg)
        self.blocks = nn.ModuleList(
            SynthesisBlock(0 if r == 4 else width(cfg.g_width, cfg, r // 2),
                           width(cfg.g_width, cfg, r), cfg.w_dim, r, cfg.channels,
                           use_fp16=r >= fp16, conv_clamp=cfg.conv_clamp,
                           shape=image_shape(r, cfg.aspect))
            for r in resolutions)
        # Each conv takes its own w; each toRGB shares the next block's first w, so only the
        # last toRGB adds one: 2 log2(res) - 2 in all (18 at 1024 px).
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: Tensor, noise_mode: str = "const") -> Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (N, {self.num_ws}, {self.w_dim}), not "
                             f"{tuple(ws.shape)}")
        x = img = None
        i = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i:i + block.num_conv + 1], noise_mode)
            i += block.num_conv
        return img


class Generator(nn.Module):
    """z (N, z_dim) float [+ labels (N,) int64] -> images (N, channels, res, res) float32.

    Training mode: random noise, style mixing with probability `mixing_prob`, w_avg updated.
    Eval mode: constant noise, no mixing, w_avg fixed, so the same z gives the same image."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim, self.num_classes = cfg.z_dim, cfg.w_dim, cfg.num_classes
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg, self.num_ws)
        self.mixing_prob = 0.9                    # the trainer sets TrainConfig.style_mixing
        self.register_buffer("pl_mean", torch.zeros([]))     # running mean path length

    @property
    def w_avg(self) -> Tensor:
        """(w_dim,) running mean of w (the truncation centre)."""
        return self.mapping.w_avg

    def forward(self, z: Tensor, labels: Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str | None = None) -> Tensor:
        """noise_mode None = "random" when training, "const" in eval mode."""
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        ws = self.mapping(z, labels, truncation_psi, truncation_cutoff,
                          update_w_avg=self.training)
        if self.training:
            ws = self.mix_styles(ws, z, labels, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode)

    # ---- the family contract's eval interface (ganvas.models) -------------------------
    @property
    def class_embedding(self) -> nn.Embedding | None:
        return self.mapping.embed

    def synthesize(self, z: Tensor, labels: Tensor | None = None,
                   truncation: float | Tensor = 1.0, noise_mode: str = "const") -> Tensor:
        """z -> images with truncation towards w_avg, as from_w(to_w(z, labels, psi))."""
        return self.from_w(self.to_w(z, labels, truncation), noise_mode)

    def to_w(self, z: Tensor, labels: Tensor | None = None,
             truncation: float | Tensor = 1.0) -> Tensor:
        """z (N, z_dim) [+ labels] -> ws (N, num_ws, w_dim), lerped towards w_avg by psi (a
        float, or a (1,) tensor as in an exported graph)."""
        return truncate_w(self.mapping(z, labels), self.w_avg, truncation)

    def from_w(self, ws: Tensor, noise_mode: str = "const") -> Tensor:
        """ws (N, num_ws, w_dim) -> images."""
        return self.synthesis(ws, noise_mode=noise_mode)

    def latent_weights(self, layers: list[int] | None = None) -> Tensor:
        """(F, w_dim): the style affine weights (effective, with their gain) that SeFa
        factorises for the w indices `layers` (default all), one layer per index as in the
        SeFa authors' code: the convolution that reads the index, and for the last index,
        which only the last toRGB reads, that toRGB. The other toRGBs read an index a
        convolution already stands for."""
        convs, i = [], 0
        for block in self.synthesis.blocks:
            convs += ([(block.conv0, i)] if block.conv0 is not None else []) + [
                (block.conv1, i + block.num_conv - 1)]
            i += block.num_conv
        readers = [*convs, (self.synthesis.blocks[-1].torgb, i)]
        rows = [layer.affine.weight * layer.affine.weight_gain for layer, index in readers
                if layers is None or index in layers]
        return torch.cat(rows).detach().float()

    def layer_resolutions(self) -> dict[str, int]:
        """{state_dict key: resolution of its block} (layer swapping, ganvas.blend): the
        mapping network (class embedding and w_avg included) and pl_mean at the lowest
        resolution, 4; each synthesis block (the 4x4 constant, its convolutions, noise and
        toRGB) at its own resolution."""
        low = self.synthesis.blocks[0].resolution
        owners = {"mapping": low, "pl_mean": low,
                  **{f"synthesis.blocks.{i}": b.resolution
                     for i, b in enumerate(self.synthesis.blocks)}}
        return state_resolutions(self, owners)

    def style_layers(self) -> dict[int, list[int]]:
        """{r: [w indices]} for r = 4, 8, ..., resolution: resolution 2^k owns w indices
        2k - 4 and 2k - 3 (the second also drives its toRGB and the next block's first conv)."""
        top = int(math.log2(self.cfg.resolution))
        return {2 ** k: [2 * k - 4, 2 * k - 3] for k in range(2, top + 1)}

    def mix_styles(self, ws: Tensor, z: Tensor, labels: Tensor | None = None,
                   truncation_psi: float = 1.0, truncation_cutoff: int | None = None) -> Tensor:
        """Style-mixing regularisation: with probability mixing_prob, the ws from a random layer
        in [1, num_ws) on come from a second z drawn with torch.randn (same labels), so G
        cannot assume neighbouring styles are correlated. Draws nothing when mixing_prob is 0."""
        if self.mixing_prob <= 0 or float(torch.rand(())) >= self.mixing_prob:
            return ws
        cutoff = int(torch.randint(1, self.num_ws, ()))
        ws2 = self.mapping(batch_randn(z), labels, truncation_psi, truncation_cutoff)
        return torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)

    def path_length_penalty(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Path length regularisation (paper, section 3.2): the Jacobian of the image w.r.t. ws,
        seen through a random image-space direction, should have a constant norm. Returns the
        scalar mean of (|J^T y| - pl_mean)^2 (the caller multiplies by its weight); updates the
        running mean `pl_mean`. Random noise; style mixing as in training mode; w_avg kept."""
        ws = self.mapping(z, labels)
        if self.training:
            ws = self.mix_styles(ws, z, labels)
        img = self.synthesis(ws, noise_mode="random")
        h, w = img.shape[2:]
        # Dividing by sqrt(pixels) makes the length independent of the resolution.
        pl_noise = batch_randn(img) / math.sqrt(h * w)
        (grads,) = torch.autograd.grad((img * pl_noise).sum(), ws, create_graph=True)
        lengths = grads.float().square().sum(dim=2).mean(dim=1).sqrt()        # (N,)
        with torch.no_grad():
            pl_mean = self.pl_mean.lerp(lengths.mean(), PL_DECAY)
            self.pl_mean.copy_(pl_mean)
        return (lengths - pl_mean).square().mean()


class Discriminator(nn.Module):
    """images (N, channels, H, W) [+ labels (N,) int64] -> logits (N,) float32.
    `blocks[0]` reads the image; FreezeD freezes the first N blocks (highest resolutions)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        fp16 = fp16_from(cfg)
        resolutions = [cfg.resolution // 2 ** i for i in range(int(math.log2(cfg.resolution)) - 2)]
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(width(cfg.d_width, cfg, r), width(cfg.d_width, cfg, r // 2),
                               image_channels=cfg.channels if r == cfg.resolution else 0,
                               use_fp16=r >= fp16, conv_clamp=cfg.conv_clamp)
            for r in resolutions)
        c = width(cfg.d_width, cfg, 4)
        self.cmap_dim = c if cfg.num_classes else 0
        if cfg.num_classes:
            # The class embedding goes through its own mapping network (D_CLASS_MAPPING_LAYERS
            # deep) to cmap.
            self.embed = nn.Embedding(cfg.num_classes, c)
            self.cmap_layers = nn.Sequential(*[
                FullyConnected(c, c, lr_mul=MAPPING_LR_MUL, activation="lrelu")
                for _ in range(D_CLASS_MAPPING_LAYERS)])
        self.mbstd = MinibatchStd(cfg.mbstd_group)
        self.conv = Conv2dLayer(c + 1, c, 3, activation="lrelu", conv_clamp=cfg.conv_clamp)
        h0, w0 = cfg.block_shape
        self.fc = FullyConnected(c * h0 * w0, c, activation="lrelu")
        self.out = FullyConnected(c, self.cmap_dim or 1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x)
        x = self.conv(self.mbstd(x.float()))              # the 4x4 epilogue runs in float32
        x = self.out(self.fc(x.flatten(1)))
        if self.cmap_dim:
            y = self.embed(need_labels(labels, "discriminator"))
            cmap = self.cmap_layers(normalize_2nd_moment(y))
            x = (x * cmap.to(x.dtype)).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x.flatten().float()


def check_fields(cfg: ModelConfig) -> None:
    """The bounds of the fields only StyleGAN2 reads (a ConfigError naming the first)."""
    check_widths(cfg, ("w_dim", "mapping_layers", "mbstd_group"))
    check_range("mapping-layers", cfg.mapping_layers, 1, 16)
    check_range("mbstd-group", cfg.mbstd_group, 1, 64)
    check_range("num-fp16-res", cfg.num_fp16_res, 0, 16)
    if cfg.conv_clamp is not None and cfg.conv_clamp <= 0:
        raise ConfigError("conv-clamp must be positive (or none)")


def runs_float16(cfg: ModelConfig) -> bool:
    """Whether G and D have float16 blocks of their own on CUDA (num_fp16_res > 0)."""
    return cfg.num_fp16_res > 0


FAMILY = Family(
    generator=Generator, discriminator=Discriminator, resolutions=(32, 1024),
    capabilities=Capabilities(w_space=True, noise_inputs=True, style_mixing=True,
                              path_length=True, d_norms=("none",), spectral_norm=False,
                              truncation_space="w"),
    reads=frozenset({"d_norm", "w_dim", "mapping_layers", "mbstd_group", "num_fp16_res",
                     "conv_clamp"}),
    check=check_fields, own_fp16=runs_float16)
