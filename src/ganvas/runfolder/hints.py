"""The health flags training records in stats.jsonl ("flags" of a tick), each with the one-line
hint the console shows when it is first raised and the report shows beside it. What raises
them is training/health.py; a run's files keep only the flag names, so readers explain them
from here without importing training."""

from __future__ import annotations

HINTS = {
    "nonfinite": "losses became NaN/Inf: rolled back to the last good snapshot with lower "
                 "learning rates; if it repeats, lower --lr-g/--lr-d or use --loss hinge",
    "d_won": "D separates reals from fakes perfectly and G's loss keeps rising: lower --lr-d, "
             "add --diffaug color,translation,cutout or --label-smoothing 0.1",
    "mode_collapse": "the fixed samples are becoming near copies of each other (mode "
                     "collapse; 'diversity' in the tick lines): look at the newest grid; try "
                     "--loss hinge or wgan-gp, a lower --lr-g, or --diffaug",
}
