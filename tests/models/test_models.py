"""Contract tests over every registered model family: shapes, ranges, gradients, save/load."""

from __future__ import annotations

import pytest
import torch

from ganvas.checkpoint import load_module, save_module
from ganvas.config.schema import ModelConfig
from ganvas.errors import ConfigError
from ganvas.models import MODELS, build_discriminator, build_generator, check_model

FAMILIES = MODELS.names()
# Every family is tested plain and in the variants the presets use: conditional, a critic
# without batch norm, spectral normalisation.
VARIANTS = {"plain": {}, "conditional": {"num_classes": 3}, "layer-norm": {"d_norm": "layer"},
            "sn-no-norm": {"d_norm": "none", "spectral_norm": True},
            "cond-sn": {"num_classes": 2, "spectral_norm": True, "d_norm": "layer"}}
# Variants a family has no option for: StyleGAN2's D has no d_norm and no spectral norm.
UNSUPPORTED = {"stylegan2": {"layer-norm", "sn-no-norm", "cond-sn"}}
CASES = [pytest.param(f, v, id=f"{f}-{name}",
                      marks=[pytest.mark.skip(reason=f"{f} has no such option")]
                      if name in UNSUPPORTED.get(f, ()) else [])
         for f in FAMILIES for name, v in VARIANTS.items()]


def tiny_cfg(family, resolution=None, channels=3, **variant):
    """A tiny config; resolution None = the family's smallest (16 at least); a resolution below
    the family's smallest skips the test."""
    low = MODELS.get(family).resolutions[0]
    if resolution is None:
        resolution = max(low, 16)
    elif resolution < low:
        pytest.skip(f"{family} starts at {low} px")
    return ModelConfig(family=family, resolution=resolution, channels=channels, z_dim=8,
                       g_width=4, d_width=4, max_width=16, w_dim=8, mapping_layers=2, **variant)


def assert_image_range(family, x):
    """DCGAN ends in tanh: [-1, 1]. StyleGAN2's output is linear (about [-1, 1] once trained;
    a few units at initialisation): finite and not blown up."""
    if family == "dcgan":
        assert x.min() >= -1 and x.max() <= 1
    else:
        assert torch.isfinite(x).all() and x.abs().max() < 50


def labels_for(cfg, n):
    return torch.arange(n) % cfg.num_classes if cfg.num_classes else None


@pytest.mark.parametrize("family,variant", CASES)
@pytest.mark.parametrize("resolution,channels", [(16, 1), (32, 3), (64, 4)])
def test_shapes_and_range(family, variant, resolution, channels):
    cfg = tiny_cfg(family, resolution, channels, **variant)
    G, D = build_generator(cfg), build_discriminator(cfg)
    y = labels_for(cfg, 3)
    x = G(torch.randn(3, cfg.z_dim), y)
    assert x.shape == (3, channels, resolution, resolution)
    assert_image_range(family, x)
    out = D(x, y)                         # one logit per sample, or patch logits (N, P)
    assert out.shape[0] == 3 and out.dim() in (1, 2) and torch.isfinite(out).all()
    assert len(D.blocks) >= 1                       # FreezeD needs D's blocks


@pytest.mark.parametrize("family,variant", CASES)
def test_gradients_are_finite_and_reach_every_parameter(family, variant):
    cfg = tiny_cfg(family, **variant)
    G, D = build_generator(cfg), build_discriminator(cfg)
    y = labels_for(cfg, 4)
    caps = MODELS.get(family).capabilities
    z = torch.randn(4, cfg.z_dim)
    x = G.views(z, y) if caps.two_views else G(z, y)          # what D sees of G in training
    loss = D(x, y).mean()
    if caps.d_reconstruction:                                  # D's decoders learn from this
        logits, pairs = D.reconstruct(torch.rand(4, 3, cfg.resolution, cfg.resolution), y)
        loss = loss + logits.mean() + sum((a - b).abs().mean() for a, b in pairs)
    loss.backward()
    for net in (G, D):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("family,variant", CASES)
def test_save_load_gives_identical_outputs(family, variant, tmp_path):
    cfg = tiny_cfg(family, **variant)
    y = labels_for(cfg, 8)
    for build in (build_generator, build_discriminator):
        net = build(cfg)
        x = (torch.randn(8, cfg.z_dim) if build is build_generator
             else torch.rand(8, 3, cfg.resolution, cfg.resolution))
        net(x, y)             # move batch-norm statistics and spectral-norm vectors off init
        save_module(net, tmp_path / "net.safetensors")
        net2 = load_module(build(cfg), tmp_path / "net.safetensors")
        assert torch.equal(net.eval()(x[:5], y if y is None else y[:5]),
                           net2.eval()(x[:5], y if y is None else y[:5]))


@pytest.mark.parametrize("family,variant", CASES)
def test_seeded_construction_is_deterministic(family, variant):
    cfg = tiny_cfg(family, **variant)
    torch.manual_seed(3)
    a = build_generator(cfg).state_dict()
    torch.manual_seed(3)
    b = build_generator(cfg).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dcgan_init_and_layers_follow_the_paper():
    G = build_generator(ModelConfig(resolution=64))
    D = build_discriminator(ModelConfig(resolution=64))
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]   # Radford et al. 64x64
    w = torch.cat([c.weight.flatten() for c in convs])
    assert abs(w.std().item() - 0.02) < 0.002
    assert isinstance(list(G.modules())[-1], torch.nn.Tanh)
    assert any(isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.2 for m in D.modules())


@pytest.mark.parametrize("bad, message", [
    (dict(resolution=48), "resolution must be a power of two from 16 to 256 for dcgan, not 48"),
    (dict(resolution=8), "from 16 to 256 for dcgan, not 8"),
    (dict(resolution=512), "from 16 to 256 for dcgan, not 512"),
    (dict(channels=2), "channels must be 1, 3 or 4, not 2"),
    (dict(z_dim=0), "z_dim must be at least 1"),
    (dict(family="nope"), "unknown model family 'nope'; choose from: dcgan, stylegan2")])
def test_bad_model_config_is_a_clear_error(bad, message):
    with pytest.raises(ConfigError, match=message):
        check_model(ModelConfig(**bad))


def test_conditional_models_use_the_label():
    cfg = tiny_cfg("dcgan", num_classes=3)
    G, D = build_generator(cfg).eval(), build_discriminator(cfg).eval()
    z = torch.randn(2, cfg.z_dim).repeat(2, 1)
    x = G(z, torch.tensor([0, 0, 1, 1]))
    assert not torch.allclose(x[0], x[2])            # same z, another class
    same = x[:1].repeat(2, 1, 1, 1)
    assert not torch.allclose(*D(same, torch.tensor([0, 2])).unbind())
    with pytest.raises(ValueError, match="conditional"):
        G(z)


def test_critic_variants_have_no_batch_norm():
    for norm in ("layer", "none"):
        D = build_discriminator(tiny_cfg("dcgan", d_norm=norm))
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    D = build_discriminator(tiny_cfg("dcgan", spectral_norm=True))
    assert any("parametrizations" in name for name, _ in D.named_parameters())
