"""ganvas style-mix: layer groups by resolution, the grid's layout, and each cell equal to
the synthesis network on the row seed's ws with the chosen layers from the column seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.config.schema import ModelConfig
from ganvas.errors import GanvasError
from ganvas.imaging import to_uint8
from ganvas.latent.stylemix import mix, parse_styles
from ganvas.models import build_generator

from tests.helpers import SG2, export_random


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("sg2m") / "model", **SG2)


@pytest.mark.parametrize("resolution", [32, 64, 256])
def test_style_layers_cover_every_w_of_the_model(resolution):
    G = build_generator(ModelConfig(**{**SG2, "resolution": resolution}))
    ids = [i for pair in G.style_layers().values() for i in pair]
    assert ids == list(range(G.num_ws))


def layers(resolution: int) -> dict[int, list[int]]:
    return build_generator(ModelConfig(**{**SG2, "resolution": resolution})).style_layers()


def test_parse_styles():
    assert parse_styles("coarse", layers(32)) == [0, 1, 2, 3]
    assert parse_styles("middle", layers(32)) == [4, 5, 6, 7]
    assert parse_styles("fine", layers(256)) == [8, 9, 10, 11, 12, 13]
    assert parse_styles("0-2,6", layers(32)) == [0, 1, 2, 6]
    assert parse_styles("coarse,7", layers(32)) == [0, 1, 2, 3, 7]
    with pytest.raises(GanvasError, match="no fine layers"):
        parse_styles("fine", layers(32))
    with pytest.raises(GanvasError, match="w indices 0-7"):
        parse_styles("5-8", layers(32))
    with pytest.raises(GanvasError, match="bad styles"):
        parse_styles("big", layers(32))


def test_grid_layout_and_cells_equal_the_direct_computation(sg2):
    model = ganvas.load(sg2)
    rows, cols = [1, 2, 3], [4, 5]
    cells = model.style_mix(rows, cols, "coarse", truncation=0.9)
    assert cells.shape == (4, 3, 32, 32, 3) and cells.dtype == np.uint8
    assert (cells[0, 0] == 255).all()
    assert np.array_equal(cells[0, 1:], model.generate(cols, truncation=0.9))
    assert np.array_equal(cells[1:, 0], model.generate(rows, truncation=0.9))
    w_r = model.sampler.to_w(model.z(rows), truncation=0.9)
    w_c = model.sampler.to_w(model.z(cols), truncation=0.9)
    ws = w_r[2].clone()
    ws[:4] = w_c[1, :4]                                    # coarse = 4x4 and 8x8 = w 0-3
    assert np.array_equal(cells[3, 2], to_uint8(model.sampler.images_from_w(ws[None]))[0])
    direct = to_uint8(model.G.synthesis(ws[None], noise_mode="const"))[0]   # batch of one
    assert np.abs(direct.astype(int) - cells[3, 2]).max() <= 1
    assert not np.array_equal(cells[3, 2], cells[0, 2])
    assert not np.array_equal(cells[3, 2], cells[3, 0])
    every = model.style_mix(rows, cols, "0-7")             # all layers: the column's picture
    assert np.array_equal(every[1:, 1:], np.broadcast_to(every[0:1, 1:], (3, 2, 32, 32, 3)))


def test_mix_swaps_only_the_chosen_layers():
    import torch
    w_r, w_c = torch.zeros(2, 8, 4), torch.ones(3, 8, 4)
    out = mix(w_r, w_c, [0, 3]).reshape(2, 3, 8, 4)
    assert (out[:, :, [0, 3]] == 1).all() and (out[:, :, [1, 2, 4, 5, 6, 7]] == 0).all()


def test_style_mix_verb(sg2, tiny_run, tmp_path, capsys):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert main(["style-mix", str(sg2), "--rows", "1,2,3", "--cols", "4,5,6", "--styles",
                     "middle", "--scale", "2", "--out", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    with Image.open(outs[0]) as im:
        assert im.size == (4 * 32 * 2, 4 * 32 * 2)
    assert main(["style-mix", str(tiny_run), "--rows", "1", "--cols", "2", "--out",
                 str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err
    assert "style-mix needs a model with style mixing (stylegan2, stylegan3-t, stylegan3-r)" \
        in err and err.count("\n") == 1
    assert main(["style-mix", str(sg2), "--rows", "1", "--cols", "2", "--styles", "fine",
                 "--out", str(tmp_path / "c.png")]) == 2
    assert "no fine layers" in capsys.readouterr().err
    assert main(["style-mix", str(sg2), "--rows", "x", "--cols", "2", "--out",
                 str(tmp_path / "c.png")]) == 2
    assert "bad seeds" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
