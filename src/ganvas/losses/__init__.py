"""GAN losses, registered by name. A loss turns D's logits into D's and G's objectives.

D's objective takes per-sample targets (N,) in [0, 1]: 1 - label_smoothing for reals and 0 for
fakes, with a fraction flipped by label noise. Losses with soft targets (non-saturating,
least-squares) use them as they are; margin losses (hinge, Wasserstein) use only their side
(target > 0.5 means "treat as real"), so label noise works for every loss. Margin losses may
take per-logit margins for reals and fakes (FastGAN's hinge draws them in [0.8, 1]:
`Loss.margin_low`; the trainer draws them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class Loss:
    """d(real_logits, fake_logits, real_targets, fake_targets[, real_margins, fake_margins])
    -> scalar; g(fake_logits) -> scalar. All logits, targets and margins are float (N,): one
    per logit (a patch discriminator's logits each have their sample's target)."""

    d: Callable[..., Tensor]
    g: Callable[[Tensor], Tensor]
    soft_targets: bool = False        # label smoothing means something for this loss
    gradient_penalty: bool = False    # D's step adds gp_lambda * gradient penalty (WGAN-GP)
    margin_low: float = 1.0           # < 1: margins drawn uniformly in [margin_low, 1]


LOSSES: Registry[Loss] = Registry("loss")


def side(targets: Tensor) -> Tensor:
    """Targets in [0, 1] -> +1 (real side) or -1 (fake side)."""
    return torch.where(targets > 0.5, 1.0, -1.0).to(targets.dtype)


def nonsaturating_d(real: Tensor, fake: Tensor, real_t: Tensor, fake_t: Tensor) -> Tensor:
    """Binary cross-entropy of D against its targets (Goodfellow et al. 2014)."""
    return (F.binary_cross_entropy_with_logits(real, real_t)
            + F.binary_cross_entropy_with_logits(fake, fake_t))


def nonsaturating_g(fake: Tensor) -> Tensor:
    """G maximises log D(G(z)), the non-saturating form."""
    return F.softplus(-fake).mean()


def least_squares_d(real: Tensor, fake: Tensor, real_t: Tensor, fake_t: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017) with a = 0 for fakes, b = 1 for reals."""
    return 0.5 * ((real - real_t) ** 2).mean() + 0.5 * ((fake - fake_t) ** 2).mean()


def least_squares_g(fake: Tensor) -> Tensor:
    """G pulls D(G(z)) towards c = 1."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


def hinge_d(real: Tensor, fake: Tensor, real_t: Tensor, fake_t: Tensor,
            real_margin: Tensor | float = 1.0, fake_margin: Tensor | float = 1.0) -> Tensor:
    """max(0, m - D(x)) on reals + max(0, m + D(G(z))) on fakes, m = 1 (Lim & Ye 2017) or
    per-logit margins (FastGAN's code draws m uniformly in [0.8, 1] for every logit)."""
    return (F.relu(real_margin - side(real_t) * real).mean()
            + F.relu(fake_margin - side(fake_t) * fake).mean())


def wasserstein_d(real: Tensor, fake: Tensor, real_t: Tensor, fake_t: Tensor) -> Tensor:
    """The critic minimises D(G(z)) - D(x) (Arjovsky et al. 2017); the gradient penalty that
    keeps it 1-Lipschitz is added by the training step (losses.penalties)."""
    return -(side(real_t) * real).mean() - (side(fake_t) * fake).mean()


def raise_fake_g(fake: Tensor) -> Tensor:
    """G raises D(G(z)): the G objective of hinge and Wasserstein losses."""
    return -fake.mean()


LOSSES.register("nonsaturating")(Loss(d=nonsaturating_d, g=nonsaturating_g, soft_targets=True))
LOSSES.register("least-squares")(Loss(d=least_squares_d, g=least_squares_g, soft_targets=True))
LOSSES.register("hinge")(Loss(d=hinge_d, g=raise_fake_g))
# FastGAN (Liu et al. 2021, its train.py): the hinge with margins rand * 0.2 + 0.8 per logit.
LOSSES.register("random-margin-hinge")(Loss(d=hinge_d, g=raise_fake_g, margin_low=0.8))
LOSSES.register("wgan-gp")(Loss(d=wasserstein_d, g=raise_fake_g, gradient_penalty=True))
