"""NVlabs' PyTorch StyleGAN2 onto ganvas's stylegan2 family: the numbers NVlabs computed on its
fixtures (ws with truncation 1 and 0.7, D's logits), and one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganvas.convert.stylegan2 import discriminator_state, generator_state, stylegan2_config
from ganvas.errors import GanvasError
from ganvas.models.stylegan2 import Discriminator, Generator
from ganvas.nvlabs import read_network_pickle
from tests.nvlabs.test_fixtures import FIXTURES

needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason="NVlabs fixtures absent (set "
                                    "GANVAS_NVLABS_FIXTURES or put shared/ beside the "
                                    "repository)")
TORCH_SG2 = ["sg2ada-32", "sg2ada-32-cond", "sg3-stylegan2-32"]


def _converted(name):
    net = read_network_pickle(FIXTURES / f"{name}.pkl")
    cfg = stylegan2_config(net.G_ema.init_kwargs, net.D.init_kwargs)
    G, D = Generator(cfg).eval(), Discriminator(cfg).eval()
    G.load_state_dict(generator_state(net.G_ema.state_dict, cfg))
    D.load_state_dict(discriminator_state(net.D.state_dict, cfg))
    return cfg, G, D, np.load(FIXTURES / f"{name}.expected.npz")


@needs_fixtures
@pytest.mark.parametrize("name", TORCH_SG2)
def test_ws_and_d_logits_equal_nvlabs(name):
    cfg, G, D, e = _converted(name)
    assert (cfg.resolution, cfg.z_dim, cfg.w_dim, cfg.g_width, cfg.max_width) == (32, 64, 64,
                                                                                64, 64)
    c = torch.from_numpy(e["c"])
    labels = c.argmax(1) if cfg.num_classes else None
    assert cfg.num_classes == c.shape[1]
    with torch.no_grad():
        ws = G.to_w(torch.from_numpy(e["z"]), labels)
        ws07 = G.to_w(torch.from_numpy(e["z"]), labels, 0.7)
        logits = D(torch.from_numpy(e["d_input"]), labels)
    assert np.abs(ws.numpy() - e["ws"]).max() < 1e-5
    assert np.abs(ws07.numpy() - e["ws_psi07"]).max() < 1e-5
    assert np.abs(logits.numpy() - e["d_logits"][:, 0]).max() < 1e-5


@needs_fixtures
def test_the_stylegan3_discriminator_is_stylegan2s():
    net = read_network_pickle(FIXTURES / "sg3t-32.pkl")
    e = np.load(FIXTURES / "sg3t-32.expected.npz")
    cfg = stylegan2_config({"z_dim": 64, "w_dim": 64, "img_resolution": 32,
                            "channel_base": 2048, "channel_max": 64}, net.D.init_kwargs)
    D = Discriminator(cfg).eval()
    D.load_state_dict(discriminator_state(net.D.state_dict, cfg))
    with torch.no_grad():
        logits = D(torch.from_numpy(e["d_input"]))
    assert np.abs(logits.numpy() - e["d_logits"][:, 0]).max() < 1e-5


G_KWARGS = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 32, "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2},
            "synthesis_kwargs": {"channel_base": 256, "channel_max": 8}}


@pytest.mark.parametrize("change, words", [
    ({"synthesis_kwargs": {"channel_base": 256, "architecture": "resnet"}}, "architecture"),
    ({"mapping_kwargs": {"lr_multiplier": 1.0}}, "lr_multiplier"),
    ({"synthesis_kwargs": {"channel_base": 100}}, "not a multiple"),
    ({"magnitude_ema_beta": 0.99}, "'magnitude_ema_beta'"),
])
def test_arguments_ganvas_cannot_follow_are_named(change, words):
    with pytest.raises(GanvasError, match=words):
        stylegan2_config({**G_KWARGS, **change}, None)


def test_a_shape_that_does_not_match_the_architecture_is_refused():
    cfg = stylegan2_config(G_KWARGS, None)
    sd = {f"mapping.{k}": v for k, v in {
        "w_avg": torch.zeros(8), "fc0.weight": torch.zeros(8, 8), "fc0.bias": torch.zeros(8),
        "fc1.weight": torch.zeros(8, 8), "fc1.bias": torch.zeros(8)}.items()}
    ours = Generator(cfg).state_dict()
    for key, tensor in ours.items():
        if key.startswith("synthesis.blocks."):
            i, rest = key[len("synthesis.blocks."):].split(".", 1)
            sd[f"synthesis.b{4 * 2 ** int(i)}.{rest}"] = torch.zeros(tensor.shape)
    generator_state(sd, cfg)                                  # the right shapes convert
    sd["synthesis.b8.conv1.weight"] = torch.zeros(8, 8, 3, 4)
    with pytest.raises(GanvasError, match=r"synthesis.blocks.1.conv1.weight has shape"):
        generator_state(sd, cfg)
    del sd["mapping.fc1.bias"]
    with pytest.raises(GanvasError, match="G lacks mapping.fc1.bias"):
        generator_state(sd, cfg)


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


@needs_fixtures
@pytest.mark.parametrize("name", TORCH_SG2)
def test_images_differ_from_nvlabs_only_by_random_noise(name):
    """The fixtures' StyleGAN2 images carry noise drawn afresh per call (their README says
    noise_mode='const', but the const noise would be shared by every sample): nothing can
    equal them. Without noise, what is left of the difference must be that noise alone:
    uncorrelated between the psi=1 and psi=0.7 images of the same z (an architecture mismatch,
    such as an unflipped upsampling kernel, leaves a shared residual: correlation ~0.7)."""
    cfg, G, D, e = _converted(name)
    with torch.no_grad():
        r1 = torch.from_numpy(e["img_psi1"]) - G.from_w(torch.from_numpy(e["ws"]), "none")
        r07 = torch.from_numpy(e["img_psi07"]) - G.from_w(torch.from_numpy(e["ws_psi07"]),
                                                          "none")
        plain = G.from_w(torch.from_numpy(e["ws"]), "none")
        const = G.from_w(torch.from_numpy(e["ws"]), "const") - plain
    assert abs(_corr(r1, r07)) < 0.2 and abs(_corr(r1[0], r1[1])) < 0.2
    assert _corr(const[0], const[1]) > 0.3          # const noise would be shared
    assert _corr(torch.from_numpy(e["img_psi1"]), plain) > 0.8
