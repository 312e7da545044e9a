"""Multi-scale sliced Wasserstein distance (SWD) of Karras et al. 2018, "Progressive Growing
of GANs", section 5 and appendix D.

Each picture is split into a Laplacian pyramid, from its full resolution down to 16x16 (the
coarsest level is the 16x16 Gaussian level itself; 16 px on the short side for a non-square
picture). At every level, random 7x7 neighbourhoods
give descriptors of 7*7*C values; each set's descriptors are normalised by that set's own
per-channel mean and std, and the two sets are compared by the sliced Wasserstein distance:
project on random unit directions, sort, mean absolute difference of the sorted projections.

Numbers are multiplied by 1e3, as the paper and its tables do. They need no network weights,
but they are only comparable between runs of this module with the same options (seed,
descriptors_per_image, num_projections, repeats): border handling and random draws differ
from other implementations.

Two choices worth knowing:
- Both sets take their descriptors at the same random positions (common random numbers): the
  positions do not depend on the pictures, so this biases nothing, removes sampling noise
  between the sets, and makes identical sets give exactly 0.
- Per-set normalisation removes each channel's mean and scale at every level, so a constant
  brightness or colour offset is (apart from clipping at 0 and 255) invisible to SWD, as in
  the paper; changes of contrast between channels, blur, noise and texture are not.

Memory: pictures go through the pyramid `batch` at a time, one level per pass, so what is held
is one level's descriptors for both sets: (N + K) * descriptors_per_image * 49 * C float32
(about 1.5 GB for 10,000 RGB pictures at the default 128 descriptors), plus a bounded chunk
of projections.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import GanvasError

MIN_RESOLUTION = 16  # the coarsest level, as in the paper
PATCH = 7  # side of a descriptor's neighbourhood
SCALE = 1e3  # reported values are SWD * 1e3, as in the paper

# Binomial 5-tap kernel: a cheap Gaussian (sigma ~ 1) that halves the band before decimation.
_TAPS = (1.0, 4.0, 6.0, 4.0, 1.0)
# At most this many projected values (float32) are held at once: 64 Mi values = 256 MB.
_PROJECTION_BUDGET = 1 << 26


def sub_generator(seed: int, level: int, stream: int) -> torch.Generator:
    """A CPU torch.Generator for one pyramid level and one use (stream 0: descriptor positions,
    stream 1: projection directions), independent of the others for the same seed."""
    state = np.random.SeedSequence([seed % 2**64, level, stream]).generate_state(1, np.uint64)
    return torch.Generator().manual_seed(int(state[0]) & (2**63 - 1))


def _blur(x: Tensor, gain: float = 1.0) -> Tensor:
    """Separable 5-tap binomial blur of float (N, C, H, W), H and W >= 3, reflected borders
    (reflection keeps edges from darkening as zero padding would)."""
    n, c, h, w = x.shape
    k = torch.tensor(_TAPS, dtype=x.dtype, device=x.device) * (gain / 16.0)
    y = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, 5))
    y = F.conv2d(y, k.view(1, 1, 5, 1))
    return y.view(n, c, h, w)


def pyr_down(x: Tensor) -> Tensor:
    """float (N, C, H, W) -> (N, C, H/2, W/2): blur, then keep every second pixel."""
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: Tensor) -> Tensor:
    """float (N, C, H, W) -> (N, C, 2H, 2W): insert zeros, then blur with a gain of 4 (2 per
    axis) so that the mean brightness is kept."""
    n, c, h, w = x.shape
    y = x.new_zeros(n, c, 2 * h, 2 * w)
    y[:, :, ::2, ::2] = x
    return _blur(y, gain=4.0)


def laplacian_pyramid(x: Tensor, min_resolution: int = MIN_RESOLUTION) -> list[Tensor]:
    """float (N, C, H, W), any range -> levels, finest first: band-pass levels
    G_k - pyr_up(G_k+1) at H, H/2, ... and the Gaussian level G itself at `min_resolution`.

    The short side must be `min_resolution` times a power of two and the long side divisible
    by as many twos (the pictures of any aspect a model makes). The input is exactly
    x = L_0 + up(L_1 + up(L_2 + ...)) with up = pyr_up, up to float rounding.
    """
    levels = []
    g = x
    while min(g.shape[-2:]) > min_resolution and not g.shape[-1] % 2 and not g.shape[-2] % 2:
        down = pyr_down(g)
        levels.append(g - pyr_up(down))
        g = down
    if min(g.shape[-2:]) != min_resolution:
        raise ValueError(f"laplacian_pyramid needs pictures whose short side is "
                         f"{min_resolution} * 2**k (and the long side as divisible by 2), "
                         f"got {tuple(x.shape[-2:])}")
    levels.append(g)
    return levels


def descriptor_positions(n: int, resolution: int | tuple[int, int], count: int,
                         gen: torch.Generator) -> Tensor:
    """int64 (n, count, 2): top-left (y, x) corners of 7x7 neighbourhoods of a level of
    `resolution` px (square) or (H, W) px, y in [0, H - 7] and x in [0, W - 7], drawn from CPU
    generator `gen`. Drawing n1 then n2 rows gives the same numbers as drawing n1 + n2 at
    once, so the batch size does not change the result. A non-square level draws 62-bit
    integers and takes them modulo each side's range (a bias below 1e-15)."""
    h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
    if h == w:
        return torch.randint(0, h - PATCH + 1, (n, count, 2), generator=gen)
    draws = torch.randint(0, 2**62, (n, count, 2), generator=gen)
    return draws % torch.tensor([h - PATCH + 1, w - PATCH + 1])


def extract_descriptors(level: Tensor, positions: Tensor) -> Tensor:
    """float (n, C, H, W) and int64 (n, count, 2) -> float (n * count, C, 7, 7): the
    neighbourhoods, gathered by indexing (unfold would materialise every position)."""
    n, c = level.shape[:2]
    off = torch.arange(PATCH, device=level.device)
    pos = positions.to(level.device)
    rows = (pos[:, :, 0, None] + off)[:, :, None, :, None]  # (n, count, 1, 7, 1)
    cols = (pos[:, :, 1, None] + off)[:, :, None, None, :]  # (n, count, 1, 1, 7)
    img = torch.arange(n, device=level.device)[:, None, None, None, None]
    ch = torch.arange(c, device=level.device)[None, None, :, None, None]
    return level[img, ch, rows, cols].reshape(-1, c, PATCH, PATCH)


def random_directions(dim: int, num_projections: int, gen: torch.Generator) -> Tensor:
    """float32 (dim, num_projections): unit columns, uniform on the sphere (normalised normal
    draws, made in float64 from CPU generator `gen`)."""
    d = torch.randn(dim, num_projections, dtype=torch.float64, generator=gen)
    return (d / d.norm(dim=0, keepdim=True)).float()


def _sorted_rows(x: Tensor) -> Tensor:
    """x sorted along dim 1. On the CPU numpy's sort (vectorised quicksort: about 5x
    torch.sort's speed on a 2-core CPU for SWD's (512, 38,400) rows; the same values, since a
    sort only reorders them); elsewhere torch.sort."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(np.sort(x.detach().numpy(), axis=1))
    return torch.sort(x, dim=1).values


def sliced_wasserstein(a: Tensor, b: Tensor, num_projections: int,
                       gen: torch.Generator) -> float:
    """Sliced Wasserstein-1 distance between two point sets, float (M, D) and (K, D): mean
    over `num_projections` random unit directions (from `gen`) of the 1-D Wasserstein-1
    distance of the projections, the integral over t in (0, 1) of the absolute difference
    of their quantile functions. With M == K that is the mean absolute difference between
    the sorted projections; with M != K each sorted value of a covers a 1/M step of t and
    each of b a 1/K step, and the steps are merged on the integer grid 0..M*K (exact: no
    interpolation). Not scaled by 1e3."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"need two non-empty (M, D) and (K, D) sets, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    m, k = len(a), len(b)
    dirs = random_directions(a.shape[1], num_projections, gen).to(a.device, a.dtype)
    if m != k:
        # The steps' right ends on the grid 0..m*k: a's i-th value ends at (i + 1) * k,
        # b's j-th at (j + 1) * m; each merged step (e_prev, e] lies in one value of each.
        ends = torch.from_numpy(np.union1d(np.arange(1, m + 1, dtype=np.int64) * k,
                                           np.arange(1, k + 1, dtype=np.int64) * m))
        widths = (torch.diff(ends, prepend=ends.new_zeros(1)).double() / (m * k))
        ia, ib = ((ends - 1) // k).to(a.device), ((ends - 1) // m).to(a.device)
        widths = widths.to(a.device, torch.float32)
    # Chunks of directions bound the (chunk, M + K) projections held at once.
    chunk = max(1, _PROJECTION_BUDGET // max(1, m + k if m != k else m))
    total = 0.0
    for j in range(0, num_projections, chunk):
        w = dirs[:, j:j + chunk].T  # (c, D)
        pa = _sorted_rows(w @ a.T)  # (c, M), sorted along the contiguous axis
        pb = _sorted_rows(w @ b.T)
        if m == k:
            # Row sums in float32 (MPS has no float64), their total in float64.
            total += (pa - pb).abs().sum(dim=1).cpu().double().sum().item()
        else:
            # |pa[:, ia] - pb[:, ib]| * widths, in place (the same numbers, fewer passes)
            diff = pa.index_select(1, ia)  # (c, steps), weighted by width
            diff.sub_(pb.index_select(1, ib)).abs_().mul_(widths)
            total += diff.sum(dim=1).cpu().double().sum().item()
    return total / (num_projections * (m if m == k else 1))


def _check_sets(reals, fakes) -> tuple[int, int]:
    """uint8 (N, H, W, C) and (K, H, W, C), the same picture shape (any counts) -> (channels
    used, resolution: the short side). The short side is 16, 32, 64, ... and the long side as
    divisible by two (any aspect the models make)."""
    for name, s in (("reals", reals), ("fakes", fakes)):
        if s.dtype not in (np.uint8, torch.uint8) or s.ndim != 4 or s.shape[-1] not in (1, 3, 4):
            raise GanvasError(f"swd takes uint8 (N, H, W, C) pictures with C in 1, 3, 4; {name} "
                              f"is {s.dtype} {tuple(s.shape)}")
    if tuple(reals.shape[1:]) != tuple(fakes.shape[1:]):
        raise GanvasError(f"swd needs reals and fakes of the same shape (H, W, C), got "
                          f"{tuple(reals.shape)} and {tuple(fakes.shape)}")
    n, h, w, c = reals.shape
    if n < 1 or len(fakes) < 1:
        raise GanvasError("swd needs at least one picture in each set")
    short, r = min(h, w), MIN_RESOLUTION
    while r < short:
        r *= 2
    if r != short or max(h, w) % (short // MIN_RESOLUTION):
        raise GanvasError(f"swd needs pictures whose short side is 16, 32, 64, ... pixels and "
                          f"whose long side halves as often, got {w}x{h}")
    return min(c, 3), short  # alpha carries no picture content: RGBA -> RGB, grey stays 1


def _to_float(chunk, channels: int, device) -> Tensor:
    """uint8 (n, H, W, C) -> float32 (n, channels, H, W) in [-1, 1] on `device`."""
    t = chunk if isinstance(chunk, Tensor) else torch.from_numpy(np.array(chunk))
    x = t[..., :channels].to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def _pyramid_level(x: Tensor, level: int) -> Tensor:
    """laplacian_pyramid(x)[level] without building the finer band-pass levels."""
    for _ in range(level):
        x = pyr_down(x)
    return x if min(x.shape[-2:]) == MIN_RESOLUTION else x - pyr_up(pyr_down(x))


def _level_descriptors(images, level: int, channels: int, count: int, seed: int,
                       batch: int, device) -> Tensor:
    """All normalised descriptors of one set at one pyramid level: float32 (N * count,
    channels * 49), each channel with mean 0 and std 1 over the set (std 0 left as 1)."""
    gen = sub_generator(seed, level, 0)  # same seed for both sets: same positions
    parts = []
    # Per-channel mean and sum of squared deviations, merged batch by batch in float64
    # (Chan et al.): a float32 sum over millions of values would lose digits.
    num = 0
    mean = torch.zeros(channels, dtype=torch.float64)
    m2 = torch.zeros(channels, dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = _to_float(images[i:i + batch], channels, device)
            lv = _pyramid_level(x, level)
            d = extract_descriptors(lv, descriptor_positions(len(x), tuple(lv.shape[-2:]),
                                                             count, gen))
            v = d.transpose(0, 1).reshape(channels, -1).cpu().double()  # MPS has no float64
            k, bmean = v.shape[1], v.mean(dim=1)
            bm2 = ((v - bmean[:, None]) ** 2).sum(dim=1)
            delta = bmean - mean
            m2 = m2 + bm2 + delta**2 * num * k / (num + k)
            mean = mean + delta * k / (num + k)
            num += k
            parts.append(d)
    std = (m2 / num).sqrt()
    std = torch.where(std > 0, std, torch.ones_like(std))  # a flat channel: nothing to scale
    d = torch.cat(parts)
    d = (d - mean.to(d)[:, None, None]) / std.to(d)[:, None, None]
    return d.reshape(len(d), -1)


def swd(reals, fakes, *, descriptors_per_image: int = 128, num_projections: int = 512,
        repeats: int = 4, seed: int = 0, batch: int = 256,
        device: str | torch.device = "cpu") -> dict:
    """Multi-scale SWD between two sets of pictures, uint8 (N, H, W, C) and (K, H, W, C) numpy
    arrays or tensors (the counts may differ: sliced_wasserstein compares distributions),
    C in 1 (grey), 3 (RGB) or 4 (RGBA: alpha is dropped), H = W = 16 * 2**k, or any aspect
    a model makes (the short side 16 * 2**k).

    Returns {"levels": [{"resolution": short side, "swd": float}, ..., {"resolution": 16,
    ...}],
    "mean": float}: finest level first, every value SWD * 1e3 (>= 0; 0 for identical sets),
    "mean" the average over levels. Deterministic for the same seed and options, whatever
    `batch` (pictures per pass through the pyramid, to bound memory); another `device` draws
    the same random numbers (they come from CPU generators) and agrees to float rounding.

    Cost: sorting dominates, (N + K) * descriptors_per_image * num_projections * repeats values
    per level; 300 vs 1,000 pictures at 64x64 with the defaults took 51 s on a quiet 2-core
    CPU before the sort moved to numpy, and 5.3x less since (benchmarks/swd_speed.py).
    """
    options = dict(descriptors_per_image=descriptors_per_image,
                   num_projections=num_projections, repeats=repeats, batch=batch)
    for name, value in options.items():
        if int(value) != value or value < 1:
            raise GanvasError(f"swd: {name} must be a positive integer, got {value!r}")
    channels, resolution = _check_sets(reals, fakes)
    num_levels = int(np.log2(resolution // MIN_RESOLUTION)) + 1
    levels = []
    for level in range(num_levels):
        a = _level_descriptors(reals, level, channels, descriptors_per_image, seed, batch,
                               device)
        b = _level_descriptors(fakes, level, channels, descriptors_per_image, seed, batch,
                               device)
        gen = sub_generator(seed, level, 1)  # fresh directions for every repeat
        dist = sum(sliced_wasserstein(a, b, num_projections, gen) for _ in range(repeats))
        levels.append({"resolution": resolution >> level, "swd": SCALE * dist / repeats})
        del a, b  # one level's descriptors at a time
    return {"levels": levels, "mean": float(np.mean([v["swd"] for v in levels]))}
