"""Seeds -> latents, and fixed-size chunks of generator calls, deterministically (the Sampler
in latent/sampler.py builds on these).

Each seed owns its latent: z = randn(z_dim) from a generator seeded with that seed alone, so an
image depends only on its seed, never on the batch it was drawn in or on the other seeds asked.
"""

from __future__ import annotations

import re
from typing import Callable

import torch

from ..errors import GanvasError
from ..limits import MAX_SEED, check_seed

MAX_SEEDS = 100_000          # seeds of one request made through the API (files, keyframes)


def check_seeds(seeds, limit: int = MAX_SEEDS) -> list[int]:
    """`seeds` (an iterable of ints) as a list, refused before it is built when it holds more
    than `limit`, and each seed checked to be an int from 0 to MAX_SEED."""
    try:
        n = len(seeds)
    except TypeError:
        n = None
    if n is not None and n > limit:
        raise GanvasError(f"too many seeds ({n:,}): at most {limit:,} in one request")
    out = []
    for s in seeds:
        out.append(check_seed(s))
        if len(out) > limit:
            raise GanvasError(f"too many seeds: at most {limit:,} in one request")
    return out


def parse_seeds(text: str, limit: int = 100_000, minimum: int = 1) -> list[int]:
    """'0-3,10,12-13' -> [0, 1, 2, 3, 10, 12, 13], in the order given; at most `limit` seeds
    and at least `minimum`, each from 0 to MAX_SEED; a clear GanvasError for anything else."""
    seeds: list[int] = []
    for part in [p for p in str(text).replace(" ", "").split(",") if p]:
        m = re.fullmatch(r"(\d{1,10})(?:-(\d{1,10}))?", part)
        if not m:
            raise GanvasError(f"bad seeds {text!r}: use numbers and ranges like 0-63 or 1,5,9")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo or hi > MAX_SEED:
            raise GanvasError(f"bad seed range {part!r}: need 0 <= start <= end <= {MAX_SEED}")
        if len(seeds) + hi - lo + 1 > limit:
            raise GanvasError(f"too many seeds in {text!r}: at most {limit} here")
        seeds.extend(range(lo, hi + 1))
    if len(seeds) < minimum:
        raise GanvasError(f"give at least {minimum} seed{'s' if minimum > 1 else ''} "
                          f"(e.g. 0-{minimum})")
    return seeds


def z_from_seeds(seeds: list[int], z_dim: int) -> torch.Tensor:
    """(len(seeds), z_dim) float32 standard-normal latents, one generator per seed."""
    for seed in seeds:
        check_seed(seed)
    z = torch.empty(len(seeds), z_dim)
    for i, seed in enumerate(seeds):
        z[i] = torch.randn(z_dim, generator=torch.Generator().manual_seed(int(seed)))
    return z


@torch.no_grad()
def in_chunks(fn: Callable[..., torch.Tensor], device: torch.device | str,
              *inputs: torch.Tensor | None, chunk: int = 16) -> torch.Tensor:
    """fn(*batches) over the rows of `inputs` (each (N, ...) or None), moved to `device`, in
    batches of exactly `chunk` rows (the last padded with zeros) -> float32 (N, ...) on the CPU.

    Every row is computed in a batch of the same shape, so results do not depend on how many
    rows are asked together (batch norm in eval mode and the kernels then see equal batches).
    """
    n_all = len(next(x for x in inputs if x is not None))
    out = []
    for start in range(0, n_all, chunk):
        batch = []
        for x in inputs:
            if x is None:
                batch.append(None)
                continue
            part = x[start:start + chunk]
            pad = torch.zeros(chunk - len(part), *part.shape[1:], dtype=part.dtype)
            batch.append(torch.cat([part, pad]).to(device))
        out.append(fn(*batch)[:min(chunk, n_all - start)].float().cpu())
    return torch.cat(out) if out else torch.empty(0)
