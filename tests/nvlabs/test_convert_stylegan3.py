"""NVlabs' StyleGAN3-T and -R onto ganvas's stylegan3-t and stylegan3-r families: the numbers
NVlabs' own code computed on its fixtures (ws with truncation 1 and 0.7, the pictures of both,
D's logits), and one-line refusals of what cannot follow (these need no fixtures)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ganvas.convert import convert_pickle
from ganvas.convert.stylegan3 import generator_state, stylegan3_config
from ganvas.errors import GanvasError
from ganvas.models import build_discriminator, build_generator, check_model
from ganvas.nvlabs import NvlabsPickle, TorchNetwork, read_network_pickle
from tests.nvlabs.test_fixtures import FIXTURES

needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason="NVlabs fixtures absent (set "
                                    "GANVAS_NVLABS_FIXTURES or put shared/ beside the "
                                    "repository)")
TOLERANCE = 1e-4           # max abs difference; the pictures span about [-1, 1]
T_KWARGS = {"z_dim": 64, "c_dim": 0, "w_dim": 64, "img_resolution": 32, "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2}, "magnitude_ema_beta": 0.99,
            "channel_base": 2048, "channel_max": 64}
D_KWARGS = {"c_dim": 0, "img_resolution": 32, "img_channels": 3, "channel_base": 2048,
            "channel_max": 64, "num_fp16_res": 0, "conv_clamp": 256,
            "epilogue_kwargs": {"mbstd_group_size": 4}}


@needs_fixtures
@pytest.mark.parametrize("name,family", [("sg3t-32", "stylegan3-t"), ("sg3r-32", "stylegan3-r")])
def test_pictures_ws_and_d_logits_equal_nvlabs(name, family):
    converted = convert_pickle(read_network_pickle(FIXTURES / f"{name}.pkl"))
    cfg = converted.cfg
    check_model(cfg)
    assert cfg.family == family and (cfg.resolution, cfg.z_dim, cfg.w_dim) == (32, 64, 64)
    G, D = build_generator(cfg).eval(), build_discriminator(cfg).eval()
    G.load_state_dict(converted.G_ema)
    D.load_state_dict(converted.D)
    build_generator(cfg).load_state_dict(converted.G)
    e = np.load(FIXTURES / f"{name}.expected.npz")
    assert converted.augment_p == pytest.approx(float(e["ada_p"]))
    z = torch.from_numpy(e["z"])
    with torch.no_grad():
        ws, ws07 = G.to_w(z), G.to_w(z, None, 0.7)
        img = G.from_w(torch.from_numpy(e["ws"]))
        img07 = G.synthesize(z, None, 0.7)
        logits = D(torch.from_numpy(e["d_input"]))
    assert np.abs(e["img_psi1"]).max() > 0.3                # a picture, not zeros
    for ours, theirs in [(ws, "ws"), (ws07, "ws_psi07"), (img, "img_psi1"),
                         (img07, "img_psi07")]:
        assert np.abs(ours.numpy() - e[theirs]).max() < TOLERANCE, theirs
    assert np.abs(logits.numpy() - e["d_logits"][:, 0]).max() < TOLERANCE


def _pickle(architecture="stylegan3-t", g=None, d=None, state=None) -> NvlabsPickle:
    G = TorchNetwork("training.networks_stylegan3.Generator", (), g or T_KWARGS,
                     state if state is not None else {}, "")
    D = TorchNetwork("training.networks_stylegan2.Discriminator", (), d or D_KWARGS, {}, "")
    return NvlabsPickle("stylegan3", architecture, G, None, D, None, None)


def test_the_configuration_follows_the_constructor():
    cfg = stylegan3_config("stylegan3-r", {**T_KWARGS, "conv_kernel": 1,
                                           "use_radial_filters": True, "channel_base": 4096,
                                           "channel_max": 128, "num_layers": 6,
                                           "margin_size": 4}, D_KWARGS)
    check_model(cfg)
    assert (cfg.family, cfg.g_width, cfg.d_width, cfg.max_width, cfg.g_max_width,
            cfg.synthesis_layers, cfg.synthesis_margin, cfg.magnitude_ema_beta,
            cfg.conv_clamp) == ("stylegan3-r", 128, 64, 64, 128, 6, 4, 0.99, 256.0)


@pytest.mark.parametrize("g,d,message", [
    ({**T_KWARGS, "first_cutoff": 3}, None, "first_cutoff=3"),
    ({**T_KWARGS, "output_scale": 1.0}, None, "output_scale=1.0"),
    ({**T_KWARGS, "mapping_kwargs": {"num_layers": 2, "w_avg_beta": 0.99}}, None,
     "w_avg_beta=0.99"),
    ({**T_KWARGS, "frobnicate": 1}, None, "'frobnicate'"),
    ({**T_KWARGS, "conv_kernel": 1}, None, "conv_kernel=1"),
    (T_KWARGS, {**D_KWARGS, "conv_clamp": None}, "conv_clamp"),
    (T_KWARGS, {**D_KWARGS, "img_resolution": 64}, "resolution"),
    (T_KWARGS, {**D_KWARGS, "architecture": "skip"}, "architecture='skip'"),
])
def test_what_cannot_follow_is_refused_in_one_line(g, d, message):
    with pytest.raises(GanvasError, match=message) as info:
        convert_pickle(_pickle(g=g, d=d))
    assert "\n" not in str(info.value)


def test_weights_are_checked_against_the_recorded_architecture():
    cfg = stylegan3_config("stylegan3-t", T_KWARGS, D_KWARGS)
    G = build_generator(cfg)
    # NVlabs' names, made from ganvas's own G (the filters as NVlabs saves them).
    theirs = {}
    for key, tensor in G.state_dict().items():
        if key.startswith("synthesis.layers."):
            i, rest = key[len("synthesis.layers."):].split(".", 1)
            theirs[f"synthesis.L{i}_0_0.{rest}"] = tensor
        else:
            theirs[key.replace("mapping.layers.", "mapping.fc")] = tensor
    for i, layer in enumerate(G.synthesis.layers):
        for name in ("up_filter", "down_filter"):
            if getattr(layer, name) is not None:
                theirs[f"synthesis.L{i}_0_0.{name}"] = getattr(layer, name).clone()
    state = generator_state(theirs, cfg)
    assert all(torch.equal(state[k], v) for k, v in G.state_dict().items())
    broken = copy.deepcopy(theirs)
    broken["synthesis.L3_0_0.down_filter"] = broken["synthesis.L3_0_0.down_filter"] * 1.01
    with pytest.raises(GanvasError, match="L3_0_0.down_filter is not the filter"):
        generator_state(broken, cfg)
    missing = {k: v for k, v in theirs.items() if k != "synthesis.input.freqs"}
    with pytest.raises(GanvasError, match="lacks the weights of synthesis.input.freqs"):
        generator_state(missing, cfg)
    wrong = dict(theirs, **{"synthesis.L0_0_0.weight": torch.zeros(1, 1, 3, 3)})
    with pytest.raises(GanvasError, match="has shape"):
        generator_state(wrong, cfg)
