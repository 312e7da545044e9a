"""Pickles the tests write in NVlabs' layouts: formats, architectures, records, refusals."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from ganvas.errors import GanvasError
from ganvas.nvlabs import TensorFlowNetwork, TorchNetwork, read_network_pickle
from tests.nvlabs.layouts import (SG2ADA_SRC, SG3_SG2_SRC, SG3_SRC, EasyDict, Persistent,
                                  generator, snapshot, tf_snapshot)


def _read(tmp_path, data: bytes):
    path = tmp_path / "net.pkl"
    path.write_bytes(data)
    return read_network_pickle(path)


def _refused(tmp_path, data: bytes) -> str:
    with pytest.raises(GanvasError) as err:
        _read(tmp_path, data)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_the_layout_uses_the_globals_of_nvlabs_files():
    import pickletools
    strings, globals_ = [], set()
    for op, arg, _ in pickletools.genops(snapshot()):
        if isinstance(arg, str):
            strings.append(arg)
        if op.name == "STACK_GLOBAL":
            globals_.add(tuple(strings[-2:]))
    assert ("torch_utils.persistence", "_reconstruct_persistent_obj") in globals_
    assert ("dnnlib.util", "EasyDict") in globals_
    assert ("torch._utils", "_rebuild_parameter") in globals_


def test_a_stylegan2_ada_snapshot_is_plain_records(tmp_path):
    net = _read(tmp_path, snapshot(p=0.25))
    assert (net.format, net.architecture) == ("stylegan2-ada-pytorch", "stylegan2")
    assert isinstance(net.G_ema, TorchNetwork) and net.G_ema.class_name == "Generator"
    kwargs = net.G_ema.init_kwargs
    assert type(kwargs) is dict and type(kwargs["synthesis_kwargs"]) is dict
    assert kwargs["synthesis_kwargs"] == {"channel_base": 256, "channel_max": 8}
    sd = net.G_ema.state_dict
    assert sorted(sd) == ["const", "mapping.fc0.weight", "mapping.w_avg"]   # no hidden buffer
    assert all(type(t) is torch.Tensor for t in sd.values())
    assert sd["const"].shape == (8, 4, 4) and sd["mapping.fc0.weight"].shape == (8, 4)
    assert net.D.class_name == "Discriminator" and net.D.state_dict["b16.fromrgb.weight"].shape \
        == (8, 3, 1, 1)
    assert net.augment_p == pytest.approx(0.25)
    assert net.training_set_kwargs == {"resolution": 16, "use_labels": False}
    assert "def __init__" in net.G_ema.module_src       # kept as text


def test_the_values_come_through(tmp_path):
    weight = torch.arange(32.0).reshape(8, 4)
    mapping = Persistent("MappingNetwork", SG2ADA_SRC, params={"fc0.weight": weight.t()})
    G = Persistent("Generator", SG2ADA_SRC, modules={"mapping": mapping},
                   kwargs={"z_dim": 4, "scale": np.float32(0.5)})
    net = _read(tmp_path, snapshot(G_ema=G, p=None))
    assert torch.equal(net.G_ema.state_dict["mapping.fc0.weight"], weight.t())  # strided view
    assert net.G_ema.init_kwargs["scale"] == np.float32(0.5) and net.augment_p is None


@pytest.mark.parametrize("src, kwargs, expected", [
    (SG3_SG2_SRC, {"z_dim": 4, "channel_base": 256}, ("stylegan3", "stylegan2")),
    (SG3_SRC, {"z_dim": 4}, ("stylegan3", "stylegan3-t")),
    (SG3_SRC, {"conv_kernel": 1, "use_radial_filters": True}, ("stylegan3", "stylegan3-r")),
])
def test_stylegan3_formats(tmp_path, src, kwargs, expected):
    net = _read(tmp_path, snapshot(src=src, kwargs=kwargs))
    assert (net.format, net.architecture) == expected


@pytest.mark.parametrize("src, kwargs, words", [
    (SG3_SRC, {"conv_kernel": 1}, "neither config T nor R"),
    ("class SuperresGenerator: pass\n" + SG3_SRC, {}, "StyleGAN-XL"),
    ("class Generator(torch.nn.Module):\n    def __init__(self, *a):\n        super().__init__()",
     {}, "neither stylegan2-ada-pytorch's nor stylegan3's"),
])
def test_unsupported_generators_are_named(tmp_path, src, kwargs, words):
    assert words in _refused(tmp_path, snapshot(src=src, kwargs=kwargs))


def test_unknown_classes_and_shapes_of_data(tmp_path):
    odd = generator(class_name="SuperGenerator")
    assert "unknown class SuperGenerator" in _refused(tmp_path, snapshot(G_ema=odd))
    renamed = snapshot().replace(b"\x8c\x05G_ema", b"\x8c\x05G_emb")
    assert "no G_ema" in _refused(tmp_path, renamed)
    assert "not an NVlabs network" in _refused(tmp_path, snapshot(D=EasyDict(a=1)))
    assert "holds a list" in _refused(tmp_path, pickle.dumps([1, 2]))
    sub = Persistent("Generator", SG2ADA_SRC, modules={"mapping": EasyDict()})
    assert "submodule mapping" in _refused(tmp_path, snapshot(G_ema=sub))


def test_a_tensorflow_pickle_is_tf_named_arrays(tmp_path):
    net = _read(tmp_path, tf_snapshot())
    assert (net.format, net.architecture, net.augment_p) == ("tensorflow", "stylegan2", None)
    assert isinstance(net.G_ema, TensorFlowNetwork) and net.G_ema.version == 4
    assert net.G_ema.static_kwargs == {"latent_size": 4, "resolution": 16}
    variables = net.G_ema.variables
    assert sorted(variables) == ["dlatent_avg", "mapping/Dense0/weight"]
    assert variables["mapping/Dense0/weight"].shape == (4, 8)
    assert np.array_equal(variables["dlatent_avg"], np.arange(8, dtype=np.float32))
    assert net.D.variables["Output/bias"].shape == (1,)


def test_tensorflow_pickles_that_are_not_stylegan2_config_f(tmp_path):
    assert "StyleGAN1" in _refused(tmp_path, tf_snapshot(version=3))
    assert "'blur_filter'" in _refused(tmp_path, tf_snapshot(g_kwargs={"blur_filter": [1]}))


def test_arguments_that_refer_to_themselves_are_one_line(tmp_path):
    kwargs = EasyDict(z_dim=4)
    kwargs["self"] = kwargs
    assert "refers to itself" in _refused(tmp_path, snapshot(kwargs=kwargs))
