"""StyleGAN3's parts against independent references: the Kaiser-windowed filters against
scipy's filter design, the polyphase upsampling against zero insertion, the layer schedule
against the paper's numbers, the magnitude EMA, bfloat16 autocast against float32, and the
blur StyleGAN3-R's recipe puts on D's inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganvas.config.resolve import preset
from ganvas.config.schema import ModelConfig
from ganvas.errors import ConfigError
from ganvas.models import MODELS, build_generator, check_model
from ganvas.models.stylegan3 import schedule
from ganvas.models.stylegan3_layers import (_filter_axes, lowpass_taps, radial_taps,
                                            upsample_filter, upsample_pad)
from ganvas.training.trainer import blur_images


def small(family="stylegan3-t", **kw) -> ModelConfig:
    opts = dict(family=family, resolution=32, z_dim=16, w_dim=16, mapping_layers=2, g_width=8,
                d_width=8, max_width=16, d_norm="none", synthesis_layers=5, synthesis_margin=3,
                conv_clamp=256.0)
    return ModelConfig(**{**opts, **kw})


@pytest.mark.parametrize("numtaps,cutoff,width,fs", [(12, 2.0, 2.6, 32), (24, 5.7, 3.1, 64),
                                                     (12, 16.0, 7.0, 64)])
def test_the_filters_are_scipys_kaiser_designs(numtaps, cutoff, width, fs):
    signal = pytest.importorskip("scipy.signal")
    special = pytest.importorskip("scipy.special")
    ours = lowpass_taps(numtaps, cutoff, width, fs).double().numpy()
    theirs = signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
    assert np.abs(ours - theirs).max() < 1e-7
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    beta = signal.kaiser_beta(signal.kaiser_atten(numtaps, width / (fs / 2)))
    jinc = special.j1(2 * cutoff * np.pi * r) / (np.pi * r) * np.outer(*[np.kaiser(numtaps,
                                                                                   beta)] * 2)
    assert np.abs(radial_taps(numtaps, cutoff, width, fs).double().numpy()
                  - jinc / jinc.sum()).max() < 1e-7
    assert lowpass_taps(1, cutoff, width, fs) is None


@pytest.mark.parametrize("up,padding", [(2, (9, 8, 9, 8)), (4, (-6, -9, -6, -9)),
                                        (2, (30, 2, -3, 40))])
def test_polyphase_upsampling_is_zero_insertion_then_filtering(up, padding):
    x = torch.randn(2, 3, 20, 13, dtype=torch.float64)
    f = lowpass_taps(6 * up, 3.0, 2.0, 16.0 * up).double()
    expected = _filter_axes(upsample_pad(x, up, padding), f, float(up), 1)
    got = upsample_filter(x, f, up, padding)
    assert got.shape == expected.shape and (got - expected).abs().max() < 1e-12


def test_the_schedule_is_the_papers():
    s = schedule(ModelConfig(family="stylegan3-t", resolution=1024, g_width=32, max_width=512,
                             w_dim=512, mapping_layers=2, d_norm="none"))
    # Config T at 1024 px (paper, fig. 4 and table 1's setup): cutoffs from 2 to 512 reached
    # two layers before the end, sampling rates 16 .. 1024, channels 512 down to 64 at the top.
    assert s["cutoffs"][0] == 2 and s["cutoffs"][-3:].tolist() == [512] * 3
    assert s["rates"][0] == 16 and s["rates"][-1] == 1024
    assert s["channels"][0] == 512 and s["channels"][-2] == 32 and s["channels"][-1] == 3
    assert np.all(np.diff(s["cutoffs"]) >= 0)


def test_magnitude_ema_moves_in_training_only():
    cfg = small(magnitude_ema_beta=0.5)
    G = build_generator(cfg)
    z = torch.randn(4, cfg.z_dim)
    with torch.no_grad():
        G.eval()(z)
        assert all(layer.magnitude_ema.item() == 1 for layer in G.synthesis.layers)
        first = G.synthesis.input(G.mapping(z)[:, 0])
        G.train()(z)
    magnitude = first.square().mean().item()
    assert G.synthesis.layers[0].magnitude_ema.item() == pytest.approx(0.5 + 0.5 * magnitude,
                                                                       rel=1e-5)


@pytest.mark.parametrize("family", ["stylegan3-t", "stylegan3-r"])
def test_bfloat16_autocast_computes_the_float32_picture(family):
    torch.manual_seed(0)
    G = build_generator(small(family)).train()
    z = torch.randn(4, 16)
    torch.manual_seed(1)
    reference = G(z)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        img = G(z)
    img.float().square().mean().backward()
    assert img.dtype == torch.float32
    assert (img - reference).abs().max() < 0.05 * reference.abs().max()
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


def test_the_r_recipe_blurs_and_fields_are_checked():
    r = preset("stylegan3-r", resolution=256, batch=32).config
    assert (r.train.blur_sigma, r.train.blur_fade_kimg) == (10.0, 200.0)
    assert (r.model.g_width, r.model.g_max_width, r.model.max_width) == (256, 1024, 512)
    assert r.model.magnitude_ema_beta == 0.5 ** (32 / 20_000)
    assert preset("stylegan3-t", resolution=256).config.train.blur_sigma == 0
    with pytest.raises(ConfigError, match="synthesis-layers"):
        check_model(small(synthesis_layers=2))
    with pytest.raises(ConfigError, match="magnitude-ema-beta"):
        check_model(small(magnitude_ema_beta=1.0))
    with pytest.raises(ConfigError, match="--synthesis-layers: not an option of stylegan2"):
        check_model(ModelConfig(family="stylegan2", resolution=32, synthesis_layers=6,
                                d_norm="none"))


def test_blur_is_a_normalised_gaussian_of_base_two():
    x = torch.zeros(1, 1, 41, 41, dtype=torch.float64)
    x[0, 0, 20, 20] = 1
    sigma = 2.5
    y = blur_images(x, sigma)[0, 0]
    k = np.arange(-7, 8)                                    # 3 sigma, whole pixels
    f = 2.0 ** -((k / sigma) ** 2)
    f /= f.sum()
    assert np.abs(y[13:28, 13:28].numpy() - np.outer(f, f)).max() < 1e-8     # float32 taps
    assert y.sum().item() == pytest.approx(1.0) and y[12].abs().max() == 0
    assert blur_images(x, 0.2) is x                         # under one whole pixel: no blur
    assert math.isclose(blur_images(x, 0.4).sum().item(), 1.0, abs_tol=1e-6)


@pytest.mark.parametrize("family", ["stylegan3-t", "stylegan3-r"])
def test_input_transform_moves_and_turns_the_picture(family):
    torch.manual_seed(0)
    G = build_generator(small(family, synthesis_margin=10)).eval()    # the paper's margin
    assert MODELS.get(family).capabilities.input_transform
    z = torch.randn(2, 16)
    with torch.no_grad():
        a = G.synthesize(z)
        G.input_transform((4 / 32, 0))                  # 4 px right at 32 px
        right = G.synthesize(z)
        G.input_transform((0, -4 / 32))                 # 4 px up
        up = G.synthesize(z)
        G.input_transform(rotate=90)
        turned = G.synthesize(z)
        G.input_transform()
        assert torch.equal(G.synthesize(z), a)
    inner = a[..., 8:24, 8:24]
    assert (right[..., 8:24, 12:28] - inner).abs().max() < 1e-4        # whole pixels: exact
    assert (up[..., 4:20, 8:24] - inner).abs().max() < 1e-4
    assert (right[..., 8:24, 8:24] - inner).abs().max() > 0.1 * a.abs().max()   # it moved
    if family == "stylegan3-r":                         # rotation equivariant: exactly a turn
        assert (turned - torch.rot90(a, 1, dims=(2, 3))).abs().max() < 1e-4
    with pytest.raises(ConfigError, match="finite"):
        G.input_transform((float("nan"), 0))
    assert not MODELS.get("stylegan2").capabilities.input_transform


def test_a_look_translates_and_rotates_through_the_verbs(tmp_path, capsys):
    """--translate / --rotate (a Look): the pictures of G with that input transform, G as it
    was afterwards; a model without an input transform refuses them in one line."""
    import ganvas
    from ganvas.api import Model
    from ganvas.cli import main
    from ganvas.export import export_safetensors
    from tests.helpers import usage_error
    torch.manual_seed(0)
    from ganvas.checkpoint import model_info
    cfg = small(synthesis_margin=10)
    G = build_generator(cfg).eval().requires_grad_(False)
    model = Model(G, model_info(cfg, 0, {}), tmp_path / "m")
    plain = model.generate([0, 1])
    moved = model.generate([0, 1], look=ganvas.Look(translate=(0.125, 0), rotate=0))
    assert np.array_equal(model.generate([0, 1]), plain)            # G restored
    assert np.array_equal(moved[:, 8:24, 12:28], plain[:, 8:24, 8:24])  # 4 px right
    folder = export_safetensors(model, tmp_path / "exported")
    assert main(["generate", str(folder), "--seeds", "0-1", "--rotate", "90",
                 "--translate", "0,0.125", "--out", str(tmp_path / "pics")]) == 0
    assert main(["interpolate", str(folder), "--seeds", "0,1", "--frames", "2",
                 "--translate", "0.25,0", "--out", str(tmp_path / "walk.gif")]) == 0
    with pytest.raises(ganvas.GanvasError, match="translate must be finite"):
        ganvas.Look(translate=(float("inf"), 0))
    with pytest.raises(SystemExit) as exit_:
        main(["generate", str(folder), "--translate", "1"])
    assert exit_.value.code == 2 and "need X,Y" in capsys.readouterr().err
    dc_cfg = preset("dcgan-tiny").config.model
    dc = export_safetensors(Model(build_generator(dc_cfg).eval(), model_info(dc_cfg, 0, {}),
                                  tmp_path / "d"), tmp_path / "dc")
    line = usage_error(["generate", str(dc), "--rotate", "10", "--out", str(tmp_path / "x")],
                       capsys)
    assert "--translate / --rotate needs a model with input transform" in line
