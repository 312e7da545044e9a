"""Classic augmentation for tiny datasets, applied to the reals only.

Unlike DiffAugment, these transforms leak into what G learns (D is shown, say, rotated
images as real), so they suit datasets where such variants are plausible and the defaults are
mild. One affine matrix per sample does crop, rotation and shear in a single resampling, then
brightness and contrast act on the colour channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .ops import Augment, colour_count, match_layout


def validate_classic(crop: float, rotate: float, shear: float, brightness: float,
                     contrast: float) -> None:
    """ConfigError unless every strength is in its valid range."""
    # Written as "not (ok)" so that NaN fails too.
    if not 0.0 < crop <= 1.0:
        raise ConfigError(f"classic augmentation: crop must be in (0, 1], got {crop}")
    if not 0.0 <= rotate <= 180.0:
        raise ConfigError(f"classic augmentation: rotate must be in [0, 180] degrees, got {rotate}")
    if not 0.0 <= shear < 90.0:  # tan(90 deg) is infinite
        raise ConfigError(f"classic augmentation: shear must be in [0, 90) degrees, got {shear}")
    if not 0.0 <= brightness <= 2.0:
        raise ConfigError(f"classic augmentation: brightness must be in [0, 2], got {brightness}")
    if not 0.0 <= contrast <= 1.0:  # a factor 1 - contrast below 0 would invert the image
        raise ConfigError(f"classic augmentation: contrast must be in [0, 1], got {contrast}")


def _affine(n: int, h: int, w: int, u: torch.Tensor, crop: float, rotate: float,
            shear: float) -> torch.Tensor:
    """(N, 2, 3) float64 matrices for F.affine_grid, mapping output to input coordinates.

    u: (>= 5, N) uniform draws. A crop of side fraction s in [crop, 1] placed anywhere inside
    the image, composed with a rotation in +-rotate degrees and an x-shear in +-shear degrees.
    """
    scale = crop + (1.0 - crop) * u[0]  # crop side / image side
    # In normalised coordinates the crop's half-side is `scale`, so its centre may move by
    # up to 1 - scale and the window still lies inside the image (before rotation).
    ty = (2.0 * u[1] - 1.0) * (1.0 - scale)
    tx = (2.0 * u[2] - 1.0) * (1.0 - scale)
    angle = torch.deg2rad((2.0 * u[3] - 1.0) * rotate)
    slant = torch.tan(torch.deg2rad((2.0 * u[4] - 1.0) * shear))
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Linear part in pixel units: scale * R(angle) @ [[1, slant], [0, 1]].
    a = scale * cos
    b = scale * (cos * slant - sin)
    c = scale * sin
    d = scale * (sin * slant + cos)
    # Normalised x spans w pixels and y spans h, so conjugate by diag(w, h) / 2: otherwise a
    # rotation of a non-square image would also stretch it.
    return torch.stack([
        torch.stack([a, b * h / w, tx], dim=1),
        torch.stack([c * w / h, d, ty], dim=1),
    ], dim=1)


def classic(x: torch.Tensor, gen: torch.Generator, *, crop: float = 0.8,
            rotate: float = 15.0, shear: float = 10.0, brightness: float = 0.2,
            contrast: float = 0.2) -> torch.Tensor:
    """Random resized crop, rotation, shear, brightness and contrast, one draw per sample.

    x: float (N, C, H, W) in [-1, 1] -> same shape, dtype and device, clamped to [-1, 1].
    crop: smallest crop side as a fraction of the image side (scale uniform in [crop, 1], the
      crop keeps the image's aspect and lies anywhere inside it), then resized back to H x W.
    rotate: largest rotation in degrees (uniform in +-rotate), at most 180.
    shear: largest horizontal shear angle in degrees (uniform in +-shear), below 90.
    brightness: largest additive shift in [-1, 1] units, i.e. twice a shift on a 0..1 scale
      (the default 0.2 is +-10 % of the full range).
    contrast: largest relative change: the deviation from the image mean is scaled by a
      factor uniform in [1 - contrast, 1 + contrast].
    Geometry is bilinear with reflection padding (no black corners for D to learn); colour
    changes only the colour channels (alpha is only moved). With crop=1 and every other
    strength 0 it returns x (up to float rounding). Differentiable w.r.t. x, vectorised.
    """
    validate_classic(crop, rotate, shear, brightness, contrast)
    n, ch, h, w = x.shape
    u = torch.rand(7, n, generator=gen, dtype=torch.float64)  # all draws on the CPU, once
    theta = _affine(n, h, w, u, crop, rotate, shear).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, [n, ch, h, w], align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    shift = ((2.0 * u[5] - 1.0) * brightness).view(n, 1, 1, 1).to(x.device, x.dtype)
    factor = (1.0 + (2.0 * u[6] - 1.0) * contrast).view(n, 1, 1, 1).to(x.device, x.dtype)
    k = colour_count(ch)
    rgb = y[:, :k]
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * factor + mean + shift
    y = torch.cat([rgb, y[:, k:]], dim=1) if k < ch else rgb
    return match_layout(y.clamp(-1.0, 1.0), x)


CLASSIC = Augment(fn=classic, reals_only=True,
                  doc="reals only: random crop, rotation, shear, brightness and contrast")
