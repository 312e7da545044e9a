"""What an augmentation is (an `Augment` entry) and the helpers the ops share; the ops modules
(classic.py, diffaug.py) build on this, augment/__init__.py registers them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Augment:
    """One registered augmentation: fn(x, gen, **params) -> tensor like x."""

    fn: Callable[..., torch.Tensor]
    reals_only: bool  # True: reals only (classic); False: reals and fakes seen by D (DiffAugment)
    doc: str  # one line, for help texts


def colour_count(channels: int) -> int:
    """How many leading channels carry colour: RGB(A) -> 3, grey (+ alpha) -> 1."""
    return 3 if channels >= 3 else 1


def match_layout(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """y laid out in memory like `like` (channels_last in -> channels_last out)."""
    if like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous():
        return y.contiguous(memory_format=torch.channels_last)
    return y.contiguous()
