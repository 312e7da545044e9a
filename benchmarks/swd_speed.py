"""SWD on a CPU: the sliced Wasserstein step as it was (torch.sort, advanced indexing) against
the current one (numpy's sort, in-place index_select) on the same pictures; both give the same
numbers (checked). Prints one JSON line with both times (median of --rounds, alternating) and
the ratio.

    python benchmarks/swd_speed.py                  # 300 reals vs 200 fakes, 64x64 RGB
    python benchmarks/swd_speed.py --reals 300 --fakes 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from ganvas.metrics import swd as S


def old_sliced_wasserstein(a, b, num_projections, gen):
    """sliced_wasserstein before the change (commit d5f3a08), for the comparison."""
    m, k = len(a), len(b)
    dirs = S.random_directions(a.shape[1], num_projections, gen).to(a.device, a.dtype)
    if m != k:
        ends = torch.unique(torch.cat([torch.arange(1, m + 1) * k, torch.arange(1, k + 1) * m]))
        widths = (torch.diff(ends, prepend=ends.new_zeros(1)).double() / (m * k))
        ia, ib = ((ends - 1) // k).to(a.device), ((ends - 1) // m).to(a.device)
        widths = widths.to(a.device, torch.float32)
    chunk = max(1, S._PROJECTION_BUDGET // max(1, m + k if m != k else m))
    total = 0.0
    for j in range(0, num_projections, chunk):
        w = dirs[:, j:j + chunk].T
        pa = torch.sort(w @ a.T, dim=1).values
        pb = torch.sort(w @ b.T, dim=1).values
        if m == k:
            total += (pa - pb).abs().sum(dim=1).cpu().double().sum().item()
        else:
            diff = (pa[:, ia] - pb[:, ib]).abs() * widths
            total += diff.sum(dim=1).cpu().double().sum().item()
    return total / (num_projections * (m if m == k else 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reals", type=int, default=300)
    p.add_argument("--fakes", type=int, default=200)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    shape = (a.resolution, a.resolution, 3)
    reals = rng.integers(0, 256, (a.reals, *shape), dtype=np.uint8)
    fakes = rng.integers(0, 256, (a.fakes, *shape), dtype=np.uint8)
    new_fn = S.sliced_wasserstein
    times = {"before": [], "after": []}
    values = {}
    for _ in range(a.rounds):
        for name, fn in (("before", old_sliced_wasserstein), ("after", new_fn)):
            S.sliced_wasserstein = fn
            start = time.perf_counter()
            values[name] = S.swd(reals, fakes)["mean"]
            times[name].append(time.perf_counter() - start)
    S.sliced_wasserstein = new_fn
    before, after = (statistics.median(times[k]) for k in ("before", "after"))
    print(json.dumps({"reals": a.reals, "fakes": a.fakes, "resolution": a.resolution,
                      "threads": torch.get_num_threads(), "before_s": round(before, 2),
                      "after_s": round(after, 2), "ratio": round(before / after, 2),
                      "same_value": values["before"] == values["after"],
                      "swd": values["after"]}))


if __name__ == "__main__":
    main()
