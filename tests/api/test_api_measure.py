"""The Python API behind the CLI: ganvas.evaluate and ganvas.memorization, and the files the
Model methods write themselves (save_images, explore/style_mix out=, projection weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.imaging import make_grid, save_cells, seed_filename
from ganvas.latent.project import vgg16_weights
from ganvas.metrics import evaluate as ev

from tests.helpers import SG2, export_random

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("api-sg2") / "model", **SG2)


def test_evaluate_from_a_path_writes_the_json_it_returns(tiny_run, tmp_path):
    out = tmp_path / "m.json"
    result = ganvas.evaluate(tiny_run, "swd", num=16, out=out, device="cpu")
    assert result["generated"] == 16 and result["reals"] == 64 and result["metrics"]["swd"] > 0
    assert "note" not in result                  # swd alone: no small-sample bias note
    assert json.loads(out.read_text()) == json.loads(json.dumps(result, default=float))


def test_evaluate_of_a_loaded_model_matches_the_metrics_module(tiny_run):
    model = ganvas.load(tiny_run, "cpu")
    mine = ganvas.evaluate(model, ["swd", "fid"], num=16, extractor="random-conv",
                           device="cpu")
    theirs = ev.evaluate(model, ["swd", "fid"], 16, "random-conv")
    assert mine["metrics"] == theirs["metrics"]
    assert mine["extractors"] == {"fid": "random-conv"}


def test_feature_weights_as_text_or_dict():
    text = ev.as_feature_weights("inception-v3=a.pth,vgg16=b.pth")
    assert text == ev.as_feature_weights({"inception-v3": "a.pth", "vgg16": Path("b.pth")})
    assert ev.as_feature_weights("w.pth") == {None: "w.pth"} and ev.as_feature_weights(None) == {}
    with pytest.raises(ganvas.GanvasError, match="feature_weights"):
        ev.as_feature_weights(["a.pth"])


def test_evaluate_refuses_more_than_the_limit_before_loading(tmp_path):
    """10**12 samples is an error naming the limit, before the (missing) model is read."""
    with pytest.raises(ganvas.GanvasError, match="at most 50,000 .*MAX_GENERATED"):
        ganvas.evaluate(tmp_path / "no-model", num=10**12, out=tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("weights", ["vgg16=x.pth", {"vgg16": "x.pth"}])
def test_evaluate_checks_the_weights_before_any_work(weights, tiny_run, tmp_path):
    with pytest.raises(ganvas.GanvasError, match="which no requested metric"):
        ganvas.evaluate(tiny_run, "fid", num=8, feature_weights=weights,
                        out=tmp_path / "m.json", device="cpu")
    assert not (tmp_path / "m.json").exists()


@NO_CUDA
def test_evaluate_and_memorization_on_a_missing_gpu_are_one_line_errors(tiny_run, tmp_path):
    with pytest.raises(ganvas.GanvasError, match="this machine has no CUDA GPU"):
        ganvas.evaluate(tiny_run, num=8, out=tmp_path / "m.json", device="cuda")
    with pytest.raises(ganvas.GanvasError, match="this machine has no CUDA GPU"):
        ganvas.memorization(ganvas.load(tiny_run, "cpu"), num=8, extractor="random-conv",
                            out_dir=tmp_path / "mem", device="cuda")
    assert not list(tmp_path.iterdir())


def test_memorization_from_a_path(tiny_run, tmp_path):
    result = ganvas.memorization(tiny_run, num=16, extractor="random-conv",
                                 out_dir=tmp_path / "mem", neighbours=2, train_limit=40,
                                 device="cpu")
    assert result["num"] == 16 and result["neighbours"] == 2 and result["train_images"] <= 40
    assert result["extractor"] == "random-conv" and "verdict" in result
    assert json.loads((tmp_path / "mem" / "memorization.json").read_text()) == result


def test_memorization_uses_inception_unless_told(tiny_run, tmp_path):
    with pytest.raises(ganvas.GanvasError, match="inception-v3 weights not found"):
        ganvas.memorization(tiny_run, num=8, feature_weights=str(tmp_path / "none.pth"),
                            out_dir=tmp_path / "mem", device="cpu")


def test_save_images_writes_seed_files_and_a_grid(tiny_run, tmp_path):
    model = ganvas.load(tiny_run, "cpu")
    paths = model.save_images([3, 12], tmp_path / "png", grid=tmp_path / "g.png", scale=2)
    assert [p.name for p in paths] == ["seed0003.png", "seed0012.png", "g.png"]
    assert seed_filename(7) == "seed0007.png"
    images = model.generate([3, 12])
    with Image.open(paths[1]) as im:
        assert np.array_equal(np.asarray(im)[::2, ::2], images[1])
    with Image.open(paths[2]) as im:
        assert np.array_equal(np.asarray(im)[::2, ::2], make_grid(images))
    assert model.save_images([5], grid=tmp_path / "only.png")[0].name == "only.png"


@pytest.mark.parametrize("kwargs,needle", [
    ({}, "say where to write"),
    ({"folder": "png", "scale": 0}, "scale must be from 1 to 16"),
    ({"grid": "g.png", "scale": 17}, "scale must be from 1 to 16"),
])
def test_save_images_mistakes_write_nothing(kwargs, needle, tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ganvas.GanvasError, match=needle):
        ganvas.load(tiny_run, "cpu").save_images([1], **kwargs)
    assert not list(tmp_path.iterdir())


def test_explore_and_style_mix_write_their_grid(tiny_run, sg2, tmp_path):
    model = ganvas.load(tiny_run, "cpu")
    cells = model.explore(5, [0, 3], steps=3, out=tmp_path / "e.png", scale=2, labels=False)
    assert (tmp_path / "e.png").read_bytes() == save_cells(cells, tmp_path / "e2.png",
                                                             2).read_bytes()
    mix = ganvas.load(sg2, "cpu")
    cells = mix.style_mix([1], [2, 3], out=tmp_path / "s.png")
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (3 * 32, 2 * 32)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s.png")),
                          make_grid(cells.reshape(-1, 32, 32, 3), cols=3))


@pytest.mark.parametrize("out,scale,needle", [("e.gif", 1, "must end in .png"),
                                              ("e.png", 0, "scale must be")])
def test_grid_mistakes_come_before_any_work(out, scale, needle, tiny_run, tmp_path,
                                            monkeypatch):
    model = ganvas.load(tiny_run, "cpu")
    monkeypatch.setattr("ganvas.api.sweep_dims", lambda *a: pytest.fail("computed"))
    with pytest.raises(ganvas.GanvasError, match=needle):
        model.explore(5, [0], out=tmp_path / out, scale=scale)
    assert not list(tmp_path.iterdir())


def test_projection_weights_take_the_eval_form(tmp_path):
    assert vgg16_weights("vgg16=a/b.pth") == "a/b.pth"
    assert vgg16_weights("a/b.pth") == "a/b.pth" and vgg16_weights(None) is None
    assert vgg16_weights(tmp_path) == tmp_path
    with pytest.raises(ganvas.GanvasError, match="VGG-16 weights only"):
        vgg16_weights("inception-v3=i.pth")
