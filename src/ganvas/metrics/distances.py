"""Distances between sets of features, in float64, computed the way the field computes them.

- FID (Heusel et al. 2017): Frechet distance between Gaussians fitted to the two sets.
- KID (Binkowski et al. 2018): unbiased MMD^2 with a cubic polynomial kernel, averaged over
  random subsets, sampled like torch-fidelity (RandomState(seed), set 1 then set 2).
- Precision / recall (Kynkaanniemi et al. 2019): k-NN balls around each set's points.
- Inception score (Salimans et al. 2016): exp E[KL(p(y|x) || p(y))], over splits.

Features are (N, D) arrays of any float dtype; everything is computed in float64.
scipy is not needed: FID's trace of sqrtm(s1 s2) comes from a symmetric eigenproblem.
"""

from __future__ import annotations

import numpy as np


def _f64(a, ndim: int, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimensions, got shape {a.shape}")
    return a


def statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features, N >= 2 -> mean (D,) and covariance (D, D) with N - 1 in the
    denominator (np.cov, as pytorch-fid and torch-fidelity do)."""
    f = _f64(features, 2, "features")
    if len(f) < 2:
        raise ValueError(f"statistics need at least 2 feature vectors, got {len(f)}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def sqrtm_psd(a) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite (D, D) matrix.

    Eigenvalues below zero can only be rounding error here, so they are clipped to 0.
    """
    a = _f64(a, 2, "matrix")
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1, sigma2) -> float:
    """Tr sqrtm(sigma1 @ sigma2) for symmetric PSD (D, D) matrices.

    sigma1 @ sigma2 is not symmetric, but it is similar to the symmetric PSD matrix
    R sigma2 R with R = sqrtm(sigma1), so both have the same (real, >= 0) eigenvalues and
    Tr sqrtm(sigma1 sigma2) = sum sqrt(eig(R sigma2 R)). Unlike scipy's general sqrtm this
    needs no eps on singular covariances and never returns complex numbers.
    """
    r = sqrtm_psd(sigma1)
    m = r @ _f64(sigma2, 2, "sigma2") @ r
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)).

    mu: (D,) means, sigma: (D, D) covariances (from `statistics`). The result is >= 0 up to
    rounding (about 1e-10 relative); like pytorch-fid it is not clipped.
    """
    mu1, mu2 = _f64(mu1, 1, "mu1"), _f64(mu2, 1, "mu2")
    s1, s2 = _f64(sigma1, 2, "sigma1"), _f64(sigma2, 2, "sigma2")
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shapes disagree: mu1 {mu1.shape}, sigma1 {s1.shape}, "
                         f"mu2 {mu2.shape}, sigma2 {s2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2)
                 - 2.0 * trace_sqrt_product(s1, s2))


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / D + 1)^3 for all rows of x (n, D) and y (m, D) -> (n, m)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between two (m, D) samples: the within-set kernel sums skip the
    diagonal (k(x_i, x_i)), the cross term keeps all m^2 pairs."""
    m = len(x)
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kernel_inception_distance(f1, f2, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID between (N1, D) and (N2, D) features -> (mean, std) of MMD^2 over random subsets.

    Each subset draws min(subset_size, N1, N2) rows without replacement from f1, then from
    f2, with np.random.RandomState(seed) (torch-fidelity's order, whose default seed is
    2020); std has ddof=0 like torch-fidelity. Values near 0 mean "same distribution"; the
    estimate is unbiased, so it can be slightly negative.
    """
    f1, f2 = _f64(f1, 2, "f1"), _f64(f2, 2, "f2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sizes differ: {f1.shape[1]} and {f2.shape[1]}")
    m = min(subset_size, len(f1), len(f2))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(f1)} and {len(f2)}")
    rng = np.random.RandomState(seed)
    mmds = np.empty(num_subsets)
    for i in range(num_subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        mmds[i] = _mmd2_unbiased(x, y)
    return float(mmds.mean()), float(mmds.std())


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (n, D) x (m, D) -> (n, m), clipped at 0 (rounding)."""
    d = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.maximum(d, 0.0)


def knn_radii(features, k: int = 3, batch: int = 1024) -> np.ndarray:
    """(N, D) -> (N,) squared distance from each point to its k-th nearest neighbour in the
    same set, the point itself excluded. Memory: one (batch, N) block at a time."""
    f = _f64(features, 2, "features")
    if not 1 <= k < len(f):
        raise ValueError(f"k must be in [1, {len(f) - 1}] for {len(f)} points, got {k}")
    radii = np.empty(len(f))
    for i in range(0, len(f), batch):
        d = _sq_dists(f[i:i + batch], f)
        # Column 0 of the sorted row is the point itself (distance 0), so index k is the
        # k-th neighbour; a duplicate of the point counts as a neighbour at distance 0.
        radii[i:i + batch] = np.partition(d, k, axis=1)[:, k]
    return radii


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, batch: int) -> float:
    """Share of `points` inside at least one ball (centre, squared radius), borders included."""
    inside = 0
    for i in range(0, len(points), batch):
        inside += int((_sq_dists(points[i:i + batch], centres) <= radii[None, :])
                      .any(axis=1).sum())
    return inside / len(points)


def precision_recall(real_features, fake_features, k: int = 3,
                     batch: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of (N, D) real and (M, D)
    fake features -> (precision, recall), both in [0, 1].

    precision: share of fakes inside the k-NN ball of some real (fakes look real);
    recall: share of reals inside the k-NN ball of some fake (the reals are covered).
    The paper uses k = 3. Pairwise distances go `batch` rows at a time, so memory stays at
    about batch * max(N, M) float64.
    """
    real, fake = _f64(real_features, 2, "real_features"), _f64(fake_features, 2, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} and {fake.shape[1]}")
    precision = _coverage(fake, real, knn_radii(real, k, batch), batch)
    recall = _coverage(real, fake, knn_radii(fake, k, batch), batch)
    return precision, recall


def inception_score(logits_or_probs, splits: int = 10, probs: bool | None = None,
                    seed: int | None = None) -> tuple[float, float]:
    """Inception score of (N, C) class logits or probabilities -> (mean, std) over splits.

    Each of `splits` consecutive parts scores exp(mean_x KL(p(y|x) || p(y))) with p(y) the
    part's mean prediction; std has ddof=0. The range is [1, C]: 1 when every prediction is
    the same, C when predictions are confident and spread evenly over the C classes.
    probs: True for probabilities, False for logits (softmax is applied), None to guess:
    rows that are non-negative and sum to 1 are probabilities. seed: if given, shuffle rows
    with RandomState(seed) first, as torch-fidelity does.
    """
    x = _f64(logits_or_probs, 2, "logits_or_probs")
    if not 1 <= splits <= len(x):
        raise ValueError(f"splits must be in [1, {len(x)}], got {splits}")
    if probs is None:
        probs = bool((x >= 0).all() and np.allclose(x.sum(axis=1), 1.0, atol=1e-6))
    if probs:
        p = x / x.sum(axis=1, keepdims=True)
        # 0 * log 0 = 0: take log 1 where p = 0, the product is then 0.
        log_p = np.log(np.where(p > 0, p, 1.0))
    else:
        log_p = x - x.max(axis=1, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        p = np.exp(log_p)
    if seed is not None:
        order = np.random.RandomState(seed).permutation(len(x))
        p, log_p = p[order], log_p[order]
    n = len(x)
    scores = np.empty(splits)
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        py = p[part].mean(axis=0)
        log_py = np.log(np.where(py > 0, py, 1.0))
        kl = (p[part] * (log_p[part] - log_py)).sum(axis=1).mean()
        scores[i] = np.exp(kl)
    return float(scores.mean()), float(scores.std())
