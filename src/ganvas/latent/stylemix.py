"""Style mixing (StyleGAN, Karras et al. 2019, fig. 3): some layers' styles from another seed.

Families with style mixing say which w indices drive which resolution (G.style_layers(), the
family contract). StyleGAN2's synthesis network takes num_ws = 2 log2(resolution) - 2 ws; as in
the papers, resolution 2^k (4x4 is k = 2) owns the two w indices 2k - 4 and 2k - 3:
    4x4: 0, 1    8x8: 2, 3    16x16: 4, 5    32x32: 6, 7    64x64: 8, 9    ...
(index 2k - 3 also drives the toRGB of that resolution and the first conv of the next.)
The named groups are the papers' resolution bands:
    coarse = 4x4-8x8   (w 0-3: pose, shape, layout)
    middle = 16x16-32x32 (w 4-7: smaller features)
    fine   = 64x64 and up (w 8 on: colour scheme, micro-structure) - none below 64 px.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from ..errors import GanvasError
from ..imaging import to_uint8
from .look import Look

GROUPS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}   # resolution bands
MAX_SEEDS = 32


def parse_styles(text: str, per_res: dict[int, list[int]]) -> list[int]:
    """'coarse' | 'middle' | 'fine' | '0-3' | '2,5' (or a comma list of these) -> the sorted
    w indices to take from the column seed, given the model's {resolution: [w indices]}
    (G.style_layers(), covering every w); a GanvasError if empty or out of range."""
    resolution = max(per_res)
    num_ws = 1 + max(i for ids in per_res.values() for i in ids)
    # Any number of indices per resolution (StyleGAN2 has two, StyleGAN3 one to several).
    table = "; ".join(f"{r}x{r}: {ids[0]}" + (f"-{ids[-1]}" if len(ids) > 1 else "")
                      for r, ids in per_res.items())
    chosen: set[int] = set()
    for part in str(text).replace(" ", "").lower().split(","):
        if part in GROUPS:
            lo, hi = GROUPS[part]
            found = [i for r, ids in per_res.items() if lo <= r <= hi for i in ids]
            if not found:
                raise GanvasError(f"a {resolution}px model has no {part} layers "
                                  f"({lo}px and up); its w indices are {table}")
            chosen.update(found)
            continue
        m = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part)
        if not m:
            raise GanvasError(f"bad styles {text!r}: use coarse, middle, fine or w indices "
                              f"like 0-3 (this model: {table})")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if not a <= b < num_ws:
            raise GanvasError(f"bad w range {part!r}: this model has w indices 0-{num_ws - 1} "
                              f"({table})")
        chosen.update(range(a, b + 1))
    return sorted(chosen)


def mix(w_rows: torch.Tensor, w_cols: torch.Tensor, indices: list[int]) -> torch.Tensor:
    """ws (R, num_ws, w_dim) and (C, num_ws, w_dim) -> (R * C, num_ws, w_dim): cell (r, c)
    is row r's ws with the layers `indices` taken from column c."""
    cells = w_rows[:, None].repeat(1, len(w_cols), 1, 1)             # (R, C, num_ws, w_dim)
    cells[:, :, indices] = w_cols[None, :, indices]
    return cells.reshape(-1, *w_rows.shape[1:])


def style_mix(sampler, rows: list[int], cols: list[int], styles: str = "coarse",
              look: Look = Look()) -> np.ndarray:
    """The style-mixing grid as uint8 cells (R + 1, C + 1, H, W, C): cell [0, 0] is white,
    [0, c + 1] column seed c's picture, [r + 1, 0] row seed r's, and [r + 1, c + 1] row seed
    r's ws with the `styles` layers from column seed c. Conditional models: the look's class
    for every seed, else seed % num_classes."""
    sampler.need("style_mixing", "style-mix")
    indices = parse_styles(styles, sampler.style_layers())
    for name, seeds in (("rows", rows), ("cols", cols)):
        if not 1 <= len(seeds) <= MAX_SEEDS:
            raise GanvasError(f"give 1 to {MAX_SEEDS} {name} seeds, not {len(seeds)}")
    w_r = sampler.w(rows, look)
    w_c = sampler.w(cols, look)
    ws = torch.cat([w_c, w_r, mix(w_r, w_c, indices)])
    pics = to_uint8(sampler.images_from_w(ws, look))          # (C + R + R*C, H, W, ch)
    n_r, n_c = len(rows), len(cols)
    grid = np.full((n_r + 1, n_c + 1, *pics.shape[1:]), 255, np.uint8)
    grid[0, 1:] = pics[:n_c]
    grid[1:, 0] = pics[n_c:n_c + n_r]
    grid[1:, 1:] = pics[n_c + n_r:].reshape(n_r, n_c, *pics.shape[1:])
    return grid
