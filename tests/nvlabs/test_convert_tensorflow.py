"""TensorFlow StyleGAN2 pickles onto ganvas's stylegan2 family (convert/tensorflow.py): the
numbers NVlabs' legacy conversion computed on tf-sg2-32, values carried through a small pickle
in TensorFlow's layout written here, and one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganvas.convert import convert_pickle
from ganvas.convert.tensorflow import generator
from ganvas.errors import GanvasError
from ganvas.models.stylegan2 import Discriminator, Generator
from ganvas.nvlabs import read_network_pickle
from tests.nvlabs.layouts import (TF_D_KWARGS, TF_G_KWARGS, tf_stylegan2,
                                  tf_stylegan2_variables)
from tests.nvlabs.test_fixtures import FIXTURES

needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason="NVlabs fixtures absent")


@needs_fixtures
def test_ws_and_d_logits_equal_nvlabs_legacy_conversion():
    converted = convert_pickle(read_network_pickle(FIXTURES / "tf-sg2-32.pkl"))
    cfg = converted.cfg
    # fmap_base 1024 is a channel_base of 2048: 64 channels at 32 px
    assert (cfg.resolution, cfg.z_dim, cfg.w_dim, cfg.g_width, cfg.d_width, cfg.max_width,
            cfg.mapping_layers, cfg.mbstd_group, cfg.conv_clamp) == (32, 64, 64, 64, 64, 64,
                                                                     8, 4, 256)
    assert converted.augment_p is None and converted.source == "tensorflow StyleGAN2"
    e = np.load(FIXTURES / "tf-sg2-32.expected.npz")
    z = torch.from_numpy(e["z"])
    Generator(cfg).load_state_dict(converted.G)          # the training G (other weights)
    G = Generator(cfg).eval()
    G.load_state_dict(converted.G_ema)
    with torch.no_grad():
        ws, ws07 = G.to_w(z), G.to_w(z, None, 0.7)
    assert np.abs(ws.numpy() - e["ws"]).max() < 1e-5
    assert np.abs(ws07.numpy() - e["ws_psi07"]).max() < 1e-5
    D = Discriminator(cfg).eval()
    D.load_state_dict(converted.D)
    with torch.no_grad():
        logits = D(torch.from_numpy(e["d_input"]))
    assert np.abs(logits.numpy() - e["d_logits"][:, 0]).max() < 1e-5


def _convert(tmp_path, data: bytes):
    path = tmp_path / "tf.pkl"
    path.write_bytes(data)
    return convert_pickle(read_network_pickle(path))


def _t(array) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def test_known_values_come_through_transposed_where_pytorch_keeps_them_so(tmp_path):
    g, d = tf_stylegan2_variables()
    converted = _convert(tmp_path, tf_stylegan2())
    sd, dd = converted.G_ema, converted.D
    assert torch.equal(sd["mapping.w_avg"], _t(g["dlatent_avg"]))
    assert torch.equal(sd["mapping.layers.1.weight"], _t(g["mapping/Dense1/weight"].T))
    assert torch.equal(sd["synthesis.blocks.0.const"], _t(g["synthesis/4x4/Const/const"][0]))
    conv1 = g["synthesis/8x8/Conv1/weight"]            # [kh, kw, in, out] -> [out, in, kh, kw]
    assert torch.equal(sd["synthesis.blocks.1.conv1.weight"][5, 2, 0, 1],
                       torch.tensor(conv1[0, 1, 2, 5]))
    # TF's up-convolution kernel is flipped for NVlabs' PyTorch and flipped back for ganvas
    assert torch.equal(sd["synthesis.blocks.1.conv0.weight"],
                       _t(g["synthesis/8x8/Conv0_up/weight"].transpose(3, 2, 0, 1)))
    assert torch.equal(sd["synthesis.blocks.1.conv0.affine.bias"],
                       _t(g["synthesis/8x8/Conv0_up/mod_bias"] + 1))
    assert torch.equal(sd["synthesis.blocks.1.torgb.affine.weight"],
                       _t(g["synthesis/8x8/ToRGB/mod_weight"].T))
    for block, conv, k in ((0, "conv1", 0), (1, "conv0", 1), (1, "conv1", 2)):
        assert torch.equal(sd[f"synthesis.blocks.{block}.{conv}.noise_const"],
                           _t(g[f"synthesis/noise{k}"][0, 0]))
    assert float(sd["synthesis.blocks.1.conv0.noise_strength"]) == float(
        g["synthesis/8x8/Conv0_up/noise_strength"])
    assert torch.equal(dd["blocks.0.conv1.weight"],
                       _t(d["8x8/Conv1_down/weight"].transpose(3, 2, 0, 1)))
    assert torch.equal(dd["blocks.0.skip.weight"], _t(d["8x8/Skip/weight"].transpose(3, 2, 0, 1)))
    assert torch.equal(dd["fc.weight"], _t(d["4x4/Dense0/weight"].T))
    assert torch.equal(dd["out.bias"], _t(d["Output/bias"]))
    assert converted.cfg.mbstd_group == TF_D_KWARGS["mbstd_group_size"]
    # fmap_base is half of channel_base: 2 * 64 / 8 px = 16 channels (capped at 8)
    assert (converted.cfg.g_width, converted.cfg.d_width, converted.cfg.max_width) == (16, 16, 8)


def test_absent_kwargs_take_tensorflows_defaults(tmp_path):
    d_kwargs = {k: v for k, v in TF_D_KWARGS.items() if k != "mbstd_group_size"}
    g_kwargs = {k: v for k, v in TF_G_KWARGS.items() if k != "mapping_layers"}
    assert _convert(tmp_path, tf_stylegan2(d_kwargs=d_kwargs)).cfg.mbstd_group == 4
    assert "lacks the variable mapping/Dense2/weight" in _refused(   # 8 mapping layers
        tmp_path, tf_stylegan2(g_kwargs=g_kwargs))


def test_the_mapping_computes_what_tensorflow_stylegan2s_does(tmp_path):
    """TF's G_mapping: z scaled to unit second moment, then per layer
    lrelu(x @ (W * lrmul / sqrt(fan_in)) + b * lrmul) * sqrt(2), lrmul 0.01; w_avg + psi * (w -
    w_avg)."""
    g, _ = tf_stylegan2_variables()
    converted = _convert(tmp_path, tf_stylegan2())
    G = Generator(converted.cfg).eval()
    G.load_state_dict(converted.G_ema)
    z = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float64)
    x = z / np.sqrt((z ** 2).mean(1, keepdims=True) + 1e-8)
    for i in range(2):
        w, b = g[f"mapping/Dense{i}/weight"], g[f"mapping/Dense{i}/bias"]
        x = x @ (w * 0.01 / np.sqrt(w.shape[0])) + b * 0.01
        x = np.where(x >= 0, x, 0.2 * x) * np.sqrt(2)
    x = g["dlatent_avg"] + 0.7 * (x - g["dlatent_avg"])
    with torch.no_grad():
        ws = G.to_w(torch.from_numpy(z).float(), None, 0.7).numpy()
    assert ws.shape[1] == 4 and np.abs(ws - x[:, None]).max() < 1e-5


def _refused(tmp_path, data: bytes) -> str:
    with pytest.raises(GanvasError) as err:
        _convert(tmp_path, data)
    message = str(err.value)
    assert "\n" not in message
    return message


def _with(name, value, which=0):
    variables = list(tf_stylegan2_variables())
    variables[which] = {**variables[which], name: value}
    return tf_stylegan2(*variables)


def test_variables_of_the_wrong_shape_or_type_are_refused(tmp_path):
    assert "synthesis.blocks.1.conv1.weight has shape [7, 8, 3, 3]" in _refused(
        tmp_path, _with("synthesis/8x8/Conv1/weight", np.ones((3, 3, 8, 7), np.float32)))
    assert "Dense0/weight has shape [4, 6, 1], not 2-dimensional" in _refused(
        tmp_path, _with("mapping/Dense0/weight", np.ones((4, 6, 1), np.float32)))
    assert "D's fc.weight has shape" in _refused(
        tmp_path, _with("4x4/Dense0/weight", np.ones((64, 8), np.float32), which=1))
    assert "dlatent_avg is not a float array" in _refused(
        tmp_path, _with("dlatent_avg", np.arange(6)))
    assert "object dtype" in _refused(
        tmp_path, _with("Output/bias", np.array([None], dtype=object), which=1))


def test_missing_and_unknown_variables_are_refused(tmp_path):
    g, d = tf_stylegan2_variables()
    del g["synthesis/noise2"]
    assert "lacks the variable synthesis/noise2" in _refused(tmp_path, tf_stylegan2(g, d))
    assert "the variable 8x8/Extra/weight that ganvas does not know" in _refused(
        tmp_path, _with("8x8/Extra/weight", np.ones((1, 1, 8, 8), np.float32), which=1))


@pytest.mark.parametrize("change, role, words", [
    ({"architecture": "resnet"}, "G", "architecture='resnet'"),
    ({"nonlinearity": "relu"}, "G", "activation='relu'"),
    ({"mapping_lrmul": 0.1}, "G", "lr_multiplier=0.1"),
    ({"fmap_base": 50}, "G", "not a multiple"),
    ({"resample_kernel": [1, 1]}, "G", "resample_filter=[1, 1]"),
    ({"mbstd_group_size": None}, "D", "mbstd_group_size=None"),
    ({"mbstd_num_features": 2}, "D", "mbstd_num_channels=2"),
    ({"label_size": 2}, "D", "lr_multiplier=0.1"),   # TF's class mapping: 0.1, not 0.01
])
def test_kwarg_values_ganvas_cannot_follow_are_named(tmp_path, change, role, words):
    kwargs = {"g_kwargs": {**TF_G_KWARGS, **change}} if role == "G" else {
        "d_kwargs": {**TF_D_KWARGS, **change}}
    message = _refused(tmp_path, tf_stylegan2(**kwargs))
    assert len(message.split(words)) == 2 or pytest.fail(message)


def test_an_unknown_static_kwarg_is_refused(tmp_path):
    message = _refused(tmp_path, tf_stylegan2(g_kwargs={**TF_G_KWARGS, "randomize_noise": 1}))
    assert "'randomize_noise'" in message
    net = read_network_pickle(_path(tmp_path, tf_stylegan2())).G_ema
    net.static_kwargs["blur_filter"] = [1, 2, 1]       # past the reader: refused here too
    with pytest.raises(GanvasError, match="static kwarg 'blur_filter'"):
        generator(net)


def _path(tmp_path, data):
    path = tmp_path / "ok.pkl"
    path.write_bytes(data)
    return path
