"""The metric formulas against closed forms and slow reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganvas.errors import ConfigError
from ganvas.metrics.distances import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
    sqrtm_psd,
    statistics,
    trace_sqrt_product,
)
from ganvas.metrics.extractors import EXTRACTORS
from ganvas.metrics.features import extractor_from_module


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


# ---------------------------------------------------------------- FID


def test_fid_of_identical_statistics_is_zero():
    mu, sigma = statistics(np.random.default_rng(0).normal(size=(200, 8)))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9 * np.trace(sigma)


def test_fid_of_diagonal_gaussians_matches_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fid_is_symmetric():
    rng = np.random.default_rng(2)
    s1 = statistics(rng.normal(size=(100, 10)))
    s2 = statistics(rng.normal(0.3, 1.5, size=(80, 10)))
    assert frechet_distance(*s1, *s2) == pytest.approx(frechet_distance(*s2, *s1), rel=1e-9)


def test_trace_sqrt_matches_eigendecomposition_of_the_product():
    rng = np.random.default_rng(3)
    for d in (2, 7, 20):
        s1, s2 = random_spd(rng, d), random_spd(rng, d)
        # Reference: sqrtm of the (non-symmetric) product through its own eigenvectors.
        w, v = np.linalg.eig(s1 @ s2)
        ref = np.trace(v @ np.diag(np.sqrt(w.astype(complex))) @ np.linalg.inv(v)).real
        assert trace_sqrt_product(s1, s2) == pytest.approx(ref, rel=1e-6)
        r = sqrtm_psd(s1)
        np.testing.assert_allclose(r @ r, s1, rtol=1e-9, atol=1e-9)


def test_fid_on_singular_covariances_is_finite():
    rng = np.random.default_rng(4)
    s1, s2 = statistics(rng.normal(size=(5, 12))), statistics(rng.normal(size=(6, 12)))
    fid = frechet_distance(*s1, *s2)
    assert np.isfinite(fid) and fid > 0


# ---------------------------------------------------------------- KID


def kid_reference(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, one pair at a time."""
    m, d = x.shape
    k = lambda a, b: (float(a @ b) / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)


def test_kid_matches_double_loop_reference():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(10, 4)), rng.normal(0.5, 1, size=(10, 4))
    # Both sets have 10 rows, so the one subset is each whole set (in some order).
    mean, std = kernel_inception_distance(x, y, num_subsets=1)
    assert mean == pytest.approx(kid_reference(x, y), rel=1e-9)
    assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    shifted = rng.normal(1.0, 1.0, size=(300, 16))
    same, _ = kernel_inception_distance(a, b, num_subsets=10, subset_size=100)
    diff, diff_std = kernel_inception_distance(a, shifted, num_subsets=10, subset_size=100)
    assert diff > 10 * diff_std and diff > 0.5
    assert abs(same) < 0.02 * diff


def test_kid_subsets_are_seeded():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    run = lambda seed: kernel_inception_distance(a, b, 5, 20, seed)  # noqa: E731
    assert run(1) == run(1) and run(1) != run(2)


# ---------------------------------------------------------------- precision / recall


def pr_reference(real, fake, k):
    """Full distance matrices by explicit differences, sorted rows."""
    def radii(f):
        return np.sort(np.linalg.norm(f[:, None] - f[None], axis=2), axis=1)[:, k]

    def cover(points, centres, r):
        return np.mean((np.linalg.norm(points[:, None] - centres[None], axis=2) <= r).any(1))

    return cover(fake, real, radii(real)), cover(real, fake, radii(fake))


def test_pr_of_identical_sets_is_one_and_of_distant_sets_zero():
    real = np.random.default_rng(8).normal(size=(60, 5))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)


def test_pr_of_fakes_covering_half_the_modes():
    rng = np.random.default_rng(9)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    real = np.concatenate([c + 0.3 * rng.normal(size=(100, 2)) for c in centres])
    fake = np.concatenate([c + 0.3 * rng.normal(size=(100, 2)) for c in centres[:2]])
    precision, recall = precision_recall(real, fake)
    assert precision > 0.9
    assert 0.4 < recall <= 0.5


def test_batched_pr_equals_brute_force():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(53, 5)), rng.normal(0.4, 1.2, size=(41, 5))
    for k in (1, 3, 5):
        got = precision_recall(real, fake, k=k, batch=7)
        assert got == pytest.approx(pr_reference(real, fake, k), abs=0)


# ---------------------------------------------------------------- inception score


def test_is_of_uniform_predictions_is_one():
    mean, std = inception_score(np.full((40, 5), 0.2), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_is_of_confident_diverse_predictions_is_num_classes():
    probs = np.eye(10)[np.arange(100) % 10]       # each split of 10 holds every class once
    assert inception_score(probs, splits=10) == pytest.approx((10.0, 0.0), abs=1e-9)
    mean, _ = inception_score(50.0 * probs, splits=10)        # as logits
    assert mean == pytest.approx(10.0, rel=1e-6)


# ---------------------------------------------------------------- feature extractors


def test_random_conv_is_deterministic_and_handles_channels():
    rng = np.random.default_rng(11)
    rgba = rng.integers(0, 256, size=(5, 24, 24, 4), dtype=np.uint8)
    state = torch.get_rng_state()
    net = EXTRACTORS.get("random-conv")()
    assert torch.equal(state, torch.get_rng_state())       # global RNG untouched
    f = net.features(rgba[..., :3])
    assert f.shape == (5, 64) and f.dtype == np.float64 and np.isfinite(f).all()
    assert f.std(axis=0).max() > 0                           # features vary with the input
    np.testing.assert_array_equal(f, EXTRACTORS.get("random-conv")().features(rgba[..., :3]))
    np.testing.assert_array_equal(f, net.features(rgba))                # alpha dropped
    np.testing.assert_allclose(net.features(torch.from_numpy(rgba), batch=2), f, rtol=1e-5)
    grey = rgba[..., :1]
    np.testing.assert_array_equal(net.features(grey), net.features(grey.repeat(3, axis=-1)))


def test_extractors_reject_float_nchw():
    net = EXTRACTORS.get("random-conv")()
    with pytest.raises(ValueError, match="uint8"):
        net.features(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ConfigError, match="random-conv"):
        EXTRACTORS.get("no-such-net")


def test_extractor_from_module_wraps_any_network():
    # Mean colour per channel: uint8 -> [-1, 1] by the default preprocess, no resize.
    net = extractor_from_module("mean-rgb", nn.AdaptiveAvgPool2d(1), dim=3, input_size=None)
    img = np.zeros((2, 4, 4, 3), np.uint8)
    img[1] = 255
    np.testing.assert_allclose(net.features(img), [[-1, -1, -1], [1, 1, 1]])
