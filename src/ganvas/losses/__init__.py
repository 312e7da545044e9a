"""GAN losses, registered by name. A loss turns D's logits into D's and G's objectives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..registry import Registry


@dataclass(frozen=True)
class Loss:
    """d(real_logits, fake_logits, smoothing) -> scalar; g(fake_logits) -> scalar."""

    d: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]


LOSSES: Registry[Loss] = Registry("loss")


def nonsaturating_d(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Binary cross-entropy of D with target 1 - smoothing for reals (one-sided label
    smoothing, Salimans et al. 2016) and 0 for fakes; logits (N,) -> mean over the batch."""
    target = torch.full_like(real, 1.0 - smoothing)
    return (F.binary_cross_entropy_with_logits(real, target)
            + F.softplus(fake).mean())


def nonsaturating_g(fake: torch.Tensor) -> torch.Tensor:
    """G maximises log D(G(z)) (Goodfellow et al. 2014's non-saturating form)."""
    return F.softplus(-fake).mean()


LOSSES.register("nonsaturating")(Loss(d=nonsaturating_d, g=nonsaturating_g))
