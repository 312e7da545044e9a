"""Building blocks of StyleGAN2 (Karras et al. 2019, "Analyzing and Improving the Image Quality
of StyleGAN"), in pure PyTorch: no custom CUDA kernels.

Every weight is stored N(0, 1) (divided by the learning-rate multiplier) and scaled at run time
by He's constant ("equalised learning rate", Karras et al. 2018), so Adam's per-parameter steps
mean the same for every layer. Leaky ReLU activations are multiplied by sqrt(2) so that unit
variance in gives about unit variance out. Resampling uses the [1, 3, 3, 1] binomial low-pass
filter, written as depthwise (transposed) convolutions.

Tensors are NCHW; a block may compute in float16 on CUDA (`use_fp16`), then its input is cast
in and its output cast back by the caller.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .layers import batch_randn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
NOISE_MODES = ("const", "random", "none")


def compute_dtype(use_fp16: bool, device: torch.device) -> torch.dtype:
    """float16 for the blocks asked to use it, on CUDA only: CPU float16 convolutions are slow
    and MPS gains little; everything else computes in float32."""
    return torch.float16 if use_fp16 and device.type == "cuda" else torch.float32


def block_input(x: Tensor, use_fp16: bool) -> Tensor:
    """x cast to the dtype its block computes in (`compute_dtype`), except that a float32 block
    leaves a bfloat16 x as it is: under bfloat16 autocast every convolution casts its input
    back to bfloat16, so a float32 copy changes no value and costs two casts a block (forward
    and backward; on the CPU about 10% of a stylegan2-tiny step)."""
    dtype = compute_dtype(use_fp16, x.device)
    return x if dtype == torch.float32 and x.dtype == torch.bfloat16 else x.to(dtype)


def lowpass_filter() -> Tensor:
    """The separable [1, 3, 3, 1] filter as a (4, 4) float32 kernel summing to 1."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f2 = torch.outer(f, f)
    return f2 / f2.sum()


def _depthwise(f: Tensor, channels: int, dtype: torch.dtype) -> Tensor:
    """(4, 4) kernel -> (channels, 1, 4, 4) weight of a depthwise convolution."""
    return f.to(dtype)[None, None].repeat(channels, 1, 1, 1)


def blur(x: Tensor, f: Tensor, pad: int, gain: float = 1.0) -> Tensor:
    """Low-pass filter x (N, C, H, W) with `f` after zero-padding `pad` pixels per side:
    -> (N, C, H + 2 pad - 3, W + 2 pad - 3). The filter is symmetric, so no flip is needed.
    The convolution pads by itself: an explicit F.pad costs a filled copy of x each way (on
    the CPU about a third of the blur's forward and backward)."""
    w = _depthwise(f * gain, x.shape[1], x.dtype)
    return F.conv2d(x, w, padding=pad, groups=x.shape[1])


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """x (N, C, H, W) -> (N, C, 2H, 2W): zero insertion then the low-pass filter (gain 4, since
    three of every four samples are zeros), done at once as a strided transposed convolution.
    Padding 1 crops the full (2H + 2) output to the 2H samples centred on the input.
    In x's dtype, outside autocast: G's skip image stays float32 (as in the reference), and on
    the CPU a bfloat16 stride-2 depthwise convolution is 3x slower than a float32 one."""
    w = _depthwise(f * 4, x.shape[1], x.dtype)
    with torch.autocast(x.device.type, enabled=False):
        return F.conv_transpose2d(x, w, stride=2, padding=1, groups=x.shape[1])


def downsample2d(x: Tensor, f: Tensor) -> Tensor:
    """x (N, C, H, W), H and W even -> (N, C, H/2, W/2): low-pass filter, keep every 2nd."""
    w = _depthwise(f, x.shape[1], x.dtype)
    return F.conv2d(x, w, padding=1, stride=2, groups=x.shape[1])


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x (N, F) scaled so that every row has mean square 1 (z and class embeddings)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def bias_act(x: Tensor, bias: Tensor | None, activation: str = "linear", gain: float = 1.0,
             clamp: float | None = None) -> Tensor:
    """x + bias (broadcast over dim 1), then 'linear' or 'lrelu' (slope 0.2, times sqrt(2)),
    times `gain`, then clamped to +-clamp (keeps float16 activations finite).

    The gain and the activation work in place on the first step's fresh output (one or two
    new tensors instead of up to four: faster on the CPU), in an order autograd allows: gain
    and clamp before the activation, which saves its output. A gain (> 0) commutes with the
    leaky ReLU, and clamp(lrelu(y), -c, c) = lrelu(clamp(y, -c / slope, c))."""
    if activation == "lrelu":
        gain = gain * LRELU_GAIN
    elif activation != "linear":
        raise ValueError(f"unknown activation {activation!r}")
    if bias is not None:
        x = x + bias.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
        if gain != 1:
            x = x.mul_(gain)
    else:
        x = x * gain                                    # fresh even when gain is 1
    if clamp is not None:
        # hardtanh is clamp with a one-pass backward (clamp's builds two masks, ands them and
        # selects: 2x the time in bfloat16 on the CPU); they differ only at exactly +-c. Out of
        # place: its backward reads its input, so the in-place activation after it needs no
        # saved copy (in place, autograd would clone the tensor for the activation).
        x = F.hardtanh(x, -clamp / LRELU_SLOPE if activation == "lrelu" else -clamp, clamp)
    return F.leaky_relu_(x, LRELU_SLOPE) if activation == "lrelu" else x


class FullyConnected(nn.Module):
    """Equalised-learning-rate linear layer (N, in) -> (N, out) with optional leaky ReLU.

    `lr_mul` < 1 slows the layer down (the mapping network uses 0.01): the stored weight is
    N(0, 1) / lr_mul and the run-time scale is lr_mul / sqrt(in), so the effective weight starts
    N(0, 1 / in) but Adam moves it lr_mul times slower. `bias_init` is the effective initial bias
    (1 for style affines, so that initial styles are about 1)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 bias_init: float = 0.0, lr_mul: float = 1.0, activation: str = "linear"):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = (nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
                     if bias else None)
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = None if self.bias is None else (self.bias * self.bias_gain).to(x.dtype)
        if self.activation == "linear" and b is not None:
            return torch.addmm(b, x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation)


class Conv2dLayer(nn.Module):
    """Equalised-learning-rate k x k convolution (N, in, H, W) -> (N, out, H', W') used by D:
    H' = H, or H/2 with `down` (low-pass filter, then stride 2). `gain` scales the output after
    the activation (the residual branches use sqrt(1/2)); `conv_clamp` clamps it."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: bool = False, gain: float = 1.0,
                 conv_clamp: float | None = None):
        super().__init__()
        self.activation, self.down, self.gain = activation, down, gain
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        # Not saved in checkpoints (a constant), but moves with .to(device).
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.down:
            # Filter with enough padding that a stride-2 valid convolution gives H/2 samples.
            k = w.shape[-1]
            x = F.conv2d(blur(x, self.filter, (k + 1) // 2), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        clamp = None if self.conv_clamp is None else self.conv_clamp * self.gain
        return bias_act(x, self.bias, self.activation, self.gain, clamp)


def fuse_modconv(training: bool, x: Tensor) -> bool:
    """Whether a modulated convolution runs as one grouped convolution ("fused", one weight copy
    per sample) or as a plain convolution between per-sample scalings ("unfused"); the two are
    the same function. Fused for float32 CUDA inference, as the reference implementation does
    (one launch per layer); unfused otherwise: it backpropagates faster, and on a 2-core CPU it
    measured faster even for inference (64 px, widths 128-256, batch 8: G forward+backward
    0.76 s vs 1.04 s; batch 16 forward 0.81 s vs 1.01 s)."""
    return not training and x.device.type == "cuda" and x.dtype == torch.float32


def prescale_for_fp16(weight: Tensor, styles: Tensor) -> tuple[Tensor, Tensor]:
    """Overflow guard of a demodulated float16 convolution (as NVlabs' stylegan2-ada-pytorch):
    weight (Cout, Cin, k, k) -> times 1/sqrt(Cin k k)/max|w| per output channel, styles (N, Cin)
    -> over max|s| per sample, both float32. Demodulation cancels both constants, but the
    scaled input x * styles and the convolution's sums then stay near unit scale instead of
    passing float16's 65504 when styles grow large in training."""
    weight = weight.float()
    styles = styles.float()
    # The floor keeps an all-zero row zero instead of 0/0 = NaN.
    w_max = weight.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    s_max = styles.abs().amax(dim=1, keepdim=True).clamp_min(1e-8)
    return weight / (math.sqrt(weight[0].numel()) * w_max), styles / s_max


def demodulation(weight: Tensor, styles: Tensor) -> Tensor:
    """(N, Cout) float32: 1 / the L2 norm of each output channel of each sample's modulated
    weight, weight (Cout, Cin, k, k) times styles (N, Cin) on the input channels. The sum over
    (Cin, k, k) of (w s)^2 is styles^2 @ (sum over k, k of w^2): one small matrix product
    instead of an (N, Cout, Cin, k, k) tensor and its backward. Outside autocast: the sums
    of squares stay float32 (float16 overflows, bfloat16 rounds them coarsely)."""
    with torch.autocast(styles.device.type, enabled=False):
        w2 = weight.float().square().sum(dim=(2, 3))                # (Cout, Cin)
        return (styles.float().square() @ w2.t() + 1e-8).rsqrt()


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True,
                     up: bool = False, f: Tensor | None = None, fused: bool = True) -> Tensor:
    """StyleGAN2's modulated convolution.

    x (N, Cin, H, W); weight (Cout, Cin, k, k); styles (N, Cin) scale the input channels of
    each sample's copy of the weight; `demodulate` rescales each output channel of that copy to
    unit L2 norm (replacing StyleGAN's instance norm, which caused droplet artefacts). `up`
    (k = 3 only) doubles H and W: a stride-2 transposed convolution, then the low-pass filter
    `f`. -> (N, Cout, H, W) or (N, Cout, 2H, 2W). `fused`: one grouped convolution for the
    whole batch (groups = N); else scale x by the styles, convolve with the shared weight and
    scale the output by the demodulation coefficients. Weight arithmetic runs in float32 (sums
    of squares overflow in float16); the convolutions run in x's dtype, after
    `prescale_for_fp16` when that is float16 and demodulation is on."""
    n, cin, h, wd = x.shape
    cout, _, kh, kw = weight.shape
    if demodulate and x.dtype == torch.float16:
        weight, styles = prescale_for_fp16(weight, styles)
    elif demodulate:
        # Demodulation cancels any constant factor of the weight; He's 1/sqrt(fan-in) keeps
        # the unfused convolution's output near unit scale (bfloat16 too).
        weight = weight.float() / math.sqrt(cin * kh * kw)
    dcoefs = demodulation(weight, styles) if demodulate else None                   # (N, Cout)
    if fused:
        w = weight[None].float() * styles.float()[:, None, :, None, None]  # (N, Cout, Cin, k, k)
        if dcoefs is not None:
            w = w * dcoefs[:, :, None, None, None]
        w = w.to(x.dtype)
        x = x.reshape(1, n * cin, h, wd)                  # the batch becomes groups of channels
        if up:
            # conv_transpose2d wants (in, out / groups, k, k); the flip keeps the orientation
            # of the plain path (zero insertion followed by a correlation with w).
            w = w.flip((3, 4)).transpose(1, 2).reshape(n * cin, cout, kh, kw)
            x = F.conv_transpose2d(x, w, stride=2, groups=n)       # (1, N Cout, 2H+1, 2W+1)
            x = blur(x, f, pad=1, gain=4.0)                        # -> 2H x 2W; gain as above
        else:
            x = F.conv2d(x, w.reshape(n * cout, cin, kh, kw), padding=kh // 2, groups=n)
        return x.reshape(n, cout, x.shape[2], x.shape[3])
    x = x * styles.to(x.dtype)[:, :, None, None]
    w = weight.to(x.dtype)
    if up:
        x = F.conv_transpose2d(x, w.flip((2, 3)).transpose(0, 1), stride=2)
        x = blur(x, f, pad=1, gain=4.0)
    else:
        x = F.conv2d(x, w, padding=kh // 2)
    if dcoefs is not None:
        x = x * dcoefs.to(x.dtype)[:, :, None, None]
    return x


class SynthesisLayer(nn.Module):
    """One modulated 3x3 convolution of G: (N, in, H, W) + w (N, w_dim) -> (N, out, R, R),
    R = `resolution` (H or 2H with `up`), then per-pixel noise times a learned strength
    (starts at 0), bias, leaky ReLU with gain sqrt(2), and the optional clamp. A non-square
    model's maps are `shape` (R_h, R_w) instead of R x R."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: bool = False, conv_clamp: float | None = None,
                 shape: tuple[int, int] | None = None):
        super().__init__()
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)   # style A
        # No weight gain of its own: demodulation normalises the weight anyway.
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        # Fixed noise for noise_mode "const", saved with the weights so an image is reproducible.
        self.register_buffer("noise_const", torch.randn(*(shape or (resolution, resolution))))
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "const") -> Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, up=self.up, f=self.filter,
                             fused=fuse_modconv(self.training, x))
        if noise_mode == "random":
            noise = batch_randn(x, channels=1)                # (N, 1, R, R)
            x = x + noise * self.noise_strength.to(x.dtype)
        elif noise_mode == "const":
            x = x + (self.noise_const * self.noise_strength).to(x.dtype)
        elif noise_mode != "none":
            raise ValueError(f"unknown noise mode {noise_mode!r}; choose from "
                             f"{', '.join(NOISE_MODES)}")
        return bias_act(x, self.bias, "lrelu", clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 convolution without demodulation: features (N, in, H, W) + w (N, w_dim)
    -> an image contribution (N, channels, H, W), linear."""

    def __init__(self, in_channels: int, channels: int, w_dim: int,
                 conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)    # no demodulation: He scale here

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False,
                             fused=fuse_modconv(self.training, x))
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """G's block at one resolution R with output skips: (x (N, in, R/2, R/2) | None at 4x4,
    img (N, channels, R/2, R/2) float32 | None, ws (N, num_conv + 1, w_dim)) -> (x (N, out, R, R),
    img (N, channels, R, R) float32). At 4x4 x starts from a learned constant (N(0, 1)).
    The block's last w drives its toRGB; it is also the next block's first w (as in the paper's
    code), so a block consumes num_conv new ws. A non-square model's block at R has maps of
    `shape` (R_h, R_w), its constant the first block's (H0, W0)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 channels: int, use_fp16: bool = False, conv_clamp: float | None = None,
                 shape: tuple[int, int] | None = None):
        super().__init__()
        self.resolution, self.use_fp16 = resolution, use_fp16
        shape = shape or (resolution, resolution)
        self.const = nn.Parameter(torch.randn(out_channels, *shape)) if in_channels == 0 else None
        self.conv0 = (None if in_channels == 0 else
                      SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True,
                                     conv_clamp=conv_clamp, shape=shape))
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution,
                                    conv_clamp=conv_clamp, shape=shape)
        self.torgb = ToRGB(out_channels, channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.register_buffer("filter", lowpass_filter(), persistent=False)

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor,
                noise_mode: str = "const") -> tuple[Tensor, Tensor]:
        dtype = compute_dtype(self.use_fp16, ws.device)
        i = 0
        if self.const is not None:
            x = self.const.to(dtype)[None].expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(block_input(x, self.use_fp16), ws[:, 0], noise_mode)
            i = 1
        x = self.conv1(x, ws[:, i], noise_mode)
        y = self.torgb(x, ws[:, i + 1]).float()
        img = y if img is None else upsample2d(img, self.filter) + y
        return x, img


class DiscriminatorBlock(nn.Module):
    """D's residual block at resolution R: (N, in, R, R) -> (N, out, R/2, R/2); the first block
    also reads the image (N, channels, R, R) with fromRGB (1x1 conv + leaky ReLU).
    Main path: conv 3x3, conv 3x3 with downsampling; skip: 1x1 with downsampling, no bias;
    both scaled by sqrt(1/2) so the sum keeps unit variance."""

    def __init__(self, in_channels: int, out_channels: int, image_channels: int = 0,
                 use_fp16: bool = False, conv_clamp: float | None = None):
        super().__init__()
        self.use_fp16 = use_fp16
        half = math.sqrt(0.5)
        self.fromrgb = (Conv2dLayer(image_channels, in_channels, 1, activation="lrelu",
                                    conv_clamp=conv_clamp) if image_channels else None)
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3, activation="lrelu",
                                 conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3, activation="lrelu", down=True,
                                 gain=half, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(in_channels, out_channels, 1, bias=False, down=True, gain=half)

    def forward(self, x: Tensor) -> Tensor:
        x = block_input(x, self.use_fp16)
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        return self.skip(x) + self.conv1(self.conv0(x))


def group_size(n: int, group: int) -> int:
    """The largest divisor of the batch size n that is at most `group` (>= 1)."""
    return max(g for g in range(1, min(group, n) + 1) if n % g == 0)


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018): (N, C, H, W) -> (N, C + 1, H, W).
    Samples are split into groups (sample i is in group i mod N/G); the extra channel is the
    std of every feature over the group, averaged over features and pixels, so D can see a
    lack of variety. G = largest divisor of N that is at most `group`."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = group_size(n, self.group)
        y = x.reshape(g, n // g, c, h, w).float()
        y = (y - y.mean(dim=0)).square().mean(dim=0)       # (N/G, C, H, W) variance over group
        y = (y + 1e-8).sqrt().mean(dim=(1, 2, 3))            # (N/G,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)        # row k*(N/G) + i <- group i
        return torch.cat([x, y.to(x.dtype)], dim=1)
