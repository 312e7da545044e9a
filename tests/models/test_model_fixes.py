"""Quality fixes in the models and ADA, each checked against what the reference does: the
float16 overflow guard of the modulated convolution, the conditional DCGAN's class embedding
scale, ADA's filter group, and the depth of StyleGAN2 D's class mapping."""

from __future__ import annotations

import pytest
import torch

import ganvas.models.stylegan2_layers as L
from ganvas.augment.ada import AugmentPipe
from ganvas.config.schema import ModelConfig
from ganvas.models import build_discriminator, build_generator


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


def test_conditional_dcgan_class_embedding_starts_at_z_scale():
    """G's class embedding is concatenated to z ~ N(0, 1): it starts N(0, 1) too. D's
    projection embedding keeps the DCGAN N(0, 0.02) of the output layer it adds to."""
    torch.manual_seed(0)
    cfg = ModelConfig(family="dcgan", resolution=16, z_dim=64, g_width=4, d_width=4,
                      max_width=16, num_classes=10)
    g_std = build_generator(cfg).class_embedding.weight.std().item()
    d_std = build_discriminator(cfg).embed.weight.std().item()
    assert 0.9 < g_std < 1.1
    assert 0.015 < d_std < 0.025


def filter_pipe(p: float) -> AugmentPipe:
    pipe = AugmentPipe("f")
    pipe.p = p
    return pipe


def test_filter_bands_have_their_own_coins():
    """Each band is amplified with its own coin of probability p: a sample is left alone with
    probability (1 - p)^4 = 1/16 at p = 0.5, not 1/2 as with one coin for all four."""
    x = torch.rand(256, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = filter_pipe(0.5)(x, torch.Generator().manual_seed(2))
    untouched = ((y - x).abs().flatten(1).amax(dim=1) < 1e-5).float().mean().item()
    assert 0.01 < untouched < 0.15


def test_filter_gains_are_normalised_under_the_fixed_spectrum():
    from ganvas.augment.ada import FILTER_EXPECTED_POWER, normalised_band_gains
    t = torch.exp2(torch.randn(5, 4, generator=torch.Generator().manual_seed(3),
                               dtype=torch.float64))
    e = torch.tensor(FILTER_EXPECTED_POWER, dtype=torch.float64)
    # The reference's steps: band i's vector (1, .., t_i, .., 1) over its norm under e.
    want = torch.ones(5, 4, dtype=torch.float64)
    for i in range(4):
        step = torch.ones(5, 4, dtype=torch.float64)
        step[:, i] = t[:, i]
        want = want * step / (e * step.square()).sum(dim=1, keepdim=True).sqrt()
    assert torch.allclose(normalised_band_gains(t), want, rtol=1e-12)
    # One amplified band keeps the assumed spectrum's expected power.
    one = torch.tensor([[1.0, 3.0, 1.0, 1.0]], dtype=torch.float64)
    power = (e * normalised_band_gains(one).square()).sum()
    assert abs(power.item() - 1) < 1e-12


def test_filter_does_not_depend_on_the_image():
    """The gains do not read the image's spectrum: with the same draws the filter is linear."""
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(8, 3, 16, 16, generator=g), torch.randn(8, 3, 16, 16, generator=g)
    f = filter_pipe(1.0)

    def run(x):
        return f(x, torch.Generator().manual_seed(5))
    assert torch.allclose(run(2 * a + 0.5 * b), 2 * run(a) + 0.5 * run(b), atol=1e-4)


def test_conditional_stylegan2_d_maps_classes_through_8_layers():
    """D's class mapping has the reference's own depth, whatever G's mapping_layers."""
    cfg = ModelConfig(family="stylegan2", resolution=32, z_dim=32, w_dim=32, mapping_layers=2,
                      g_width=8, d_width=16, max_width=32, num_classes=3)
    D = build_discriminator(cfg)
    assert len(D.cmap_layers) == 8
    assert len(build_generator(cfg).mapping.layers) == 2
