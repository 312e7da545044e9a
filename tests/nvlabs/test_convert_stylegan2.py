"""NVlabs' PyTorch StyleGAN2 onto ganvas's stylegan2 family: the numbers NVlabs computed on its
fixtures (ws with truncation 1 and 0.7, D's logits, images with constant noise), and one-line
refusals."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

from ganvas.convert import convert_pickle
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


DATA = Path(__file__).parent / "data"
ALL_SG2 = [*TORCH_SG2, "tf-sg2-32"]


@functools.lru_cache(maxsize=None)
def _g_ema(name):
    converted = convert_pickle(read_network_pickle(FIXTURES / f"{name}.pkl"))
    return converted.cfg, converted.G_ema


def _generator(name):
    cfg, state = _g_ema(name)
    G = Generator(cfg).eval()
    G.load_state_dict(state)
    return G, np.load(FIXTURES / f"{name}.expected.npz")


@functools.lru_cache(maxsize=None)
def _images(name):
    """ganvas's images of the fixture's ws (then ws_psi07: 8 samples) in each noise mode."""
    G, e = _generator(name)
    ws = torch.from_numpy(np.concatenate([e["ws"], e["ws_psi07"]]))
    with torch.no_grad():
        torch.manual_seed(0)
        return {mode: G.from_w(ws, mode).numpy() for mode in ("const", "none", "random")}


def _nvlabs_const(name, e):
    """NVlabs' images with noise_mode='const' (data/README.md): tf-sg2-32's fixture images are
    those already (equal to 0 max abs difference), the others' are in data/."""
    return e if name == "tf-sg2-32" else np.load(DATA / f"{name}.const.npz")


@needs_fixtures
@pytest.mark.parametrize("name", ALL_SG2)
def test_images_equal_nvlabs_with_constant_noise(name):
    e = np.load(FIXTURES / f"{name}.expected.npz")
    ref = _nvlabs_const(name, e)
    ours = _images(name)["const"]
    assert np.abs(ours[:4] - ref["img_psi1"]).max() < 1e-4
    assert np.abs(ours[4:] - ref["img_psi07"]).max() < 1e-4


@needs_fixtures
def test_the_other_noise_modes_still_work():
    G, e = _generator("tf-sg2-32")
    ws = torch.from_numpy(e["ws"][:2])
    with torch.no_grad():
        const, none = G.from_w(ws, "const"), G.from_w(ws, "none")
        torch.manual_seed(3)
        random = G.from_w(ws, "random")
        torch.manual_seed(3)
        again = G.from_w(ws, "random")
        for name, tensor in G.named_parameters():
            if name.endswith("noise_strength"):
                tensor.zero_()
        silent = [G.from_w(ws, mode) for mode in ("const", "none", "random")]
    assert torch.equal(random, again)
    for other in (none, random):                 # each mode's noise changes the image
        assert (const - other).abs().max() > 0.5
    assert (random - none).abs().max() > 0.5
    for image in silent:                         # and nothing else does
        assert (image - none).abs().max() < 1e-5


def _corr(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@needs_fixtures
@pytest.mark.parametrize("name", TORCH_SG2)
def test_the_fixtures_images_carry_noise_drawn_per_sample(name):
    """What was measured on these three fixtures. Their noise (their images minus ganvas's
    noise_mode='none' image of the same ws) correlates between samples by |r| <= 0.11 and
    between psi 1 and 0.7 of the same z by |r| <= 0.18, about what fresh random noise
    (ganvas's noise_mode='random') does between samples (|r| <= 0.14), and has its size (std
    ratio 0.97-1.12). The stored constant noise instead correlates by 0.24-0.77 between samples
    and 0.90-0.95 between psi values, and the fixtures' noise does not correlate with it
    (|r| <= 0.05). So the fixtures' images carry per-call noise that no one can reproduce."""
    e = np.load(FIXTURES / f"{name}.expected.npz")
    images = _images(name)
    none1, none07 = images["none"][:4], images["none"][4:]
    const, const07 = images["const"][:4] - none1, images["const"][4:] - none07
    random = images["random"][:4] - none1
    noise1, noise07 = e["img_psi1"] - none1, e["img_psi07"] - none07
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    assert max(abs(_corr(noise1[i], noise1[j])) for i, j in pairs) < 0.25
    assert max(abs(_corr(noise1[i], noise07[i])) for i in range(4)) < 0.25
    assert np.mean([_corr(const[i], const[j]) for i, j in pairs]) > 0.3
    assert min(_corr(const[i], const07[i]) for i in range(4)) > 0.8
    assert abs(_corr(noise1, const)) < 0.1
    assert 0.8 < noise1.std() / random.std() < 1.25
