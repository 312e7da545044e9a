"""explore's grid names its rows (z[10], w[3], dir 2) and columns (-3.0 ... +3.0) in a white
margin; the cells stay the pixels of the bare grid (--no-labels)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ganvas
from ganvas.imaging import label_grid, make_grid
from ganvas.latent.explore import dim_labels, direction_labels, value_labels

from tests.helpers import DC, export_random, run

CELL = 16


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("dclabels") / "model", **DC)


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def ink(area: np.ndarray) -> int:
    """Pixels of an RGB(A) margin area that are not white: the text's."""
    return int((area[..., :3] < 128).any(axis=-1).sum())


def test_the_label_texts():
    assert value_labels(-3, 3, 7) == ["-3.0", "-2.0", "-1.0", "0", "+1.0", "+2.0", "+3.0"]
    assert value_labels(0, 1, 3) == ["0", "+0.5", "+1.0"]
    assert value_labels(-1, 1, 4) == ["-1.0", "-0.333", "+0.333", "+1.0"]
    assert dim_labels([0, 10], "z") == ["z[0]", "z[10]"] and dim_labels([3], "w") == ["w[3]"]
    assert direction_labels([0, 2]) == ["dir 0", "dir 2"]


@pytest.mark.parametrize("mode", ["sweep", "directions"])
def test_labelled_grid_keeps_the_cells_and_names_every_row_and_column(dc, tmp_path, mode):
    extra = ["--dims", "0,7,15"]
    if mode == "directions":
        dirs = tmp_path / "dirs.npz"
        assert run(["directions", dc, "--num", "3", "--out", dirs]) == 0
        extra = ["--directions", dirs, "--dims", "0-2"]
    argv = ["explore", dc, "--seed", "3", *extra, "--range", "-3", "3", "--steps", "7",
            "--scale", "2"]
    assert run([*argv, "--out", tmp_path / "bare.png", "--no-labels"]) == 0
    assert run([*argv, "--out", tmp_path / "labelled.png"]) == 0
    bare, labelled = pixels(tmp_path / "bare.png"), pixels(tmp_path / "labelled.png")
    assert bare.shape == (3 * CELL * 2, 7 * CELL * 2, 3)
    top = labelled.shape[0] - bare.shape[0]
    left = labelled.shape[1] - bare.shape[1]
    assert top > 5 and left > 10
    assert np.array_equal(labelled[top:, left:], bare)          # the cells, pixel for pixel
    row_h, col_w = 2 * CELL, 2 * CELL
    for r in range(3):                                           # a name beside every row
        assert ink(labelled[top + r * row_h:top + (r + 1) * row_h, :left]) > 10
    for c in range(7):                                           # a value above every column
        assert ink(labelled[:top, left + c * col_w:left + (c + 1) * col_w]) > 5
    assert (labelled[:top, :left] == 255).all()                  # the corner stays empty


def test_labels_say_what_they_name(dc, tmp_path):
    """Different names draw different text: z[0] is not z[10], -3.0 is not +3.0."""
    base = ["explore", dc, "--seed", "1", "--steps", "3", "--range"]
    assert run([*base, "-3", "3", "--dims", "0,10", "--out", tmp_path / "a.png"]) == 0
    assert run([*base, "-3", "3", "--dims", "10,0", "--out", tmp_path / "b.png"]) == 0
    a, b = pixels(tmp_path / "a.png"), pixels(tmp_path / "b.png")
    top, left = a.shape[0] - 2 * CELL, a.shape[1] - 3 * CELL
    assert np.array_equal(a[top:top + CELL, :left], b[top + CELL:, :left])   # z[0] moved down
    assert not np.array_equal(a[top:top + CELL, :left], a[top + CELL:, :left])
    assert not np.array_equal(a[:top, left:left + CELL], a[:top, -CELL:])    # -3.0 vs +3.0


def test_api_labels_by_default_and_bare_on_request(dc, tmp_path):
    model = ganvas.load(dc)
    cells = model.explore(2, [1, 5], -2, 2, 5, out=tmp_path / "l.png")
    model.explore(2, [1, 5], -2, 2, 5, out=tmp_path / "b.png", labels=False)
    bare = make_grid(cells.reshape(-1, CELL, CELL, 3), cols=5)
    assert np.array_equal(pixels(tmp_path / "b.png"), bare)
    labelled = pixels(tmp_path / "l.png")
    assert np.array_equal(labelled[-bare.shape[0]:, -bare.shape[1]:], bare)
    assert labelled.shape[0] > bare.shape[0] and labelled.shape[1] > bare.shape[1]
    found = model.directions(num=2)
    model.explore_directions(2, found, [0, 1], out=tmp_path / "d.png", steps=3)
    model.explore_directions(2, found, [0, 1], out=tmp_path / "db.png", steps=3, labels=False)
    d, db = pixels(tmp_path / "d.png"), pixels(tmp_path / "db.png")
    assert d.shape[0] > db.shape[0] and np.array_equal(d[-db.shape[0]:, -db.shape[1]:], db)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_label_grid_keeps_grey_and_alpha_grids(channels):
    rng = np.random.default_rng(channels)
    grid = rng.integers(0, 256, (2 * CELL, 3 * CELL, channels), dtype=np.uint8)
    out = label_grid(grid, ["z[0]", "z[1]"], ["-1.0", "0", "+1.0"])
    assert out.dtype == np.uint8 and out.shape[2] == channels
    assert np.array_equal(out[-grid.shape[0]:, -grid.shape[1]:], grid)
    margin = out[:out.shape[0] - grid.shape[0]]
    assert (margin < 128).any() and (margin == 255).mean() > 0.5   # dark text on white
    if channels == 4:
        assert (margin[..., 3] == 255).all()                       # an opaque margin
