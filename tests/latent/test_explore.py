"""ganvas explore: one row per latent dimension, moved across a range; z or (StyleGAN2) w."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.imaging import to_uint8
from ganvas.latent.explore import parse_dims, w_std

from tests.helpers import SG2, export_random


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("sg2x") / "model", **SG2)


def test_parse_dims():
    assert parse_dims("0,10,20-22") == [0, 10, 20, 21, 22]
    for bad in ("", "a", "3-1", "-1"):
        with pytest.raises(GanvasError, match="bad dims"):
            parse_dims(bad)


def test_z_rows_move_one_dimension_and_the_centre_is_the_seed(tiny_run):
    model = ganvas.load(tiny_run)
    cells = model.explore(5, [0, 10, 63], -2, 2, 5)
    assert cells.shape == (3, 5, 16, 16, 3) and cells.dtype == np.uint8
    seed_image = model.generate([5])[0]
    assert all(np.array_equal(cells[r, 2], seed_image) for r in range(3))
    z = model.z([5])
    z[0, 10] += 1.0                                            # row 1, column 3: d10 + 1
    assert np.array_equal(cells[1, 3], model.synthesize(z)[0])
    assert not np.array_equal(cells[1, 0], cells[1, 4])


def test_w_is_stylegan2s_default_in_units_of_ws_std(sg2):
    model = ganvas.load(sg2)
    std = w_std(model.sampler)
    assert std.shape == (32,) and (std > 0).all()
    cells = model.explore(3, [1, 7], -3, 3, 3, truncation=0.8)
    assert cells.shape == (2, 3, 32, 32, 3)
    assert np.array_equal(cells[0, 1], model.generate([3], truncation=0.8)[0])
    ws = model.sampler.to_w(model.z([3]), truncation=0.8)
    ws[:, :, 7] += 3 * std[7]                                  # row 1, last column
    assert np.array_equal(cells[1, 2], to_uint8(model.sampler.images_from_w(ws))[0])
    in_z = model.explore(3, [1], -1, 1, 3, space="z")
    assert np.array_equal(in_z[0, 1], model.generate([3])[0])
    assert not np.array_equal(in_z[0, 0], cells[0, 0])


def test_explore_verb_writes_the_grid_deterministically(tiny_run, tmp_path):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert main(["explore", str(tiny_run), "--seed", "5", "--dims", "0,10,20", "--range",
                     "-3", "3", "--steps", "7", "--scale", "2", "--out", str(out),
                     "--no-labels"]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    grid = np.asarray(Image.open(outs[0]))[::2, ::2]
    assert grid.shape == (3 * 16, 7 * 16, 3)
    assert np.array_equal(grid[16:32, 48:64], ganvas.load(tiny_run).generate([5])[0])


@pytest.mark.parametrize("extra,needle", [
    (["--dims", "0,64"], "out of range: z has 64 dimensions, 0-63"),
    (["--dims", "x"], "bad dims"),
    (["--dims", "0", "--space", "w"], "needs a model with a w space"),
    (["--dims", "0", "--steps", "1"], "steps must be"),
    (["--dims", "0", "--range", "1", "1"], "bad range"),
    (["--dims", "0", "--seed", "1,2"], "one seed"),
    (["--dims", "0", "--out", "sweep.gif"], "must end in .png"),
])
def test_explore_mistakes(tiny_run, tmp_path, capsys, extra, needle):
    argv = ["explore", str(tiny_run), "--out", str(tmp_path / "s.png")] + extra
    if "--out" in extra:
        argv = ["explore", str(tiny_run)] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "s.png").exists()


def test_w_dims_are_checked_against_w_dim(sg2):
    with pytest.raises(GanvasError, match="w has 32 dimensions"):
        ganvas.load(sg2).explore(0, [32])
    assert torch.isfinite(w_std(ganvas.load(sg2).sampler)).all()
