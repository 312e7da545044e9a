"""Distances between images for projection: VGG-16 features when its weights are there, a
multi-scale pixel loss when they are not.

- "vgg16-lpips": an LPIPS-like distance (Zhang et al. 2018) on torchvision's ImageNet VGG-16.
  Activations after relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 are unit-normalised along
  channels at every pixel; the distance is the squared difference summed over channels,
  averaged over pixels and summed over the five layers. LPIPS proper then weighs each channel
  with learned linear weights; those are not available offline, so every channel counts the
  same (the paper's "baseline" variant). Images are upsampled to at least 64 px (so relu5_3 is
  still 4x4) and downsampled to at most 256 px, as NVlabs' projector does for its VGG.
- "laplacian-l1": the offline fallback. Mean absolute difference of every level of a
  Laplacian pyramid (band-pass levels from full size down to 8 px, plus the 4 px low-pass
  residual), levels summed with equal weights: coarse levels keep colours and layout, fine
  ones the edges.

Both take float (N, C, H, W) in [-1, 1] and return one distance per image, (N,).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from ..errors import GanvasError
from ..imaging import laplacian_pyramid, pyramid_l1
from ..metrics.standard import IMAGENET_MEAN, IMAGENET_STD
from ..metrics.weights import WEIGHTS, load_into

LPIPS_LAYERS = (3, 8, 15, 22, 29)          # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
VGG_MIN_SIZE, VGG_MAX_SIZE = 64, 256


@dataclass
class Distance:
    """`features(images)` -> a list of tensors per image batch; `between(a, b)` -> (N,)
    distances of two such lists (b may have batch 1: it broadcasts). `net`: the network to
    move to the generator's device (None for pixel distances); `info` goes into the
    projection's JSON."""
    name: str
    features: Callable[[Tensor], list[Tensor]]
    between: Callable[[list[Tensor], list[Tensor]], Tensor]
    net: nn.Module | None = None
    info: dict = field(default_factory=dict)


def vgg16_features() -> nn.Sequential:
    """torchvision's VGG-16 `features` up to relu5_3 (30 modules), randomly initialised."""
    return torchvision.models.vgg16(weights=None).features[:30]


def load_vgg16(path: str | os.PathLike | None = None,
               download: bool = True) -> tuple[nn.Sequential, dict]:
    """(VGG-16 features in eval mode without autograd on its weights, weights description).
    The file is a torchvision VGG-16 state dict; its classifier tensors, if any, are ignored.
    Found as ganvas.metrics.weights.resolve_weights finds it (GanvasError when it cannot)."""
    net = vgg16_features()
    info = load_into(net, "vgg16", path, download=download, prefix="features.",
                     extra=("classifier.",))
    return net.eval().requires_grad_(False), info


def to_rgb01(x: Tensor) -> Tensor:
    """float (N, C, H, W) in [-1, 1], C in 1, 3, 4 -> (N, 3, H, W) in [0, 1]; grey is
    repeated, alpha composited on white (what a viewer shows)."""
    x = (x + 1) / 2
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 4:
        alpha = x[:, 3:].clamp(0, 1)
        return x[:, :3] * alpha + (1 - alpha)
    return x


def vgg_size(x: Tensor) -> Tensor:
    """x resized (bilinear up, area down) so that its short side is within VGG_MIN_SIZE and
    VGG_MAX_SIZE, the aspect kept (a non-square model's pictures stay non-square)."""
    h, w = x.shape[-2:]
    short = min(h, w)
    size = min(max(short, VGG_MIN_SIZE), VGG_MAX_SIZE)
    if size == short:
        return x
    shape = (round(h * size / short), round(w * size / short))
    if size > short:
        return F.interpolate(x, size=shape, mode="bilinear", align_corners=False)
    return F.interpolate(x, size=shape, mode="area")


def vgg_distance(net: nn.Sequential, info: dict) -> Distance:
    """The LPIPS-like distance on `net` (see the module docstring)."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    last = max(LPIPS_LAYERS)

    def features(x: Tensor) -> list[Tensor]:
        x = to_rgb01(x.float())
        x = vgg_size(x)
        x = (x - mean.to(x.device)) / std.to(x.device)
        out = []
        for i, layer in enumerate(net[:last + 1]):
            x = layer(x)
            if i in LPIPS_LAYERS:
                # Unit length along channels, as LPIPS: every layer weighs about the same.
                out.append(x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return out

    def between(a: list[Tensor], b: list[Tensor]) -> Tensor:
        return sum((fa - fb).square().sum(dim=1).mean(dim=(1, 2)) for fa, fb in zip(a, b))

    return Distance("vgg16-lpips", features, between, net, {"weights": info})


def pyramid_distance(reason: str) -> Distance:
    """The offline fallback (see the module docstring); `reason` says why VGG is not used."""
    return Distance("laplacian-l1", lambda x: laplacian_pyramid(x.float()), pyramid_l1,
                    info={"fallback": True, "reason": reason})


def build_distance(weights: str | os.PathLike | None = None,
                   download: bool = True) -> Distance:
    """The VGG distance when VGG-16 weights can be found, else the pixel fallback.

    A path the user gave (`weights`, or the environment variable GANVAS_WEIGHTS_VGG16) must
    work: a missing or wrong file is a GanvasError. Without one, the cache is tried, then a
    download (when `download`); if neither gives the weights, the fallback is used."""
    if weights or os.environ.get(WEIGHTS.get("vgg16").env):
        net, info = load_vgg16(weights)
        return vgg_distance(net, info)
    try:
        net, info = load_vgg16(None, download=download)
    except GanvasError as e:
        return pyramid_distance(str(e))
    return vgg_distance(net, info)
