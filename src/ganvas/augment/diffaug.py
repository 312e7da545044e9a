"""DiffAugment ops (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): colour, translation and cutout, applied to reals *and* fakes before D.

D never sees an un-augmented image, so it cannot memorise a small dataset; because every op is
differentiable w.r.t. its input, G still gets a gradient through the augmented fakes.

All ops take float (N, C, H, W) in [-1, 1] and a CPU torch.Generator. Random numbers are
drawn on the CPU from that generator and only then moved to x.device, so a given generator
state gives the same augmentation on CPU, CUDA or MPS. Each op draws the same amount of
randomness whatever the channel count, so a seed's sequence does not depend on C.
Loops run over ops, never over samples: each op is a few batched tensor operations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .ops import Augment, colour_count, match_layout


def _uniform(gen: torch.Generator, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """U(0, 1) of `shape`, drawn on the CPU from gen, then put on like's device and dtype."""
    return torch.rand(shape, generator=gen).to(device=like.device, dtype=like.dtype)


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random brightness, saturation and contrast, one draw of each per sample.

    x: float (N, C, H, W) in [-1, 1]. In that range (as in the paper's code):
    brightness adds U(-0.5, 0.5); saturation scales each pixel's deviation from its channel
    mean by U(0, 2) (a no-op for one colour channel); contrast scales the deviation from the
    image mean by U(0.5, 1.5). Only the colour channels change (the first 3 of RGBA, the
    first of grey + alpha); alpha passes through. Not clamped: the result may leave [-1, 1]
    a little, and D sees it as is (clamping would cut G's gradient at saturated pixels).
    """
    n, c = x.shape[:2]
    r = _uniform(gen, (3, n, 1, 1, 1), x)  # brightness, saturation, contrast draws
    k = colour_count(c)
    rgb = x[:, :k]
    rgb = rgb + (r[0] - 0.5)
    pixel_mean = rgb.mean(dim=1, keepdim=True)  # (N, 1, H, W): the pixel's grey level
    rgb = (rgb - pixel_mean) * (r[1] * 2.0) + pixel_mean
    image_mean = rgb.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    rgb = (rgb - image_mean) * (r[2] + 0.5) + image_mean
    if k == c:
        return rgb
    return match_layout(torch.cat([rgb, x[:, k:]], dim=1), x)


def translation(x: torch.Tensor, gen: torch.Generator, *, ratio: float = 0.125) -> torch.Tensor:
    """Shift each sample by a random whole number of pixels, filling the gap with zeros.

    x: float (N, C, H, W) in [-1, 1]. Offsets are uniform integers in
    [-floor(H * ratio), floor(H * ratio)] down and likewise (with W) across, so with the
    default ratio no shift exceeds 1/8 of the image size (images under 8 px do not move).
    Zero is mid-grey in [-1, 1], as in the paper. Differentiable: it is an index gather.
    """
    if not 0.0 <= ratio <= 0.5:
        raise ConfigError(f"translation ratio must be in [0, 0.5], got {ratio}")
    n, _, h, w = x.shape
    sy, sx = int(h * ratio), int(w * ratio)  # largest shift in pixels
    ty = torch.randint(-sy, sy + 1, (n,), generator=gen)
    tx = torch.randint(-sx, sx + 1, (n,), generator=gen)
    # Pad by the largest shift so every source index is in range: output pixel (i, j) reads
    # input (i - ty, j - tx), which is padded (i - ty + sy, j - tx + sx); padding gives zeros.
    padded = F.pad(x, (sx, sx, sy, sy)).permute(0, 2, 3, 1)  # (N, H + 2sy, W + 2sx, C)
    rows = (torch.arange(h)[None, :] - ty[:, None] + sy).to(x.device)  # (N, H)
    cols = (torch.arange(w)[None, :] - tx[:, None] + sx).to(x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return match_layout(out.permute(0, 3, 1, 2), x)


def cutout(x: torch.Tensor, gen: torch.Generator, *, ratio: float = 0.5) -> torch.Tensor:
    """Zero one rectangle of (H * ratio) x (W * ratio) pixels per sample (a square of half the
    image size by default) centred at a uniform random pixel, clipped at the borders.

    x: float (N, C, H, W) in [-1, 1]; all channels are zeroed there (zero = mid-grey).
    Clipping means a hole near an edge is smaller: at a corner it keeps a quarter of its area.
    """
    if not 0.0 < ratio <= 1.0:
        raise ConfigError(f"cutout ratio must be in (0, 1], got {ratio}")
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))  # hole size, px
    cy = torch.randint(0, h, (n,), generator=gen)
    cx = torch.randint(0, w, (n,), generator=gen)
    top, left = (cy - ch // 2)[:, None], (cx - cw // 2)[:, None]  # (N, 1), may be < 0
    rows, cols = torch.arange(h)[None, :], torch.arange(w)[None, :]
    in_rows = (rows >= top) & (rows < top + ch)  # (N, H)
    in_cols = (cols >= left) & (cols < left + cw)  # (N, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # (N, H, W)
    # A multiplicative mask (not an in-place write) keeps the op differentiable w.r.t. x.
    return x * keep[:, None].to(device=x.device, dtype=x.dtype)


DIFF_AUGMENTS = {
    "color": Augment(fn=color, reals_only=False,
                     doc="DiffAugment: random brightness, saturation and contrast per image"),
    "translation": Augment(fn=translation, reals_only=False,
                           doc="DiffAugment: shift by up to 1/8 of the image size, zero-filled"),
    "cutout": Augment(fn=cutout, reals_only=False,
                      doc="DiffAugment: zero a random square of half the image size"),
}
