"""Multi-scale sliced Wasserstein distance: properties, and agreement with a slow direct
implementation written here in plain numpy loops, on the same random draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from ganvas.errors import GanvasError
from ganvas.metrics.swd import (descriptor_positions, laplacian_pyramid, pyr_up,
                                random_directions, sliced_wasserstein, sub_generator, swd)

# Small enough for a busy 2-core CPU: two pyramid levels (32, 16), 512 descriptors a level.
FAST = dict(descriptors_per_image=32, num_projections=64, repeats=2)


def make_images(n=16, res=32, channels=3, seed=0, low=0.0, high=255.0):
    """uint8 (n, res, res, channels): smooth colour fields with a few sharp-edged squares,
    so that blur, noise and colour changes all have something to change."""
    rng = np.random.default_rng(seed)
    coarse = torch.tensor(rng.uniform(low, high, (n, channels, 4, 4)))
    img = torch.nn.functional.interpolate(coarse, size=(res, res), mode="bilinear",
                                          align_corners=False).permute(0, 2, 3, 1).numpy()
    for i in range(n):
        for _ in range(3):
            y, x = rng.integers(0, res - 4, 2)
            s = rng.integers(3, res // 2)
            img[i, y:y + s, x:x + s] = rng.uniform(low, high, channels)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def blurred(x, radius):
    return np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius)))
                     for im in x])


def noisier(x, sigma):
    noise = np.random.default_rng(1).normal(0, sigma, x.shape)
    return np.clip(x + noise, 0, 255).round().astype(np.uint8)


def colour_mixed(x, t):
    """Each channel moves a fraction t towards its neighbour: a hue and saturation change
    that per-channel normalisation cannot undo (a constant offset it would)."""
    y = (1 - t) * x + t * np.roll(x.astype(np.float64), 1, axis=-1)
    return np.clip(y, 0, 255).round().astype(np.uint8)


def values(result):
    return [level["swd"] for level in result["levels"]]


@pytest.fixture(scope="module")
def images():
    return make_images()


def test_identical_sets_give_zero(images):
    result = swd(images, images.copy(), **FAST)
    assert [level["resolution"] for level in result["levels"]] == [32, 16]
    assert all(v < 1e-6 for v in values(result)) and result["mean"] < 1e-6


@pytest.mark.parametrize("distort, strengths", [
    (blurred, (0.5, 1.0, 2.0)),
    (noisier, (5.0, 15.0, 40.0)),
    (colour_mixed, (0.15, 0.3, 0.45)),
])
def test_more_distortion_gives_larger_swd(images, distort, strengths):
    results = [swd(images, distort(images, s), **FAST) for s in strengths]
    per_level = np.array([values(r) for r in results])  # (strength, level)
    assert (per_level[0] > 2.0).all(), per_level  # clearly above the 0 of identical sets
    assert (np.diff(per_level, axis=0) > 0).all(), per_level
    assert np.all(np.diff([r["mean"] for r in results]) > 0)
    assert np.isclose(results[0]["mean"], per_level[0].mean())


def test_constant_offset_is_normalised_away():
    # Documented property of the paper's per-set normalisation (no clipping in this range).
    x = make_images(low=60, high=190)
    shifted = (x.astype(np.int16) + np.array([25, 0, -25])).astype(np.uint8)
    assert swd(x, shifted, **FAST)["mean"] < 1e-3


def test_pyramid_reconstructs_the_input():
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]
    y = levels[-1]
    for lv in reversed(levels[:-1]):
        y = lv + pyr_up(y)
    assert torch.allclose(y, x, atol=1e-5, rtol=0)


def test_deterministic_for_a_seed_and_batch_size(images):
    other = blurred(images, 1.0)
    a = swd(images, other, seed=3, batch=256, **FAST)
    assert a == swd(images, other, seed=3, batch=256, **FAST)
    assert np.allclose(values(a), values(swd(images, other, seed=3, batch=5, **FAST)),
                       rtol=1e-6)
    assert all(abs(u - v) > 1e-6
               for u, v in zip(values(a), values(swd(images, other, seed=4, **FAST))))


def test_symmetric(images):
    other = noisier(images, 15.0)
    ab, ba = swd(images, other, **FAST), swd(other, images, **FAST)
    assert np.allclose(values(ab), values(ba), rtol=1e-5)


def test_tensor_input_equals_numpy_input(images):
    other = blurred(images, 1.0)
    assert np.allclose(values(swd(torch.from_numpy(images), torch.from_numpy(other), **FAST)),
                       values(swd(images, other, **FAST)), rtol=1e-6)


def test_bad_inputs_raise():
    x = make_images(n=4)
    with pytest.raises(GanvasError, match="same shape"):
        swd(x, make_images(n=5, res=64), **FAST)
    with pytest.raises(GanvasError, match="same shape"):
        swd(x, make_images(n=4, channels=1), **FAST)
    with pytest.raises(GanvasError, match="uint8"):
        swd(x.astype(np.float32), x.astype(np.float32), **FAST)
    with pytest.raises(GanvasError, match="short side is 16, 32"):
        swd(x[:, :, :24], x[:, :, :24], **FAST)
    with pytest.raises(GanvasError, match="num_projections"):
        swd(x, x, descriptors_per_image=8, num_projections=0)


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_rgba(channels):
    x = make_images(n=8, channels=channels)
    y = blurred(x[..., 0], 1.0)[..., None] if channels == 1 else blurred(x, 1.0)
    assert swd(x, x, **FAST)["mean"] < 1e-6
    assert swd(x, y, **FAST)["mean"] > 2.0
    if channels == 4:  # alpha is dropped: only RGB counts
        z = x.copy()
        z[..., 3] = 255 - z[..., 3]
        assert swd(x, z, **FAST)["mean"] < 1e-6
        assert np.allclose(values(swd(x, y, **FAST)), values(swd(x[..., :3], y[..., :3], **FAST)))


def test_sliced_wasserstein_of_shifted_points():
    # Projections of b = a + v differ by <w, v> on direction w: SWD = mean |<w, v>|.
    a = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    v = torch.tensor([3.0, 0, 0, 0, 0])
    dirs = random_directions(5, 32, sub_generator(0, 0, 1))
    expected = (v @ dirs).abs().mean().item()
    got = sliced_wasserstein(a, a + v, 32, sub_generator(0, 0, 1))
    assert got == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(dirs.norm(dim=0), torch.ones(32))


def test_sliced_wasserstein_of_unequal_sets_is_the_exact_1d_distance():
    """M != K points: the quantile functions are compared exactly (scipy's W1 in 1-D, where
    every direction is +-1), a set against itself repeated is 0, and a shift is found."""
    from scipy.stats import wasserstein_distance
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, 1, generator=gen), torch.randn(5, 1, generator=gen) + 0.3
    got = sliced_wasserstein(a, b, 4, sub_generator(0, 0, 1))
    assert got == pytest.approx(wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-5)
    a = torch.randn(100, 5, generator=gen)
    assert sliced_wasserstein(a, torch.cat([a, a, a]), 16, sub_generator(0, 0, 1)) < 1e-5
    v = torch.tensor([3.0, 0, 0, 0, 0])
    expected = (v @ random_directions(5, 32, sub_generator(0, 0, 1))).abs().mean().item()
    got = sliced_wasserstein(a, torch.cat([a, a]) + v, 32, sub_generator(0, 0, 1))
    assert got == pytest.approx(expected, rel=1e-5)


def test_swd_takes_more_fakes_than_reals():
    """The counts are independent: 8 reals against 24 fakes of the same distribution score
    far below 8 reals against 24 blurred ones."""
    reals, fakes = make_images(n=8, seed=1), make_images(n=24, seed=2)
    blurred = np.stack([np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(2)))
                        for f in fakes])
    same = swd(reals, fakes, **FAST)["mean"]
    assert 0 < same < swd(reals, blurred, **FAST)["mean"]


# --- the slow direct implementation -------------------------------------------------------

def slow_blur(img, gain=1.0):
    """(H, W) float64, 5-tap binomial along rows then columns, reflected borders."""
    taps = np.array([1, 4, 6, 4, 1], np.float64) * gain / 16
    p = np.pad(img, 2, mode="reflect")
    rows = sum(taps[k] * p[:, k:k + img.shape[1]] for k in range(5))
    return sum(taps[k] * rows[k:k + img.shape[0], :] for k in range(5))


def slow_pyramid(img):
    """(C, H, W) float64 -> Laplacian levels, each (C, h, w), down to 16."""
    levels, g = [], img
    while g.shape[-1] > 16:
        down = np.stack([slow_blur(ch)[::2, ::2] for ch in g])
        up = []
        for ch in down:
            z = np.zeros((2 * ch.shape[0], 2 * ch.shape[1]))
            z[::2, ::2] = ch
            up.append(slow_blur(z, gain=4.0))
        levels.append(g - np.stack(up))
        g = down
    return levels + [g]


def slow_swd(reals, fakes, count, num_projections, repeats, seed):
    n, res = len(reals), reals.shape[1]
    pyramids = [[slow_pyramid(im.transpose(2, 0, 1).astype(np.float64) / 127.5 - 1)
                 for im in s] for s in (reals, fakes)]
    out = []
    for level in range(len(pyramids[0][0])):
        r = res >> level
        pos = descriptor_positions(n, r, count, sub_generator(seed, level, 0)).numpy()
        sets = []
        for pyramid in pyramids:
            desc = np.array([pyramid[i][level][:, y:y + 7, x:x + 7]
                             for i in range(n) for y, x in pos[i]])  # (n * count, C, 7, 7)
            mean = desc.mean(axis=(0, 2, 3), keepdims=True)
            std = desc.std(axis=(0, 2, 3), keepdims=True)
            sets.append(((desc - mean) / std).reshape(len(desc), -1))
        gen, dist = sub_generator(seed, level, 1), 0.0
        for _ in range(repeats):
            dirs = random_directions(sets[0].shape[1], num_projections, gen).double().numpy()
            for p in range(num_projections):
                pa = sorted(float(np.dot(d, dirs[:, p])) for d in sets[0])
                pb = sorted(float(np.dot(d, dirs[:, p])) for d in sets[1])
                dist += np.mean(np.abs(np.array(pa) - np.array(pb)))
        out.append(1e3 * dist / (repeats * num_projections))
    return out


@pytest.mark.parametrize("channels", [1, 3])
def test_fast_equals_slow_direct_implementation(channels):
    reals = make_images(n=8, channels=channels, seed=2)
    fakes = noisier(make_images(n=8, channels=channels, seed=3), 10.0)
    fast = swd(reals, fakes, descriptors_per_image=16, num_projections=32, repeats=2, seed=7,
               batch=3)  # batches of 3 also check that positions do not depend on batching
    slow = slow_swd(reals, fakes, count=16, num_projections=32, repeats=2, seed=7)
    assert min(slow) > 1.0
    assert np.allclose(values(fast), slow, rtol=1e-4, atol=0)
    assert fast["mean"] == pytest.approx(np.mean(slow), rel=1e-4)


def test_positions_cover_every_valid_neighbourhood():
    pos = descriptor_positions(50, 16, 64, sub_generator(0, 0, 0))
    assert pos.shape == (50, 64, 2) and pos.dtype == torch.int64
    assert pos.min() == 0 and pos.max() == 16 - 7  # the last 7x7 window ends on the border


def test_the_cpu_sort_gives_torch_sorts_values_bit_for_bit():
    """SWD sorts with numpy on the CPU (issue 30, benchmarks/swd_speed.py): the same values
    as torch.sort, ties included, so no SWD value moved."""
    from ganvas.metrics.swd import _sorted_rows
    x = torch.randn(6, 999, generator=torch.Generator().manual_seed(0))
    x[:, ::7] = 0.5                                   # ties
    x[0, :3] = torch.tensor([0.0, -0.0, 0.0])
    assert torch.equal(_sorted_rows(x), torch.sort(x, dim=1).values)
    assert torch.equal(_sorted_rows(x.double()), torch.sort(x.double(), dim=1).values)
