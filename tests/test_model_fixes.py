"""Quality fixes in the models and ADA, each checked against what the reference does: the
float16 overflow guard of the modulated convolution, the conditional DCGAN's class embedding
scale, ADA's filter group, and the depth of StyleGAN2 D's class mapping."""

from __future__ import annotations

import pytest
import torch

import ganvas.models.stylegan2_layers as L


@pytest.mark.parametrize("up", [False, True])
def test_float16_modulated_conv_survives_large_styles(up):
    """Styles of 3e4 overflow float16 in x * styles and in the convolution's sums; the
    pre-scaling (cancelled by demodulation) keeps the result finite and equal to float32's."""
    torch.manual_seed(0)
    x, weight = torch.randn(2, 64, 8, 8), torch.randn(32, 64, 3, 3)
    styles = torch.randn(2, 64) * 3e4
    f = L.lowpass_filter()
    want = L.modulated_conv2d(x, weight, styles, up=up, f=f, fused=False)
    got = L.modulated_conv2d(x.half(), weight, styles, up=up, f=f, fused=False)
    assert got.dtype == torch.float16 and torch.isfinite(got).all()
    assert torch.allclose(got.float(), want, atol=2e-2, rtol=1e-2)


def test_fp16_prescale_bounds_weight_and_styles():
    weight, styles = torch.randn(4, 3, 3, 3) * 50, torch.randn(2, 3) * 1e4
    w, s = L.prescale_for_fp16(weight, styles)
    assert torch.allclose(w.abs().amax(dim=(1, 2, 3)), torch.full((4,), 1 / 27 ** 0.5))
    assert torch.allclose(s.abs().amax(dim=1), torch.ones(2))
    # An all-zero style row stays zero rather than 0/0.
    assert torch.equal(L.prescale_for_fp16(weight, torch.zeros(1, 3))[1], torch.zeros(1, 3))
