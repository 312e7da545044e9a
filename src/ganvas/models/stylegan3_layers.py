"""Building blocks of StyleGAN3 (Karras et al. 2021, "Alias-Free Generative Adversarial
Networks"), in pure PyTorch: no custom CUDA kernels.

Each synthesis layer treats its feature maps as samples of a continuous signal at a sampling
rate s (samples per unit length, the image being one unit along its short side) with a
cutoff frequency f_c and a transition band of half-width f_h. A layer is a modulated
convolution, then the alias-free nonlinearity: the bias, upsampling by `up` (zero insertion
and a windowed-sinc low-pass filter with cutoff f_c of the input, at the temporary rate
s_tmp), the leaky ReLU (with gain and clamp), and downsampling by `down` after a low-pass
filter with the output's cutoff (StyleGAN3-R: a radially symmetric jinc filter, except in
the critically sampled layers). The filters are Kaiser-windowed (the window's beta from the
transition width, Kaiser's formulas) and normalised to unit DC gain; they are symmetric, so
a convolution and a correlation with them are the same.

Tensors are NCHW; the filters are built in float64 and stored as float32 buffers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .stylegan2_layers import FullyConnected, bias_act

LRELU_SLOPE = 0.2


# ---- filter design -----------------------------------------------------------------------
def kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser's beta for a filter of `numtaps` taps whose transition band is `width` wide at
    sampling rate fs: the attenuation (dB) such a window reaches, 2.285 (numtaps - 1) pi
    (2 width / fs) + 7.95, turned into beta by Kaiser's empirical rule."""
    atten = 2.285 * (numtaps - 1) * math.pi * (width / (fs / 2)) + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def lowpass_taps(numtaps: int, cutoff: float, width: float, fs: float) -> Tensor | None:
    """(numtaps,) float32: the windowed-sinc low-pass filter with cutoff `cutoff` (Hz-like units
    of fs), Kaiser window for transition width `width`, DC gain 1; None for one tap (the
    identity)."""
    if numtaps == 1:
        return None
    m = np.arange(numtaps) - (numtaps - 1) / 2
    fc = cutoff / (fs / 2)                                     # as a fraction of Nyquist
    h = fc * np.sinc(fc * m) * np.kaiser(numtaps, kaiser_beta(numtaps, width, fs))
    return torch.as_tensor(h / h.sum(), dtype=torch.float32)


def radial_taps(numtaps: int, cutoff: float, width: float, fs: float) -> Tensor:
    """(numtaps, numtaps) float32: the radially symmetric low-pass filter, the jinc
    J1(2 pi f_c r) / (pi r) (the 2-D ideal disc filter) times the outer product of the Kaiser
    window, normalised to sum 1."""
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = torch.as_tensor(np.hypot(*np.meshgrid(x, x)), dtype=torch.float64)
    jinc = torch.where(r > 0, torch.special.bessel_j1(2 * math.pi * cutoff * r) /
                       (math.pi * r.clamp_min(1e-30)), torch.full_like(r, cutoff))
    w = torch.as_tensor(np.kaiser(numtaps, kaiser_beta(numtaps, width, fs)))
    f = jinc * torch.outer(w, w)
    return (f / f.sum()).float()


# ---- resampling --------------------------------------------------------------------------
def _filter_axes(x: Tensor, f: Tensor | None, gain: float, stride: int) -> Tensor:
    """Valid depthwise filtering of x (N, C, H, W) by f (k,) along W then H (separable), or by
    f (k, k) at once, times `gain` per axis for a separable filter (overall for a 2-D one),
    keeping every `stride`-th output sample from the first."""
    c = x.shape[1]
    if f is None:
        x = x * gain ** 2 if gain != 1 else x
        return x[:, :, ::stride, ::stride] if stride > 1 else x
    f = f.to(x.dtype)
    if f.ndim == 2:
        w = (f * gain ** 2)[None, None].expand(c, 1, -1, -1)
        return F.conv2d(x, w, stride=stride, groups=c)
    w = (f * gain)[None, None]
    x = F.conv2d(x, w[:, :, None, :].expand(c, 1, 1, -1), stride=(1, stride), groups=c)
    return F.conv2d(x, w[:, :, :, None].expand(c, 1, -1, 1), stride=(stride, 1), groups=c)


def upsample_pad(x: Tensor, up: int, padding: tuple[int, int, int, int]) -> Tensor:
    """x (N, C, H, W) with up - 1 zeros after every sample on both axes (-> (H up, W up)), then
    padded (x0, x1, y0, y1) (negative: cropped)."""
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = padding
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    return x[:, :, max(-y0, 0):x.shape[2] - max(-y1, 0), max(-x0, 0):x.shape[3] - max(-x1, 0)]


def _crop_or_pad(z: Tensor, start: int, length: int, dim: int) -> Tensor:
    """z[start : start + length] along `dim` (-1 or -2), zeros where that runs off z."""
    end = start + length
    lo, hi = max(-start, 0), max(end - z.shape[dim], 0)
    if lo or hi:
        z = F.pad(z, [lo, hi] if dim == -1 else [0, 0, lo, hi])
    return z.narrow(dim, start + lo, length)


def upsample_filter(x: Tensor, f: Tensor | None, up: int,
                    padding: tuple[int, int, int, int]) -> Tensor:
    """upsample_pad(x, up, padding) filtered (valid) by the separable f (K,) with gain up per
    axis, computed polyphase: a transposed convolution of stride `up` per axis never
    multiplies the inserted zeros (a quarter of the work of filtering the zero-stuffed maps
    at up 2, a sixteenth at 4). Output sample o of an axis is the transposed convolution's
    sample o + K - 1 - pad_lo (f is symmetric)."""
    if f is None:
        return upsample_pad(x, up, padding) * (up * up) if up > 1 else upsample_pad(x, 1, padding)
    c, k = x.shape[1], f.shape[0]
    w = (f * up).to(x.dtype)[None, None]                          # (1, 1, K)
    x0, x1, y0, y1 = padding
    out_w = x.shape[3] * up + x0 + x1 - k + 1
    out_h = x.shape[2] * up + y0 + y1 - k + 1
    x = F.conv_transpose2d(x, w[:, :, None, :].expand(c, 1, 1, -1), stride=(1, up), groups=c)
    x = _crop_or_pad(x, k - 1 - x0, out_w, -1)
    x = F.conv_transpose2d(x, w[:, :, :, None].expand(c, 1, -1, 1), stride=(up, 1), groups=c)
    return _crop_or_pad(x, k - 1 - y0, out_h, -2)


def filtered_lrelu(x: Tensor, fu: Tensor | None, fd: Tensor | None, bias: Tensor, up: int,
                   down: int, padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> Tensor:
    """StyleGAN3's alias-free nonlinearity on x (N, C, H, W): + bias, upsample by `up` with
    fu (gain up^2 overall), pad, leaky ReLU (slope 0.2 and gain sqrt(2), or slope 1: linear
    with `gain`), clamp to +-clamp, low-pass by fd and keep every `down`-th sample."""
    # In float32 outside autocast: on the CPU bfloat16 depthwise (transposed) convolutions are
    # slower than float32 ones, and the filters' long sums keep their precision.
    with torch.autocast(x.device.type, enabled=False):
        x = x.float() + bias.float()[None, :, None, None]
        x = upsample_filter(x, fu, up, padding)
        if slope == LRELU_SLOPE:
            x = bias_act(x, None, "lrelu", gain / math.sqrt(2), clamp)
        else:
            x = bias_act(x, None, "linear", gain, clamp)
        return _filter_axes(x, fd, 1.0, down)


# ---- layers ------------------------------------------------------------------------------
def modulated_conv(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool,
                   padding: int, input_gain: Tensor) -> Tensor:
    """StyleGAN3's modulated convolution with `padding` zeros per side (kernel - 1: the maps
    grow by the kernel's support, the filters crop them back). x (N, Cin, H, W); weight
    (Cout, Cin, k, k); styles (N, Cin); input_gain () scales the input after demodulation
    (which would cancel it otherwise). Computed as a
    shared convolution between per-sample scalings (the same function as one grouped
    convolution of per-sample weights). The weight and each sample's styles are first scaled
    to unit RMS, which demodulation cancels, so bfloat16 sees values near 1 (NVlabs
    normalises the styles by their RMS over the batch; per sample keeps samples independent
    and computes the same function)."""
    if demodulate:
        with torch.autocast(x.device.type, enabled=False):
            w = weight.float()
            w = w * w.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
            s = styles.float()
            s = s * (s.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
            dcoefs = (s.square() @ w.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()   # (N, Cout)
    else:
        w, s, dcoefs = weight, styles, None
    x = x * (s * input_gain).to(x.dtype)[:, :, None, None]
    if w.shape[-1] == 1:
        # A 1x1 convolution as the matrix product it is (StyleGAN3-R, toRGB): under CPU
        # bfloat16 autocast the convolution's backward was 7x slower than float32's.
        w = w[:, :, 0, 0].to(x.dtype)
        x = (x.permute(0, 2, 3, 1) @ w.t()).permute(0, 3, 1, 2)
    else:
        x = F.conv2d(x, w.to(x.dtype), padding=padding)
    if dcoefs is not None:
        x = x * dcoefs.to(x.dtype)[:, :, None, None]
    return x


class FourierInput(nn.Module):
    """The synthesis network's input: `channels` Fourier features, sin(2 pi (f . p + phase)),
    at frequencies drawn uniformly in the disc of radius `bandwidth`, sampled on a grid of
    `size` (W, H) pixels at `sampling_rate`, then mixed by a learned (channels, channels)
    matrix. w's affine gives a rotation and a translation of the picture (starting at none);
    the buffer `transform` (3 x 3, identity) is a further user transform of the coordinates,
    applied after them; frequencies it pushes above the band are faded out."""

    def __init__(self, w_dim: int, channels: int, size: tuple[int, int], sampling_rate: float,
                 bandwidth: float):
        super().__init__()
        self.size, self.sampling_rate, self.bandwidth = size, sampling_rate, bandwidth
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnected(w_dim, 4)
        with torch.no_grad():                  # starts at the identity: (cos, sin, tx, ty)
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: Tensor) -> Tensor:
        """w (N, w_dim) -> (N, channels, H, W) float32."""
        with torch.autocast(w.device.type, enabled=False):
            t = self.affine(w.float())                                  # (N, 4)
            t = t / t[:, :2].norm(dim=1, keepdim=True)
            n = w.shape[0]
            eye = torch.eye(3, device=w.device)
            rot = eye.repeat(n, 1, 1)
            rot[:, 0, 0], rot[:, 0, 1] = t[:, 0], -t[:, 1]
            rot[:, 1, 0], rot[:, 1, 1] = t[:, 1], t[:, 0]
            shift = eye.repeat(n, 1, 1)
            shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
            m = rot @ shift @ self.transform[None]                      # (N, 3, 3)
            freqs = self.freqs[None]                                    # (1, C, 2)
            phases = self.phases[None] + (freqs @ m[:, :2, 2:]).squeeze(2)   # (N, C)
            freqs = freqs @ m[:, :2, :2]                                # (N, C, 2)
            amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                          / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
            width, height = self.size
            # Pixel centres in units of the signal, centred on 0 (affine_grid's convention).
            gx = (torch.arange(width, device=w.device) + 0.5 - width / 2) / self.sampling_rate
            gy = (torch.arange(height, device=w.device) + 0.5 - height / 2) / self.sampling_rate
            x = (gx[None, None, :, None] * freqs[:, None, None, :, 0]
                 + gy[None, :, None, None] * freqs[:, None, None, :, 1]
                 + phases[:, None, None, :])                            # (N, H, W, C)
            x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None, :]
            x = x @ (self.weight / math.sqrt(self.weight.shape[0])).t()
            return x.permute(0, 3, 1, 2)


class AliasFreeLayer(nn.Module):
    """One synthesis layer: (N, in, in_size) + w (N, w_dim) -> (N, out, out_size), sizes (W, H).

    A modulated k x k convolution (its inputs scaled by 1 / sqrt of the running mean square
    of the input, `magnitude_ema`, updated in training mode with `magnitude_beta`), then
    `filtered_lrelu` between the rates `in_rate` and `out_rate` through the temporary rate
    max(in_rate, out_rate) * 2 (the leaky ReLU runs oversampled). The last layer (`to_rgb`)
    is a 1x1 convolution without demodulation, no activation and no resampling."""

    def __init__(self, w_dim: int, in_channels: int, out_channels: int,
                 in_size: tuple[int, int], out_size: tuple[int, int], in_rate: int,
                 out_rate: int, in_cutoff: float, out_cutoff: float, in_half_width: float,
                 out_half_width: float, to_rgb: bool = False, critical: bool = False,
                 kernel: int = 3, radial: bool = False, conv_clamp: float | None = None,
                 magnitude_beta: float = 0.999, filter_size: int = 6,
                 lrelu_upsampling: int = 2):
        super().__init__()
        self.to_rgb, self.conv_clamp, self.magnitude_beta = to_rgb, conv_clamp, magnitude_beta
        self.kernel = 1 if to_rgb else kernel
        self.in_size, self.out_size = in_size, out_size
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, self.kernel,
                                               self.kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        tmp_rate = max(in_rate, out_rate) * (1 if to_rgb else lrelu_upsampling)
        self.up, self.down = tmp_rate // in_rate, tmp_rate // out_rate
        up_taps = filter_size * self.up if self.up > 1 and not to_rgb else 1
        down_taps = filter_size * self.down if self.down > 1 and not to_rgb else 1
        # Constants of the architecture, rebuilt from the configuration: not saved.
        self.register_buffer("up_filter", lowpass_taps(up_taps, in_cutoff, 2 * in_half_width,
                                                       tmp_rate), persistent=False)
        down = (radial_taps(down_taps, out_cutoff, 2 * out_half_width, tmp_rate)
                if radial and not critical and down_taps > 1 else
                lowpass_taps(down_taps, out_cutoff, 2 * out_half_width, tmp_rate))
        self.register_buffer("down_filter", down, persistent=False)
        # Padding so that the output samples sit where the symmetric interpretation puts them
        # (the paper's appendix C.3): per axis, what the two filters and the convolution
        # remove from the upsampled input, less what `out_size` needs.
        pad = []
        for i_in, i_out in zip(in_size, out_size):
            total = ((i_out - 1) * self.down + 1 - (i_in + self.kernel - 1) * self.up
                     + up_taps + down_taps - 2)
            lo = (total + self.up) // 2
            pad += [lo, total - lo]
        self.padding = tuple(pad)                       # (x0, x1, y0, y1)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.training:
            with torch.no_grad():
                magnitude = x.detach().float().square().mean()
                self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_beta))
        styles = self.affine(w)
        if self.to_rgb:
            styles = styles / math.sqrt(self.weight.shape[1])
        x = modulated_conv(x, self.weight, styles, demodulate=not self.to_rgb,
                           padding=self.kernel - 1, input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up,
                              self.down, self.padding, 1.0 if self.to_rgb else math.sqrt(2),
                              1.0 if self.to_rgb else LRELU_SLOPE, self.conv_clamp)
