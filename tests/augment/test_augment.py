"""Augmentations: a contract every registered entry meets, then what each op specifically does."""

from __future__ import annotations

import pytest
import torch

from ganvas.augment import AUGMENTS, diff_augment, diff_augment_names, parse_policy
from ganvas.augment.classic import classic
from ganvas.augment.diffaug import color, cutout, translation
from ganvas.errors import ConfigError

NAMES = AUGMENTS.names()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n=4, c=3, size=16, seed=123) -> torch.Tensor:
    """Random float (n, c, size, size) in [-1, 1]."""
    return torch.rand(n, c, size, size, generator=gen(seed)) * 2 - 1


def apply(name, x, seed=0):
    return AUGMENTS.get(name).fn(x, gen(seed))


# --- the contract, for every registered name ---------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("size", [16, 32])
def test_shape_dtype_finite(name, channels, size):
    x = images(c=channels, size=size)
    y = apply(name, x)
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_float64_kept(name):
    x = images().double()
    assert apply(name, x).dtype == torch.float64


@pytest.mark.parametrize("name", NAMES)
def test_seed_decides(name):
    x = images(n=8)
    assert torch.equal(apply(name, x, seed=1), apply(name, x, seed=1))
    assert not torch.equal(apply(name, x, seed=1), apply(name, x, seed=2))
    assert not torch.equal(apply(name, x, seed=1), x)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_reaches_input(name):
    x = images().requires_grad_()
    y = apply(name, x)
    (y * torch.randn(y.shape, generator=gen(5))).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [3, 4])
def test_channels_last(name, channels):
    x = images(c=channels)
    y = apply(name, x.contiguous(memory_format=torch.channels_last))
    assert y.shape == x.shape
    torch.testing.assert_close(y, apply(name, x), atol=1e-5, rtol=0)


# --- policies ---------------------------------------------------------------------------

def test_parse_policy():
    assert parse_policy("color,translation,cutout") == ["color", "translation", "cutout"]
    assert parse_policy(" cutout , color ") == ["cutout", "color"]
    assert parse_policy("") == [] and parse_policy("none") == []
    assert "classic" not in diff_augment_names()
    assert {"color", "translation", "cutout"} <= set(diff_augment_names())


@pytest.mark.parametrize("text", ["colour", "color,,cutout", "classic"])
def test_parse_policy_rejects_and_lists_choices(text):
    with pytest.raises(ConfigError, match=r"(^unknown DiffAugment policy '[a-z]*'|^'classic' is "
                                          r"a reals-only augmentation, not a DiffAugment "
                                          r"policy); choose from: ") as err:
        parse_policy(text)
    message = str(err.value)
    for name in ("color", "translation", "cutout"):
        assert name in message
    assert "classic" not in message.split("choose from:")[1]


def test_parse_policy_rejects_duplicates():
    with pytest.raises(ConfigError, match="twice"):
        parse_policy("color,cutout,color")


def test_diff_augment_applies_in_order():
    x = images()
    assert diff_augment(x, [], gen()) is x
    g = gen(3)
    expected = cutout(translation(x, g), g)
    torch.testing.assert_close(diff_augment(x, ["translation", "cutout"], gen(3)), expected)
    with pytest.raises(ConfigError, match="'classic' is a reals-only augmentation, not a "
                                          "DiffAugment policy"):
        diff_augment(x, ["classic"], gen())


# --- what each op does ------------------------------------------------------------------

@pytest.mark.parametrize("size", [16, 32])
def test_translation_moves_a_pixel_by_at_most_an_eighth(size):
    n, mid = 64, size // 2
    x = torch.zeros(n, 1, size, size)
    x[:, :, mid, mid] = 1.0
    y = translation(x, gen())
    assert (y == 1.0).sum(dim=(1, 2, 3)).eq(1).all()  # the pixel is still there, once
    where = y[:, 0].flatten(1).argmax(dim=1)  # the bright pixel's flat index
    dy, dx = where // size - mid, where % size - mid
    limit = size // 8
    assert dy.abs().max() <= limit and dx.abs().max() <= limit
    assert dy.abs().max() == limit and dx.abs().max() == limit  # the full range is used
    assert ((dy != 0) | (dx != 0)).float().mean() > 0.5


def test_translation_fills_with_zeros():
    x = torch.ones(32, 3, 16, 16)
    y = translation(x, gen())
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert (y == 0).any()


@pytest.mark.parametrize("size", [16, 32])
def test_cutout_zeroes_a_clipped_square(size):
    x = torch.ones(64, 3, size, size)
    y = cutout(x, gen())
    hole = y[:, 0] == 0  # (N, H, W)
    assert torch.equal(hole, (y == 0).all(dim=1))  # every channel is zeroed alike
    side = size // 2
    rows, cols = hole.any(dim=2).sum(dim=1), hole.any(dim=1).sum(dim=1)
    area = hole.sum(dim=(1, 2))
    assert torch.equal(area, rows * cols)  # a rectangle...
    assert rows.max() <= side and cols.max() <= side  # ...no bigger than the square
    assert rows.min() >= side // 2 and cols.min() >= side // 2  # clipped at worst to a quarter
    assert (area == side * side).any() and (area < side * side).any()


def test_color_keeps_grey_grey_and_alpha():
    grey = images(n=8, c=1).repeat(1, 3, 1, 1)
    y = color(grey, gen())
    torch.testing.assert_close(y[:, 1], y[:, 0])
    torch.testing.assert_close(y[:, 2], y[:, 0])
    assert not torch.allclose(y, grey)

    rgba = images(n=8, c=4)
    y = color(rgba, gen())
    assert torch.equal(y[:, 3], rgba[:, 3])
    assert not torch.allclose(y[:, :3], rgba[:, :3])


def test_color_changes_grey_images_only_in_brightness_and_contrast():
    x = images(n=8, c=1)
    y = color(x, gen())
    # Per image, an affine map of the grey values: y = a * x + b with a in [0.5, 1.5].
    xc, yc = x - x.mean(dim=(1, 2, 3), keepdim=True), y - y.mean(dim=(1, 2, 3), keepdim=True)
    a = (xc * yc).sum(dim=(1, 2, 3)) / (xc * xc).sum(dim=(1, 2, 3))
    torch.testing.assert_close(yc, a.view(-1, 1, 1, 1) * xc, atol=1e-5, rtol=0)
    assert ((a >= 0.5 - 1e-5) & (a <= 1.5 + 1e-5)).all()


def test_classic_zero_strength_is_identity():
    for c, h, w in [(1, 16, 16), (3, 16, 24), (4, 32, 32)]:
        x = torch.rand(4, c, h, w, generator=gen(c)) * 2 - 1
        y = classic(x, gen(), crop=1.0, rotate=0.0, shear=0.0, brightness=0.0, contrast=0.0)
        torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_classic_rotation_changes_an_asymmetric_image():
    ramp = torch.linspace(-1, 1, 16)
    x = ramp.view(1, 1, 1, 16).expand(16, 3, 16, 16).contiguous()  # dark left, bright right
    y = classic(x, gen(), crop=1.0, rotate=90.0, shear=0.0, brightness=0.0, contrast=0.0)
    change = (y - x).abs().mean(dim=(1, 2, 3))  # per sample
    assert change.max() > 0.3 and change.median() > 0.1
    # A pure rotation (reflection-padded) keeps the values in the image's range.
    assert y.min() >= -1 and y.max() <= 1


def test_classic_keeps_range_and_alpha_values():
    x = images(n=8, c=4)
    y = classic(x, gen(), brightness=0.5, contrast=0.5)
    assert y.min() >= -1 and y.max() <= 1
    # Alpha is only resampled (no colour change): a constant alpha stays constant.
    x[:, 3] = 0.25
    y = classic(x, gen(), brightness=0.5, contrast=0.5)
    torch.testing.assert_close(y[:, 3], torch.full_like(y[:, 3], 0.25))


@pytest.mark.parametrize("bad", [{"crop": 0.0}, {"crop": 1.5}, {"crop": float("nan")},
                                 {"rotate": 200.0}, {"rotate": -1.0}, {"shear": -5.0},
                                 {"brightness": -0.1}, {"contrast": -0.1}])
def test_classic_validates(bad):
    (name,) = bad
    with pytest.raises(ConfigError, match=f"^classic augmentation: {name} must be in "):
        classic(images(), gen(), **bad)
