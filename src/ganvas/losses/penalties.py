"""Penalties on D's gradient: the WGAN-GP gradient penalty and R1."""

from __future__ import annotations

from typing import Callable

import torch

Tensor = torch.Tensor


def gradient_penalty(D: Callable[[Tensor], Tensor], reals: Tensor, fakes: Tensor,
                     alpha: Tensor) -> Tensor:
    """Gulrajani et al. 2017: E[(|grad D(x_hat)|_2 - 1)^2] at x_hat = alpha*real + (1-alpha)*fake.

    reals, fakes: (N, C, H, W); alpha: (N,) in [0, 1]; D: images -> logits (N,). Differentiable
    (create_graph) so that the penalty trains D."""
    a = alpha.to(reals.dtype).view(-1, 1, 1, 1)
    x_hat = (a * reals.detach() + (1 - a) * fakes.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).float().sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).float().norm(dim=1) - 1.0) ** 2).mean()


def r1_penalty(real_logits: Tensor, reals: Tensor) -> Tensor:
    """Mescheder et al. 2018: E[|grad D(x)|^2] on reals (the caller scales it by gamma / 2).
    `reals` must have required grad when `real_logits` was computed from it."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), reals, create_graph=True)
    return grad.flatten(1).float().pow(2).sum(dim=1).mean()
