"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data"), written from the paper.

`AugmentPipe` applies a pipeline of transforms to every image D sees (reals and fakes alike),
each transform to each sample independently with probability `p`. Because every transform is
differentiable w.r.t. the image and "leaky-free" as long as p stays below ~0.8, G learns the
clean distribution through it. `AdaController` owns the pipe's p: it raises p while D is
over-confident on the reals (r_t = E[sign(D(real))] above the target) and lowers it otherwise.

Images are float (N, C, H, W) in [-1, 1] with C in {1, 3, 4} (2 = grey + alpha works too).
Colour and noise act on the colour channels only; alpha moves with the geometry, is
filtered and is cut out like the colours. All random numbers are drawn on the CPU from the
caller's torch.Generator and then moved to x.device, so a generator state gives the same
augmentation on any device; p == 0 returns x itself and draws nothing. No Python loop runs
over samples: each group is a few batched tensor operations.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .ops import colour_count, match_layout

Tensor = torch.Tensor
F64 = torch.float64  # transform parameters are built in float64 on the CPU, then cast

# Pipeline name -> its groups, in the order they are applied (the paper's names).
PIPES: dict[str, tuple[str, ...]] = {
    "b": ("blit",),
    "g": ("geom",),
    "c": ("color",),
    "f": ("filter",),
    "n": ("noise",),
    "cutout": ("cutout",),
    "bg": ("blit", "geom"),
    "bgc": ("blit", "geom", "color"),
    "bgcf": ("blit", "geom", "color", "filter"),
    "bgcfn": ("blit", "geom", "color", "filter", "noise"),
    "bgcfnc": ("blit", "geom", "color", "filter", "noise", "cutout"),
}

# Strengths from the paper (its "1" strength for every transform).
INT_TRANSLATE_MAX = 0.125  # blit: largest integer shift, as a fraction of the image size
SCALE_STD = 0.2  # geom: std of log2 of the isotropic and anisotropic scale factors
FRAC_TRANSLATE_STD = 0.125  # geom: std of the fractional shift, as a fraction of the size
BRIGHTNESS_STD = 0.2  # color: std of the brightness added, in [-1, 1] units
CONTRAST_STD = 0.5  # color: std of log2 of the contrast factor
SATURATION_STD = 1.0  # color: std of log2 of the saturation factor
FILTER_EDGES = (1 / 16, 1 / 8, 1 / 4)  # filter: band edges in cycles/pixel -> 4 bands
FILTER_STD = 1.0  # filter: std of log2 of a band's gain
# filter: the share of an image's power in each band that the gains are normalised under, a
# fixed 1/f-like spectrum (stylegan2-ada-pytorch's [10, 1, 1, 1] / 13), not the image's own.
FILTER_EXPECTED_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)
NOISE_STD = 0.1  # noise: per-sample sigma ~ |N(0, NOISE_STD^2)|
CUTOUT_SIZE = 0.5  # cutout: side of the zeroed square, as a fraction of the image size


def parse_pipe(name: str) -> tuple[str, ...]:
    """A pipeline name ("bgc", "bgcfnc", "b", ...) -> its groups; ConfigError lists names."""
    try:
        return PIPES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown ADA pipeline {name!r}; choose from: "
                          f"{', '.join(PIPES)}") from None


def _pick(gen: torch.Generator, p: float, value: Tensor, neutral: float) -> Tensor:
    """value where a per-sample coin with P(heads) = p comes up, else `neutral`.

    value: (N, ...) CPU tensor; one coin per row, so a row's entries move together.
    """
    heads = torch.rand(value.shape[0], generator=gen, dtype=F64) < p
    heads = heads.view(-1, *([1] * (value.ndim - 1)))
    return torch.where(heads, value, torch.full_like(value, neutral))


def _mat3(a: Tensor, b: Tensor, c: Tensor, d: Tensor, tx: Tensor, ty: Tensor) -> Tensor:
    """(N, 3, 3) homogeneous 2-D matrices [[a, b, tx], [c, d, ty], [0, 0, 1]]."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, tx, c, d, ty, zero, zero, one], dim=1).view(-1, 3, 3)


def _scale2(sx: Tensor, sy: Tensor) -> Tensor:
    z = torch.zeros_like(sx)
    return _mat3(sx, z, z, sy, z, z)


def _rotate2(cos: Tensor, sin: Tensor) -> Tensor:
    z = torch.zeros_like(cos)
    return _mat3(cos, -sin, sin, cos, z, z)


def _translate2(tx: Tensor, ty: Tensor) -> Tensor:
    one, z = torch.ones_like(tx), torch.zeros_like(tx)
    return _mat3(one, z, z, one, tx, ty)


def _geometric(x: Tensor, gen: torch.Generator, p: float, blit: bool, geom: bool) -> Tensor:
    """Blit ('b') and general geometric ('g') transforms, resampled once.

    Every transform's *inverse* is multiplied on the right of one (N, 3, 3) matrix that maps
    output pixel coordinates (origin at the image centre) to input ones, so the first
    transform listed is the first applied to the image. The paper resamples with a wavelet
    (symmetric sym6) up/down-sampling filter to avoid aliasing; we use bilinear sampling with
    reflection padding, which is cheaper and close enough at these strengths. Blit-only
    matrices map pixel centres to pixel centres, so there bilinear sampling is exact.
    """
    n, c, h, w = x.shape
    size = torch.tensor([w, h], dtype=F64)
    m = torch.eye(3, dtype=F64).repeat(n, 1, 1)  # output pixel -> input pixel
    one = torch.ones(n, dtype=F64)
    if blit:
        flip = _pick(gen, p, torch.randint(0, 2, (n,), generator=gen).to(F64), 0.0)
        m = m @ _scale2(1 - 2 * flip, one)  # a flip is its own inverse
        k = _pick(gen, p, torch.randint(0, 4, (n,), generator=gen).to(F64), 0.0).long()
        # Exact cos/sin of -k * 90 degrees (the inverse), so no rounding creeps in.
        cos = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=F64)[(-k) % 4]
        sin = torch.tensor([0.0, 1.0, 0.0, -1.0], dtype=F64)[(-k) % 4]
        m = m @ _rotate2(cos, sin)
        u = torch.rand(n, 2, generator=gen, dtype=F64) * 2 - 1
        t = _pick(gen, p, torch.round(u * INT_TRANSLATE_MAX * size), 0.0)  # whole pixels
        m = m @ _translate2(-t[:, 0], -t[:, 1])
    if geom:
        # Two rotations, each with p_rot, so that P(rotated at all) = 1 - (1 - p_rot)^2 = p.
        p_rot = 1 - math.sqrt(1 - p)
        s = _pick(gen, p, torch.exp2(torch.randn(n, generator=gen, dtype=F64) * SCALE_STD), 1.0)
        m = m @ _scale2(1 / s, 1 / s)
        angle = _pick(gen, p_rot, (torch.rand(n, generator=gen, dtype=F64) * 2 - 1) * math.pi,
                      0.0)
        m = m @ _rotate2(torch.cos(-angle), torch.sin(-angle))
        s = _pick(gen, p, torch.exp2(torch.randn(n, generator=gen, dtype=F64) * SCALE_STD), 1.0)
        m = m @ _scale2(1 / s, s)
        angle = _pick(gen, p_rot, (torch.rand(n, generator=gen, dtype=F64) * 2 - 1) * math.pi,
                      0.0)
        m = m @ _rotate2(torch.cos(-angle), torch.sin(-angle))
        t = _pick(gen, p, torch.randn(n, 2, generator=gen, dtype=F64) * FRAC_TRANSLATE_STD,
                  0.0) * size
        m = m @ _translate2(-t[:, 0], -t[:, 1])
    if torch.equal(m, torch.eye(3, dtype=F64).expand(n, 3, 3)):
        return x  # nothing moved: skip the resampling (a CPU check, no device sync)
    # affine_grid works in normalised coordinates ([-1, 1] across each side): conjugate by the
    # pixel scale so rotations of non-square images are not stretched.
    half = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=F64))
    theta = torch.linalg.inv(half) @ m @ half
    theta = theta[:, :2].to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def _block4(m3: Tensor) -> Tensor:
    """(N, 3, 3) linear colour maps -> (N, 4, 4) homogeneous ones."""
    out = torch.eye(4, dtype=F64).repeat(m3.shape[0], 1, 1)
    out[:, :3, :3] = m3
    return out


def _colour(x: Tensor, gen: torch.Generator, p: float) -> Tensor:
    """Brightness, contrast, luma flip, hue rotation, saturation as one (N, 4, 4) matrix.

    Works in [-1, 1] RGB, where 0 is mid-grey, so contrast scales about grey and the luma
    axis v = (1, 1, 1)/sqrt(3) passes through the origin. Grey images (one colour channel)
    skip hue and saturation (their coins are still drawn, to keep the stream the same) and
    use the matrix's action on the luma axis. Alpha is untouched.
    """
    n, c = x.shape[:2]
    k = colour_count(c)
    eye3 = torch.eye(3, dtype=F64)
    v = torch.full((3,), 1 / math.sqrt(3), dtype=F64)
    vv = torch.outer(v, v)  # projection onto the luma axis
    m = torch.eye(4, dtype=F64).repeat(n, 1, 1)  # applied to (r, g, b, 1) column vectors

    b = _pick(gen, p, torch.randn(n, generator=gen, dtype=F64) * BRIGHTNESS_STD, 0.0)
    shift = torch.eye(4, dtype=F64).repeat(n, 1, 1)
    shift[:, :3, 3] = b[:, None]
    m = shift @ m
    s = _pick(gen, p, torch.exp2(torch.randn(n, generator=gen, dtype=F64) * CONTRAST_STD), 1.0)
    m = _block4(s[:, None, None] * eye3) @ m
    flip = _pick(gen, p, torch.randint(0, 2, (n,), generator=gen).to(F64), 0.0)
    m = _block4(eye3 - 2 * flip[:, None, None] * vv) @ m  # reflect the luma component
    p_chroma = p if k == 3 else 0.0
    angle = _pick(gen, p_chroma, (torch.rand(n, generator=gen, dtype=F64) * 2 - 1) * math.pi,
                  0.0)
    # [v]_x, the matrix with cross @ u = v x u (all of v's entries are 1/sqrt(3)).
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]],
                         dtype=F64) / math.sqrt(3)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    m = _block4(cos * eye3 + sin * cross + (1 - cos) * vv) @ m  # Rodrigues about v
    s = _pick(gen, p_chroma,
              torch.exp2(torch.randn(n, generator=gen, dtype=F64) * SATURATION_STD), 1.0)
    m = _block4(vv + (eye3 - vv) * s[:, None, None]) @ m  # scale the chroma component

    if torch.equal(m, torch.eye(4, dtype=F64).expand(n, 4, 4)):
        return x
    m = m.to(device=x.device, dtype=x.dtype)
    rgb = x[:, :k]
    if k == 3:
        y = (m[:, :3, :3] @ rgb.reshape(n, 3, -1)).view_as(rgb) + m[:, :3, 3, None, None]
    else:
        # A grey value g is the colour (g, g, g); read the result's luma back.
        gain = m[:, :3, :3].sum(dim=2).mean(dim=1)  # (N,)
        y = rgb * gain.view(n, 1, 1, 1) + m[:, :3, 3].mean(dim=1).view(n, 1, 1, 1)
    return torch.cat([y, x[:, k:]], dim=1) if k < c else y


def _band_weights(h: int, w: int) -> Tensor:
    """(4, H, W//2 + 1) float64 weights of the 4 bands at each rfft2 bin; they sum to 1.

    Bands split radial frequency at FILTER_EDGES (cycles/pixel), an octave apart; each edge
    is a raised-cosine crossfade one octave wide in log-frequency, because hard edges in the
    spectrum ring visibly in the image.
    """
    fy = torch.fft.fftfreq(h, dtype=F64)[:, None]
    fx = torch.fft.rfftfreq(w, dtype=F64)[None, :]
    octave = torch.log2((fy.square() + fx.square()).sqrt())  # -inf at DC: the lowest band
    above = [0.5 - 0.5 * torch.cos(math.pi * (octave - math.log2(e) + 0.5).clamp(0, 1))
             for e in FILTER_EDGES]  # share of each bin above each edge, non-increasing
    ones, zeros = torch.ones_like(octave), torch.zeros_like(octave)
    edges = [ones, *above, zeros]
    return torch.stack([edges[i] - edges[i + 1] for i in range(4)])


def normalised_band_gains(t: Tensor) -> Tensor:
    """(N, 4) float64 band amplifications -> the gains the filter applies, (N, 4).

    As the reference does, each band's amplification t_i is its own power-preserving step:
    the gain vector (1, .., t_i, .., 1) is divided by its norm under FILTER_EXPECTED_POWER e,
    sqrt(1 + e_i (t_i^2 - 1)) (e sums to 1), and the steps multiply. The factor depends on the
    gains only, never on the image, so the filter stays linear in the image.
    """
    e = torch.tensor(FILTER_EXPECTED_POWER, dtype=F64)
    norms = (1 + e * (t.square() - 1)).sqrt()  # exactly 1 for a band left alone
    return t / norms.prod(dim=1, keepdim=True)


def _filter(x: Tensor, gen: torch.Generator, p: float) -> Tensor:
    """Random gains for 4 frequency bands, applied to all channels.

    A simplification of the paper's wavelet filter bank: the bands are soft rings of the
    2-D FFT around radial frequency [0, 1/16), [1/16, 1/8), [1/8, 1/4), [1/4, ...)
    cycles/pixel (see _band_weights). Each band is amplified by 2^N(0, 1) with its own coin
    of probability p (the paper's per-band transforms), and the gains are normalised under a
    fixed expected spectrum (normalised_band_gains). Alpha is filtered with the colours, as a
    spatial transform would move it.
    """
    n, c, h, w = x.shape
    # Per band, its amplification then its coin: the reference's order of draws.
    t = torch.stack([_pick(gen, p, torch.exp2(torch.randn(n, generator=gen, dtype=F64)
                                               * FILTER_STD), 1.0)
                     for _ in FILTER_EXPECTED_POWER], dim=1)
    if torch.equal(t, torch.ones_like(t)):
        return x
    gains = normalised_band_gains(t)
    # The FFT sees the image as periodic: mirror it to (2H, 2W) first, so the jump between
    # opposite borders is not filtered into a visible frame. The filter is real and even, so
    # the result stays mirror-symmetric and its top-left quarter is the filtered image.
    xe = torch.cat([x, x.flip(-1)], dim=-1)
    xe = torch.cat([xe, xe.flip(-2)], dim=-2).float()  # (N, C, 2H, 2W), float32 for half x
    # Gain at each rfft2 bin, (N, 2H, W + 1): the band gains blended by the band weights.
    per_bin = torch.einsum("nb,bhw->nhw", gains, _band_weights(2 * h, 2 * w))
    per_bin = per_bin.to(device=x.device, dtype=torch.float32)
    y = torch.fft.irfft2(torch.fft.rfft2(xe) * per_bin[:, None], s=(2 * h, 2 * w))
    return y[:, :, :h, :w].to(x.dtype)


def _noise(x: Tensor, gen: torch.Generator, p: float) -> Tensor:
    """Gaussian noise on the colour channels, sigma ~ |N(0, 0.1^2)| per sample."""
    n, c, h, w = x.shape
    k = colour_count(c)
    sigma = _pick(gen, p, torch.randn(n, generator=gen, dtype=F64).abs() * NOISE_STD, 0.0)
    if not sigma.any():
        return x  # skip drawing a whole image of noise
    noise = torch.randn(n, k, h, w, generator=gen) * sigma.float().view(n, 1, 1, 1)
    y = x[:, :k] + noise.to(device=x.device, dtype=x.dtype)
    return torch.cat([y, x[:, k:]], dim=1) if k < c else y


def _cutout(x: Tensor, gen: torch.Generator, p: float) -> Tensor:
    """Zero (mid-grey, all channels) a square of half the image size at a uniform centre."""
    n, _, h, w = x.shape
    centre = _pick(gen, p, torch.rand(n, 2, generator=gen, dtype=F64), math.nan)
    if centre.isnan().all():
        return x
    # Pixel centres in [0, 1]; a pixel is cut when it lies within half a side of the centre
    # on both axes. A NaN centre (sample not picked) compares False: nothing is cut.
    ys = (torch.arange(h, dtype=F64) + 0.5) / h
    xs = (torch.arange(w, dtype=F64) + 0.5) / w
    in_y = (ys[None, :] - centre[:, 1:]).abs() < CUTOUT_SIZE / 2  # (N, H)
    in_x = (xs[None, :] - centre[:, :1]).abs() < CUTOUT_SIZE / 2  # (N, W)
    keep = ~(in_y[:, :, None] & in_x[:, None, :])  # (N, H, W)
    return x * keep[:, None].to(device=x.device, dtype=x.dtype)  # a mask keeps it differentiable


class AugmentPipe:
    """The ADA augmentation pipeline: `pipe(x, gen)` augments what D sees.

    pipe: a name from PIPES ("bgc" by default, "bgcfnc" for everything).
    p: probability, in [0, 1], that each transform is applied to each sample; set it
      directly (fixed augmentation) or let an AdaController steer it.
    """

    def __init__(self, pipe: str = "bgc"):
        self.name = pipe
        self.groups = parse_pipe(pipe)
        self.p = 0.0

    @property
    def p(self) -> float:
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:  # "not (ok)" so that NaN fails too
            raise ConfigError(f"augmentation probability p must be in [0, 1], got {value}")
        self._p = value

    def __repr__(self) -> str:
        return f"AugmentPipe({self.name!r}, p={self.p:.4f})"

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """x: float (N, C, H, W) in [-1, 1] -> same shape, dtype and device (may leave
        [-1, 1] a little; not clamped, so G's gradient survives). gen: CPU generator.
        p == 0 returns x itself and draws nothing."""
        if self.p == 0.0:
            return x
        if x.ndim != 4:
            raise ValueError(f"AugmentPipe expects (N, C, H, W) images, got shape {tuple(x.shape)}")
        g, p, y = self.groups, self.p, x
        if "blit" in g or "geom" in g:
            y = _geometric(y, gen, p, blit="blit" in g, geom="geom" in g)
        if "color" in g:
            y = _colour(y, gen, p)
        if "filter" in g:
            y = _filter(y, gen, p)
        if "noise" in g:
            y = _noise(y, gen, p)
        if "cutout" in g:
            y = _cutout(y, gen, p)
        return y if y is x else match_layout(y, x)


class AdaController:
    """Steers `pipe.p` so that r_t = E[sign(D(real))] stays near `target`.

    pipe: the AugmentPipe whose p it owns.
    target: the r_t to aim at (0.6 in the paper); above it D is over-fitting.
    interval: adjust p every this many update() calls (D steps).
    speed_kimg: p can travel from 0 to 1 in this many thousand real images.
    batch: real images per update() call, for the step size (all processes' together).
    total: sums a tensor over the processes of a many-process run (identity for one), so
        every process measures the same r_t and applies the same p.
    """

    def __init__(self, pipe: AugmentPipe, target: float = 0.6, interval: int = 4,
                 speed_kimg: float = 500.0, batch: int = 32, total=None):
        if not 0.0 <= target <= 1.0:
            raise ConfigError(f"ADA target must be in [0, 1], got {target}")
        if interval < 1 or batch < 1 or not speed_kimg > 0:
            raise ConfigError("ADA interval and batch must be at least 1 and speed_kimg > 0")
        self.pipe = pipe
        self.total = total if total is not None else (lambda x: x)
        self.target, self.interval = float(target), int(interval)
        self.speed_kimg, self.batch = float(speed_kimg), int(batch)
        self.r_t: float | None = None  # the last measured r_t (None before the first)
        self._reset()
        self.calls = 0  # update() calls since the last adjustment

    @property
    def step(self) -> float:
        """How far p moves per adjustment: batch * interval / (speed_kimg * 1000)."""
        return self.batch * self.interval / (self.speed_kimg * 1000)

    def _reset(self, device: torch.device | str = "cpu") -> None:
        self.sum = torch.zeros((), device=device)  # sum of sign(D(real)) since the last step
        self.count = 0  # how many logits that sum covers

    def update(self, real_logits: Tensor) -> None:
        """Accumulate D's logits on (augmented) reals, any shape; every `interval` calls,
        move p. Only the adjustment reads a value back from the device."""
        signs = real_logits.detach().float().sign().sum()
        self.sum = self.sum.to(signs.device) + signs
        self.count += real_logits.numel()
        self.calls += 1
        if self.calls < self.interval:
            return
        both = self.total(torch.stack([self.sum, torch.tensor(float(self.count),
                                                              device=self.sum.device)]))
        self.r_t = float(both[0].item()) / max(float(both[1].item()), 1.0)
        direction = (self.r_t > self.target) - (self.r_t < self.target)  # sign(r_t - target)
        self.pipe.p = min(max(self.pipe.p + direction * self.step, 0.0), 1.0)
        self._reset(self.sum.device)
        self.calls = 0

    def state_dict(self) -> dict:
        """p, the accumulators and r_t: plain numbers and a CPU tensor (weights_only-safe).
        The accumulators saved are the interval's sums over all processes (`total`, so with
        many processes every one must call this): a resume counts them once, in the process
        that loads them with `first` (load_state_dict)."""
        both = self.total(torch.stack([self.sum.detach().double(),
                                       torch.tensor(float(self.count), dtype=torch.float64,
                                                    device=self.sum.device)]))
        return {"p": float(self.pipe.p), "sum": both[0].float().cpu().clone(),
                "count": int(both[1].item()), "calls": int(self.calls), "r_t": self.r_t}

    def load_state_dict(self, state: dict, first: bool = True) -> None:
        """Restore what state_dict() returned; the next update() continues mid-interval.
        first: this process takes the saved (all-process) accumulators; the others start
        the interval's sums at zero, so their total counts the saved part once."""
        self.pipe.p = float(state["p"])
        self.sum = torch.as_tensor(state["sum"] if first else 0.0, dtype=torch.float32).clone()
        self.count = int(state["count"]) if first else 0
        self.calls = int(state["calls"])
        self.r_t = None if state["r_t"] is None else float(state["r_t"])
