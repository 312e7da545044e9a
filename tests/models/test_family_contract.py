"""The family contract: every registered model family, trained for a few steps, goes through
every verb's core (generate, truncation, walks in each latent space it has, explore, style
mixing or its clear refusal, noise modes, projection, export to safetensors and ONNX, exact
resume), and every option it cannot do is a one-line error before any work. Families and
their tiny presets come from the registries, so a new family is tested the day it is added."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import ganvas
from ganvas.config.presets import PRESETS
from ganvas.errors import GanvasError
from ganvas.imaging import save_png
from ganvas.models import MODELS
from ganvas.runfolder import snapshots

from tests.helpers import make_toy_archive, same, usage_error, weights

RES = 32                                   # every family supports 32 px
SMALL = dict(g_width=8, d_width=8, max_width=32, z_dim=32, batch=8, grid_size=16, progress=False)
# A train option that needs each capability, and a value that asks for it.
NEEDS = {"path_length": ("--pl-weight", "2"), "style_mixing": ("--style-mixing", "0.9"),
         "spectral_norm": ("--spectral-norm", None)}
SRC = Path(ganvas.__file__).parent


def tiny_preset(family: str) -> str:
    """The first registered -tiny preset that builds `family`."""
    return next(n for n in PRESETS.names() if n.endswith("-tiny")
                and PRESETS.get(n)(RES)["model"].get("family", "dcgan") == family)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return str(make_toy_archive(tmp_path_factory.mktemp("fam") / "redblue32.zip",
                                resolution=RES, labelled=True))


@pytest.fixture(scope="module", params=MODELS.names())
def run(request, data, tmp_path_factory):
    """(family, preset, a trained conditional run) for each registered family."""
    family = request.param
    preset = tiny_preset(family)
    path = ganvas.train(data, out=tmp_path_factory.mktemp(family), model=preset,
                        conditional=True, kimg=0.064, snap_kimg=0.032, tick_kimg=0.032,
                        seed=1, **SMALL)
    return family, preset, path


def test_generate_and_truncation(run):
    family, _, path = run
    model = ganvas.load(path, device="cpu")
    assert model.family == family and model.capabilities == MODELS.get(family).capabilities
    images = model.generate([1, 2, 3], label="blue")
    assert images.shape == (3, RES, RES, 3) and images.dtype == np.uint8
    assert np.array_equal(model.generate([3], label="blue")[0], images[2])    # batch-proof
    average = model.generate([4, 9], label=0, truncation=0.0)
    assert np.array_equal(average[0], average[1])            # psi 0: the average picture
    assert not np.array_equal(model.generate([4], label=0, truncation=0.5)[0], average[0])


def test_walks_in_every_latent_space(run, tmp_path):
    _, _, path = run
    model = ganvas.load(path)
    first = model.generate([5], label=1)[0]
    for space in model.capabilities.latent_spaces():
        walk = model.walk(seeds=[5, 6], label=1, space=space, frames_per_step=3)
        frames = walk.frames()
        assert len(frames) == 4 and np.array_equal(frames[0], first), space
        out = model.interpolate(tmp_path / f"{space}.gif", seeds=[5, 6], label=1, space=space,
                                frames_per_step=2, progress=False)
        assert out.is_file()
    classes = model.walk(class_walk=["red", "blue"], seeds=[5], frames_per_step=2).frames()
    assert np.array_equal(classes[-1], first)                # ends on seed 5 as class blue
    if "w" not in model.capabilities.latent_spaces():
        with pytest.raises(GanvasError, match="w space"):
            model.walk(seeds=[5, 6], space="w")


def test_explore_style_mix_and_noise(run):
    _, _, path = run
    model = ganvas.load(path)
    caps = model.capabilities
    cells = model.explore(7, [0, 3], -2, 2, 5, label=0)      # the middle column: value 0
    assert cells.shape == (2, 5, RES, RES, 3)
    assert np.array_equal(cells[1, 2], model.generate([7], label=0)[0])
    if caps.style_mixing:
        grid = model.style_mix([1, 2], [3], "coarse", label=0)
        assert grid.shape == (3, 2, RES, RES, 3)
    else:
        with pytest.raises(GanvasError, match="needs a model with style mixing"):
            model.style_mix([1, 2], [3])
    if caps.noise_inputs:
        assert model.generate([1], label=0, noise_mode="none").shape == (1, RES, RES, 3)
    else:
        with pytest.raises(GanvasError, match="noise inputs"):
            model.generate([1], noise_mode="random")


def test_project_and_export(run, tmp_path):
    _, _, path = run
    model = ganvas.load(path)
    targets = [save_png(img, tmp_path / f"target{i}.png")
               for i, img in enumerate(model.generate([11, 12], label=0))]
    result = model.project(targets, out=tmp_path / "proj", steps=3, label=0, progress=False)
    assert result["space"] == model.capabilities.default_space()
    keys = model.walk(latents=tmp_path / "proj" / "latent.npz", frames_per_step=1).frames()
    assert keys.shape == (2, RES, RES, 3)
    exported = ganvas.load(model.export(tmp_path / "model"))
    assert np.array_equal(exported.generate([1, 2], truncation=0.7),
                          model.generate([1, 2], truncation=0.7))
    pytest.importorskip("onnxruntime")
    onnx = model.export(tmp_path / "onnx", format="onnx")     # checked against PyTorch there
    assert onnx.is_file()


def test_layer_resolutions_place_every_weight_and_blending_with_itself_is_itself(run,
                                                                              tmp_path):
    _, _, path = run
    model = ganvas.load(path)
    G = model.G
    where = G.layer_resolutions()
    assert where.keys() == G.state_dict().keys()             # every parameter and buffer
    assert sorted(set(where.values())) == [2 ** k for k in range(2, RES.bit_length())]
    embed = next(k for k, v in G.state_dict(keep_vars=True).items()
                 if v is G.class_embedding.weight)
    assert where[embed] == 4                                  # the class goes in at the bottom
    same = ganvas.load(model.blend(path, tmp_path / "blend", swap_at=8, crossfade=1))
    assert np.array_equal(same.generate([1, 2], label=0), model.generate([1, 2], label=0))


def test_resume_is_bit_exact(run, data, tmp_path):
    _, preset, _ = run
    opts = dict(model=preset, conditional=True, snap_kimg=0.032, tick_kimg=0.032, seed=2,
                **SMALL)
    full = ganvas.train(data, out=tmp_path, kimg=0.064, **opts)
    part = ganvas.train(data, out=tmp_path, kimg=0.032, **opts)
    ganvas.resume(part, kimg=0.064, progress=False)
    a, b = snapshots.list_snapshots(full)[-1], snapshots.list_snapshots(part)[-1]
    assert a.name == b.name
    for name in ("G", "G_ema", "D"):
        assert same(weights(a, name), weights(b, name)), name


@pytest.mark.parametrize("family", MODELS.names())
def test_options_the_family_cannot_do_are_refused_before_any_work(family, data, tmp_path,
                                                                   capsys):
    caps = MODELS.get(family).capabilities
    asks = [NEEDS[c] for c in NEEDS if not getattr(caps, c)]
    asks += [("--d-norm", n) for n in ("batch", "layer", "none") if n not in caps.d_norms]
    for flag, value in asks:
        argv = ["train", data, "--model", tiny_preset(family), "--out", str(tmp_path), flag]
        err = usage_error(argv + ([value] if value else []), capsys)
        assert flag in err and family in err
    assert not list(tmp_path.iterdir())                    # no run folder for a refusal


def test_no_code_outside_models_branches_on_a_family_name():
    names = "|".join(map(re.escape, MODELS.names()))
    # hasattr on a network or a model is a family test in disguise (mixing_prob, mapping...).
    networks = r"hasattr\((self\.)?(G|D|G_ema|model|module|net)\b"
    pattern = re.compile(rf"family\s*(==|!=|\bin\b)|(==|!=)\s*[\"']({names})[\"']|{networks}")
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py")
                 if "models" not in p.relative_to(SRC).parts
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []
