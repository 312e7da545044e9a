"""StyleGAN3 (Karras et al. 2021, "Alias-Free Generative Adversarial Networks"), configurations
T (translation equivariant: 3x3 convolutions, separable Kaiser filters) and R (rotation
equivariant too: 1x1 convolutions and radially symmetric downsampling filters outside the
critically sampled layers), for 32 to 1024 px, 1, 3 or 4 channels, unconditional or
class-conditional, in pure PyTorch (layers in stylegan3_layers.py).

G = StyleGAN2's mapping network (z [+ class] -> w; w_avg tracked with decay 0.998) + the
alias-free synthesis network: Fourier features at the first layer's sampling rate (their
rotation and translation from w), `synthesis_layers` (14) modulated convolutions whose
cutoff frequencies rise geometrically from 2 to resolution / 2 (reached `NUM_CRITICAL` layers
before the end, which are critically sampled) and whose minimum stopbands rise from 2^2.1 to
2^0.3 times the last cutoff; each layer's sampling rate is the power of two at or above twice
its stopband (at most the resolution), and its maps carry `synthesis_margin` (10) extra
pixels a side but the last two, which are the picture; then a 1x1 toRGB and the output
times 1/4. Channels: min(channel_base / 2 / cutoff, channel cap), channel_base = g_width *
resolution (as StyleGAN2's g_width, G's width at its last layers), the cap g_max_width or
max_width.
There are no noise inputs; w has num_ws = synthesis_layers + 2 entries (the input's, each
layer's, toRGB's).

D is StyleGAN2's (models/stylegan2.Discriminator), as in NVlabs' stylegan3 repository, which
trains StyleGAN3 generators against its StyleGAN2 discriminator.

The two configurations are two families, stylegan3-t and stylegan3-r: they differ in their
layer layout (the weights' shapes), which is what a family is, and NVlabs' pickles name them
so (NvlabsPickle.architecture); neither needs a ModelConfig field the other families must
leave at its default. At a non-square aspect (ganvas.aspect) each layer's maps are its
sampling rate times the picture's sides over its short side, plus the margins.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from ..config.schema import MAX_WIDTH, ModelConfig, check_range, check_widths
from ..errors import ConfigError
from .contract import Capabilities, Family
from .layers import batch_randn, state_resolutions, truncate_w
from .stylegan2 import Discriminator, MappingNetwork
from .stylegan3_layers import AliasFreeLayer, FourierInput

W_AVG_BETA = 0.998           # w_avg <- lerp(mean w of the batch, w_avg, beta) per step
NUM_CRITICAL = 2             # critically sampled layers at the end
FIRST_CUTOFF = 2.0           # f_c of the first layer
FIRST_STOPBAND = 2 ** 2.1    # minimum stopband f_t of the first layer
LAST_STOPBAND_REL = 2 ** 0.3  # the last layer's minimum stopband over its cutoff
OUTPUT_SCALE = 0.25
FILTER_SIZE = 6              # filter taps per unit of the lower rate when resampling
LRELU_UPSAMPLING = 2         # the leaky ReLU runs at twice the higher rate


def schedule(cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The per-layer design (index 0 .. synthesis_layers, the last toRGB), float64 arrays:
    cutoffs, stopbands, sampling rates, transition half-widths and channels."""
    n, res = cfg.synthesis_layers, cfg.resolution
    last_cutoff = res / 2
    exponents = np.minimum(np.arange(n + 1) / (n - NUM_CRITICAL), 1)
    cutoffs = FIRST_CUTOFF * (last_cutoff / FIRST_CUTOFF) ** exponents
    stopbands = FIRST_STOPBAND * (last_cutoff * LAST_STOPBAND_REL / FIRST_STOPBAND) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    cap = cfg.g_max_width or cfg.max_width
    channels = np.rint(np.minimum(cfg.g_width * res / 2 / cutoffs, cap))
    channels[-1] = cfg.channels
    return {"cutoffs": cutoffs, "rates": rates, "half_widths": half_widths,
            "channels": channels}


def layer_sizes(cfg: ModelConfig, rates: np.ndarray) -> list[tuple[int, int]]:
    """(W, H) of each layer's maps: the rate over the picture plus synthesis_margin a side;
    the last two layers the picture's (H, W) as (W, H)."""
    h, w = cfg.image_shape
    m = 2 * cfg.synthesis_margin
    sizes = [(int(r * w / cfg.resolution) + m, int(r * h / cfg.resolution) + m) for r in rates]
    sizes[-2:] = [(w, h), (w, h)]
    return sizes


def style_resolution(cutoff: float) -> int:
    """The resolution a layer stands for (style mixing, layer swapping): the power of two
    nearest twice its cutoff, the size of a picture holding its frequencies (4 .. res)."""
    return int(2 ** round(math.log2(2 * cutoff)))


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, channels, H, W) float32 (not squashed)."""

    def __init__(self, cfg: ModelConfig, radial: bool):
        super().__init__()
        self.w_dim = cfg.w_dim
        s = schedule(cfg)
        rates, ch = s["rates"].astype(int), s["channels"].astype(int)
        sizes = layer_sizes(cfg, s["rates"])
        n = cfg.synthesis_layers
        self.input = FourierInput(cfg.w_dim, int(ch[0]), sizes[0], float(s["rates"][0]),
                                  float(s["cutoffs"][0]))
        layers = []
        for i in range(n + 1):
            p = max(i - 1, 0)
            layers.append(AliasFreeLayer(
                cfg.w_dim, int(ch[p]), int(ch[i]), sizes[p], sizes[i], int(rates[p]),
                int(rates[i]), float(s["cutoffs"][p]), float(s["cutoffs"][i]),
                float(s["half_widths"][p]), float(s["half_widths"][i]), to_rgb=i == n,
                critical=i >= n - NUM_CRITICAL, kernel=1 if radial else 3, radial=radial,
                conv_clamp=cfg.conv_clamp, magnitude_beta=cfg.magnitude_ema_beta,
                filter_size=FILTER_SIZE, lrelu_upsampling=LRELU_UPSAMPLING))
        self.layers = nn.ModuleList(layers)
        self.num_ws = n + 2
        # w index -> the resolution it stands for: the input's, then each layer's output.
        cutoffs = [s["cutoffs"][0], *s["cutoffs"]]
        self.resolutions = [style_resolution(c) for c in cutoffs]

    def forward(self, ws: Tensor) -> Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (N, {self.num_ws}, {self.w_dim}), not "
                             f"{tuple(ws.shape)}")
        x = self.input(ws[:, 0])
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i + 1])
        return x.float() * OUTPUT_SCALE


class Generator(nn.Module):
    """z (N, z_dim) float [+ labels (N,) int64] -> images (N, channels, H, W) float32.

    Training mode: style mixing with probability `mixing_prob` (0 in the StyleGAN3 recipe),
    w_avg and the layers' magnitude EMAs updated. Eval mode: deterministic."""

    def __init__(self, cfg: ModelConfig, radial: bool = False):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim, self.num_classes = cfg.z_dim, cfg.w_dim, cfg.num_classes
        self.synthesis = SynthesisNetwork(cfg, radial)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg, self.num_ws, w_avg_beta=W_AVG_BETA)
        self.mixing_prob = 0.0                    # the trainer sets TrainConfig.style_mixing

    @property
    def w_avg(self) -> Tensor:
        """(w_dim,) running mean of w (the truncation centre)."""
        return self.mapping.w_avg

    @property
    def class_embedding(self) -> nn.Embedding | None:
        return self.mapping.embed

    def forward(self, z: Tensor, labels: Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> Tensor:
        ws = self.mapping(z, labels, truncation_psi, truncation_cutoff,
                          update_w_avg=self.training)
        if self.training:
            ws = self.mix_styles(ws, z, labels)
        return self.synthesis(ws)

    # ---- the family contract's eval interface (ganvas.models) -------------------------
    def synthesize(self, z: Tensor, labels: Tensor | None = None,
                   truncation: float | Tensor = 1.0, noise_mode: str = "const") -> Tensor:
        """z -> images with truncation towards w_avg; noise_mode is accepted for the
        interface and means nothing (no noise inputs)."""
        return self.from_w(self.to_w(z, labels, truncation))

    def to_w(self, z: Tensor, labels: Tensor | None = None,
             truncation: float | Tensor = 1.0) -> Tensor:
        """z (N, z_dim) [+ labels] -> ws (N, num_ws, w_dim), lerped towards w_avg by psi."""
        return truncate_w(self.mapping(z, labels), self.w_avg, truncation)

    def from_w(self, ws: Tensor, noise_mode: str = "const") -> Tensor:
        """ws (N, num_ws, w_dim) -> images."""
        return self.synthesis(ws)

    def latent_weights(self, layers: list[int] | None = None) -> Tensor:
        """(F, w_dim): the effective affine weights that read each w index in `layers`
        (default all): the Fourier input's (rotation and translation, 4 rows) for index 0,
        then each layer's style affine, toRGB's last."""
        readers = [self.synthesis.input.affine, *(layer.affine for layer in self.synthesis.layers)]
        rows = [a.weight * a.weight_gain for i, a in enumerate(readers)
                if layers is None or i in layers]
        return torch.cat(rows).detach().float()

    def style_layers(self) -> dict[int, list[int]]:
        """{r: [w indices]}: each w index under the resolution its layer stands for
        (`style_resolution` of its cutoff; the input's at 4)."""
        out: dict[int, list[int]] = {}
        for i, r in enumerate(self.synthesis.resolutions):
            out.setdefault(r, []).append(i)
        return out

    def layer_resolutions(self) -> dict[str, int]:
        """{state_dict key: resolution} (layer swapping): the mapping network and the Fourier
        input at the lowest, each layer at the resolution its cutoff stands for."""
        res = self.synthesis.resolutions
        owners = {"mapping": res[0], "synthesis.input": res[0],
                  **{f"synthesis.layers.{i}": r for i, r in enumerate(res[1:])}}
        return state_resolutions(self, owners)

    def input_transform(self, translate: tuple[float, float] = (0.0, 0.0),
                        rotate: float = 0.0) -> Tensor:
        """Move the picture by `translate` (x right, y down, in units of its short side: 0.25
        is a quarter of a 256 px picture, 64 px) and turn it by `rotate` degrees
        (counter-clockwise), by transforming the Fourier features' coordinates (what the
        network's equivariance carries to the picture; content from outside the frame is
        made up). Sets the buffer synthesis.input.transform (saved with the weights, as in
        NVlabs' networks) to the inverse of that motion; no arguments restore the identity.
        Returns the (3, 3) matrix set."""
        tx, ty, angle = float(translate[0]), float(translate[1]), math.radians(float(rotate))
        for value in (tx, ty, angle):
            if not math.isfinite(value) or abs(value) > 1e6:
                raise ConfigError(f"input transform values must be finite and at most 1e6, "
                                  f"not {value!r}")
        c, s = math.cos(angle), math.sin(angle)
        motion = torch.tensor([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]], dtype=torch.float64)
        inverse = torch.linalg.inv(motion).float()
        buffer = self.synthesis.input.transform
        buffer.copy_(inverse.to(buffer.device))
        return inverse

    def mix_styles(self, ws: Tensor, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Style mixing (as StyleGAN2's): with probability mixing_prob, the ws from a random
        index in [1, num_ws) on come from a second z. Draws nothing when mixing_prob is 0."""
        if self.mixing_prob <= 0 or float(torch.rand(())) >= self.mixing_prob:
            return ws
        cutoff = int(torch.randint(1, self.num_ws, ()))
        ws2 = self.mapping(batch_randn(z), labels)
        return torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)


def check_fields(cfg: ModelConfig) -> None:
    """The bounds of the fields StyleGAN3 reads (a ConfigError naming the first)."""
    check_widths(cfg, ("w_dim", "mapping_layers", "mbstd_group"))
    check_range("mapping-layers", cfg.mapping_layers, 1, 16)
    check_range("mbstd-group", cfg.mbstd_group, 1, 64)
    check_range("num-fp16-res", cfg.num_fp16_res, 0, 16)
    check_range("synthesis-layers", cfg.synthesis_layers, NUM_CRITICAL + 1, 64)
    check_range("synthesis-margin", cfg.synthesis_margin, 0, 256)
    if not 0 <= cfg.magnitude_ema_beta < 1:
        raise ConfigError(f"magnitude-ema-beta must be from 0 to below 1, not "
                          f"{cfg.magnitude_ema_beta:g}")
    if cfg.g_max_width is not None:
        check_range("g-max-width", cfg.g_max_width, 1, MAX_WIDTH)
    if cfg.conv_clamp is not None and cfg.conv_clamp <= 0:
        raise ConfigError("conv-clamp must be positive (or none)")


def runs_float16(cfg: ModelConfig) -> bool:
    """Whether D has float16 blocks of its own on CUDA (num_fp16_res > 0); G computes in
    float32 (or the run's autocast)."""
    return cfg.num_fp16_res > 0


CAPABILITIES = Capabilities(w_space=True, noise_inputs=False, style_mixing=True,
                            path_length=False, d_norms=("none",), spectral_norm=False,
                            truncation_space="w", input_transform=True)
READS = frozenset({"d_norm", "w_dim", "mapping_layers", "mbstd_group", "num_fp16_res",
                   "conv_clamp", "synthesis_layers", "synthesis_margin", "magnitude_ema_beta",
                   "g_max_width"})


def family(radial: bool) -> Family:
    """The StyleGAN3-T (radial False) or -R family."""
    return Family(generator=partial(Generator, radial=radial), discriminator=Discriminator,
                  resolutions=(32, 1024), capabilities=CAPABILITIES, reads=READS,
                  check=check_fields, own_fp16=runs_float16)


FAMILY_T = family(radial=False)
FAMILY_R = family(radial=True)
