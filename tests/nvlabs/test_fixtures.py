"""The six pickles NVlabs' own code wrote (shared/fixtures/nvlabs, see its README): each reads
without running anything, with the recorded architecture, shapes and augmentation p.

Found through GANVAS_NVLABS_FIXTURES or beside the repository (../shared/fixtures/nvlabs);
skipped with a reason where absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ganvas.nvlabs import read_network_pickle


def _fixtures() -> Path | None:
    repo = Path(__file__).resolve().parents[2]
    for where in (os.environ.get("GANVAS_NVLABS_FIXTURES"),
                  repo.parent / "shared" / "fixtures" / "nvlabs",
                  repo / "shared" / "fixtures" / "nvlabs"):
        if where and (Path(where) / "sg2ada-32.pkl").is_file():
            return Path(where)
    return None


FIXTURES = _fixtures()
pytestmark = pytest.mark.skipif(FIXTURES is None, reason="NVlabs fixtures absent (set "
                                "GANVAS_NVLABS_FIXTURES or put shared/ beside the repository)")

# name: format, architecture, c_dim, G_ema's channel_base and channel_max (README)
FILES = {
    "sg2ada-32": ("stylegan2-ada-pytorch", "stylegan2", 0, 2048, 64),
    "sg2ada-32-cond": ("stylegan2-ada-pytorch", "stylegan2", 3, 2048, 64),
    "sg3-stylegan2-32": ("stylegan3", "stylegan2", 0, 2048, 64),
    "sg3t-32": ("stylegan3", "stylegan3-t", 0, 2048, 64),
    "sg3r-32": ("stylegan3", "stylegan3-r", 0, 4096, 64),
    "tf-sg2-32": ("tensorflow", "stylegan2", 0, 2048, 64),
}


def _load(name):
    return read_network_pickle(FIXTURES / f"{name}.pkl"), np.load(FIXTURES /
                                                                     f"{name}.expected.npz")


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_fixture_reads_with_its_architecture_and_p(name):
    net, expected = _load(name)
    fmt, arch, c_dim, base, cmax = FILES[name]
    assert (net.format, net.architecture) == (fmt, arch)
    ada_p = float(expected["ada_p"])
    assert (net.augment_p if net.augment_p is not None else -1.0) == pytest.approx(ada_p,
                                                                                  abs=1e-7)
    if fmt == "tensorflow":
        kw = net.G_ema.static_kwargs
        assert (kw["resolution"], kw["latent_size"], kw["dlatent_size"], kw["label_size"]) \
            == (32, 64, 64, c_dim)
        assert (kw["fmap_base"] * 2, kw["fmap_max"], kw["mapping_layers"]) == (base, cmax, 8)
        return
    for G in (net.G, net.G_ema):
        kw = G.init_kwargs
        assert (kw["img_resolution"], kw["z_dim"], kw["w_dim"], kw["c_dim"]) == (32, 64, 64,
                                                                                c_dim)
        synthesis = kw.get("synthesis_kwargs", kw)
        assert (synthesis["channel_base"], synthesis["channel_max"]) == (base, cmax)
        assert kw["mapping_kwargs"]["num_layers"] == 2
    assert net.D.init_kwargs["c_dim"] == c_dim and net.D.init_kwargs["img_resolution"] == 32


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_state_dicts_have_the_recorded_shapes(name):
    net, expected = _load(name)
    num_ws, w_dim = expected["ws"].shape[1:]
    if net.format == "tensorflow":
        v = net.G_ema.variables
        assert v["dlatent_avg"].shape == (w_dim,)
        assert v["synthesis/4x4/Const/const"].shape == (1, 64, 4, 4)
        assert v["mapping/Dense0/weight"].shape == (64, 64)
        assert v["synthesis/32x32/ToRGB/weight"].shape == (1, 1, 64, 3)
        assert sum(k.startswith("mapping/Dense") and k.endswith("/weight") for k in v) == 8
        assert not np.array_equal(net.G.variables["mapping/Dense0/weight"],
                                  v["mapping/Dense0/weight"])
        return
    sd = net.G_ema.state_dict
    assert all(type(t) is torch.Tensor and t.dtype == torch.float32 for t in sd.values())
    assert sd["mapping.w_avg"].shape == (w_dim,)
    assert sd["mapping.fc0.weight"].shape == (w_dim, 64 + (64 if "cond" in name else 0))
    if "cond" in name:
        assert sd["mapping.embed.weight"].shape == (64, 3)
    if net.architecture == "stylegan2":
        assert sd["synthesis.b4.const"].shape == (64, 4, 4)
        assert sd["synthesis.b32.torgb.weight"].shape == (3, 64, 1, 1)
        assert num_ws == 8
    else:
        assert sd["synthesis.input.freqs"].shape == (64, 2)
        assert num_ws == 16 and "synthesis.L0_36_64.magnitude_ema" in sd
    assert sorted(net.G.state_dict) == sorted(sd)
    # G and G_ema are two networks with their own (perturbed) weights, not one read twice
    assert not torch.equal(net.G.state_dict["mapping.fc0.weight"], sd["mapping.fc0.weight"])


def test_the_fixtures_differ_where_the_readme_says():
    t, r = read_network_pickle(FIXTURES / "sg3t-32.pkl"), read_network_pickle(
        FIXTURES / "sg3r-32.pkl")
    assert "conv_kernel" not in t.G_ema.init_kwargs
    assert (r.G_ema.init_kwargs["conv_kernel"], r.G_ema.init_kwargs["use_radial_filters"]) \
        == (1, True)
    assert r.G_ema.state_dict["synthesis.L2_36_64.weight"].shape[-1] == 1
    assert t.G_ema.state_dict["synthesis.L2_36_64.weight"].shape[-1] == 3
