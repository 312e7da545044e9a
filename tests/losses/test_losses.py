"""Contract tests over every registered loss, and the penalties checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from ganvas.losses import LOSSES, nonsaturating_d
from ganvas.losses.penalties import gradient_penalty, r1_penalty

LOSS_NAMES = LOSSES.names()


def targets(n, smoothing=0.0):
    return torch.full((n,), 1.0 - smoothing), torch.zeros(n)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_are_finite_scalars_with_finite_gradients(name):
    loss = LOSSES.get(name)
    real = torch.randn(6, requires_grad=True)
    fake = torch.randn(6, requires_grad=True)
    d = loss.d(real, fake, *targets(6))
    g = loss.g(fake)
    assert d.shape == () and g.shape == () and torch.isfinite(d) and torch.isfinite(g)
    (gr, gf) = torch.autograd.grad(d, (real, fake))
    assert torch.isfinite(gr).all() and torch.isfinite(gf).all()


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_d_loss_rewards_a_right_d_and_g_loss_a_fooled_one(name):
    loss = LOSSES.get(name)
    right = loss.d(torch.full((4,), 3.0), torch.full((4,), -3.0), *targets(4))
    wrong = loss.d(torch.full((4,), -3.0), torch.full((4,), 3.0), *targets(4))
    assert right < wrong
    assert loss.g(torch.full((4,), 3.0)) < loss.g(torch.full((4,), -3.0))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_flipped_labels_swap_the_sides(name):
    """Label noise flips targets: a real scored as fake is then 'right'."""
    loss = LOSSES.get(name)
    real, fake = torch.full((4,), -2.0), torch.full((4,), 2.0)
    flipped = loss.d(real, fake, torch.zeros(4), torch.ones(4))
    plain = loss.d(real, fake, *targets(4))
    assert flipped < plain


def test_loss_values_by_hand():
    zero = torch.zeros(4)
    assert LOSSES.get("nonsaturating").d(zero, zero, *targets(4)).item() == \
        pytest.approx(2 * math.log(2))
    assert LOSSES.get("least-squares").d(zero, zero, *targets(4)).item() == pytest.approx(0.5)
    assert LOSSES.get("hinge").d(zero, zero, *targets(4)).item() == pytest.approx(2.0)
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5])
    assert LOSSES.get("wgan-gp").d(r, f, *targets(2)).item() == pytest.approx(0.0 - 2.0)
    assert LOSSES.get("hinge").d(r, f, *targets(2)).item() == pytest.approx(0 + 1.0)


def test_label_smoothing_is_one_sided():
    real, fake = torch.zeros(4), torch.zeros(4)
    confident = torch.full((4,), 8.0)                      # D very sure reals are real
    assert nonsaturating_d(confident, fake, *targets(4, 0.1)) > \
        nonsaturating_d(confident, fake, *targets(4))
    # fakes keep target 0: smoothing changes only the real term
    diff = (nonsaturating_d(real, torch.full((4,), 3.0), *targets(4, 0.1))
            - nonsaturating_d(real, fake, *targets(4, 0.1)))
    assert diff.item() == pytest.approx(math.log1p(math.exp(3.0)) - math.log(2.0), rel=1e-5)


def test_gradient_penalty_by_hand():
    # D(x) = sum(w * x): the gradient is w everywhere, so the penalty is (|w| - 1)^2.
    w = torch.tensor([3.0, 4.0, 0.0, 0.0]).view(1, 1, 2, 2)
    linear = lambda x: (x * w).sum(dim=(1, 2, 3))  # noqa: E731
    reals, fakes = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    gp = gradient_penalty(linear, reals, fakes, torch.rand(5))
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2)
    # D(x) = 0.5 |x|^2: the gradient is x_hat itself; alpha picks the point on the line.
    square = lambda x: 0.5 * x.pow(2).sum(dim=(1, 2, 3))  # noqa: E731
    reals = torch.tensor([2.0, 0, 0, 0]).view(1, 1, 2, 2)
    fakes = torch.tensor([0.0, 0, 0, 1.0]).view(1, 1, 2, 2)
    gp = gradient_penalty(square, reals, fakes, torch.tensor([0.25]))
    x_hat_norm = math.hypot(0.25 * 2.0, 0.75 * 1.0)
    assert gp.item() == pytest.approx((x_hat_norm - 1.0) ** 2)


def test_gradient_penalty_trains_d():
    w = torch.full((1, 1, 2, 2), 2.0, requires_grad=True)
    gp = gradient_penalty(lambda x: (x * w).sum(dim=(1, 2, 3)),
                          torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2), torch.rand(3))
    (grad,) = torch.autograd.grad(gp, w)
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| with |w| = 4
    assert torch.allclose(grad, torch.full_like(w, 2 * 3.0 * 2.0 / 4.0))


def test_r1_penalty_by_hand():
    reals = torch.randn(3, 1, 2, 2, requires_grad=True)
    w = torch.tensor([1.0, -2.0, 0.5, 0.0]).view(1, 1, 2, 2)
    logits = (reals * w).sum(dim=(1, 2, 3))
    assert r1_penalty(logits, reals).item() == pytest.approx(1 + 4 + 0.25)


def test_random_margin_hinge_is_fastgans():
    """FastGAN's train.py: relu(rand * 0.2 + 0.8 - D(x)) on reals and relu(rand * 0.2 + 0.8 +
    D(G(z))) on fakes, one margin per logit; margins of 1 are the plain hinge."""
    loss, hinge = LOSSES.get("random-margin-hinge"), LOSSES.get("hinge")
    assert loss.margin_low == 0.8 and hinge.margin_low == 1.0
    real, fake = torch.tensor([0.9, 0.7, -1.0, 2.0]), torch.tensor([-0.9, -0.85, 0.5, -3.0])
    m_real, m_fake = torch.tensor([0.8, 0.95, 1.0, 0.9]), torch.tensor([1.0, 0.8, 0.85, 0.9])
    by_hand = (torch.clamp(m_real - real, min=0).mean()
               + torch.clamp(m_fake + fake, min=0).mean())
    assert torch.allclose(loss.d(real, fake, *targets(4), m_real, m_fake), by_hand)
    assert torch.allclose(loss.d(real, fake, *targets(4), torch.ones(4), torch.ones(4)),
                          hinge.d(real, fake, *targets(4)))
    assert loss.g(fake) == hinge.g(fake)
