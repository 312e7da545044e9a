"""Pictures and walks shown inline in a notebook: Model.grid, Model.animate, ganvas.samples."""

from __future__ import annotations

import base64
import io
import re
import shutil

import numpy as np
import pytest
from PIL import Image, ImageSequence

import ganvas
from ganvas.display import Animation, Picture, show_scale
from ganvas.errors import GanvasError
from ganvas.imaging import make_grid


def decode_png(data: bytes) -> np.ndarray:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def decode_gif(data: bytes) -> list[np.ndarray]:
    assert data.startswith(b"GIF89a")
    with Image.open(io.BytesIO(data)) as im:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(im)]


@pytest.fixture(scope="module")
def model(tiny_run):
    return ganvas.load(tiny_run, device="cpu")


def test_grid_shows_the_pixels_of_generate(model, tmp_path):
    seeds = [5, 0, 9, 3, 7, 1]
    picture = model.grid(seeds, cols=3, pad=1)
    expected = make_grid(model.generate(seeds), cols=3, pad=1)
    assert np.array_equal(np.asarray(picture), expected)
    assert picture.shape == expected.shape == (16 * 2 + 1, 16 * 3 + 2, 3)
    assert picture.scale == 512 // (16 * 3 + 2) == 10               # shown at about 512 px
    shown = decode_png(picture._repr_png_())
    assert np.array_equal(shown[::10, ::10], expected)
    assert shown.shape == (expected.shape[0] * 10, expected.shape[1] * 10, 3)
    assert np.array_equal(decode_png(model.grid(seeds, cols=3, pad=1, scale=1)._repr_png_()),
                          expected)
    saved = picture.save(tmp_path / "grid.png")
    with Image.open(saved) as im:
        assert np.array_equal(np.asarray(im), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]      # no temporary left


def test_grid_refuses_bad_requests_before_any_work(model, tmp_path):
    with pytest.raises(GanvasError, match="scale must be from 1 to 16"):
        model.grid([1, 2], scale=0)
    with pytest.raises(GanvasError, match="give at least 1 seed"):
        model.grid([])
    with pytest.raises(GanvasError, match="must end in .png"):
        model.grid([1]).save(tmp_path / "grid.jpg")
    assert not any(tmp_path.iterdir())


def test_animation_frames_are_the_walks_frames(model, tmp_path):
    options = dict(frames_per_step=4, loop=True, easing="smooth")
    walk = model.walk(seeds=[1, 2, 3], **options)
    frames = walk.frames()
    animation = model.animate(seeds=[1, 2, 3], fps=10, **options)
    assert len(animation) == len(walk) == 12
    assert np.array_equal(np.asarray(animation), frames)
    assert animation.scale == 256 // 16
    html = animation._repr_html_()
    found = re.fullmatch(r'<img src="data:image/gif;base64,([A-Za-z0-9+/=]+)" width="256" '
                         r'height="256" alt="a walk of 12 frames"/>', html)
    assert found, html
    shown = decode_gif(base64.b64decode(found.group(1)))
    assert len(shown) == 12
    for got, want in zip(shown, frames):
        assert np.array_equal(got[::16, ::16], want)
    saved = decode_gif((animation.save(tmp_path / "walk.gif")).read_bytes())
    assert all(np.array_equal(got, want) for got, want in zip(saved, frames))
    with pytest.raises(GanvasError, match="saved as .gif or .mp4"):
        animation.save(tmp_path / "walk.png")
    long = Animation(np.zeros((2000, 64, 64, 3), np.uint8), scale=1)
    with pytest.raises(GanvasError, match="too many for a GIF"):
        long.save(tmp_path / "long.gif", scale=16)
    mp4 = animation.save(tmp_path / "walk.mp4", scale=2)
    assert mp4.read_bytes()[4:8] == b"ftyp"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.gif", "walk.mp4"]
    with pytest.raises(GanvasError, match="without sound"):
        model.animate(seeds=[1, 2], storyboard=True)


def test_animation_refuses_what_a_gif_cannot_hold_before_rendering(model):
    with pytest.raises(GanvasError, match="too many for a GIF"):
        model.animate(seeds=[1, 2], frames_per_step=10000, scale=16)
    with pytest.raises(GanvasError, match="fps must be from 0.1 to 240"):
        model.animate(seeds=[1, 2], fps=0)


def test_samples_is_the_runs_newest_grid(tiny_run, tmp_path):
    newest = sorted((tiny_run / "samples").glob("kimg-*.png"))[-1]
    picture = ganvas.samples(tiny_run)
    with Image.open(newest) as im:
        assert np.array_equal(np.asarray(picture), np.asarray(im))
    assert np.array_equal(decode_png(picture._repr_png_())[::picture.scale, ::picture.scale],
                          np.asarray(picture))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(tiny_run / "config.json", fresh / "config.json")
    with pytest.raises(GanvasError, match="has no sample grid yet"):
        ganvas.samples(fresh)
    with pytest.raises(GanvasError, match="not a run directory"):
        ganvas.samples(tmp_path)


def test_pictures_of_one_or_four_channels_show_as_such():
    rng = np.random.default_rng(0)
    for channels, mode_shape in ((1, (8, 6)), (4, (8, 6, 4))):
        pixels = rng.integers(0, 256, (8, 6, channels), dtype=np.uint8)
        shown = decode_png(Picture(pixels, scale=1)._repr_png_())
        assert shown.shape == mode_shape
        assert np.array_equal(shown.reshape(pixels.shape), pixels)
    with pytest.raises(GanvasError, match="must be uint8"):
        Picture(np.zeros((4, 4, 3)))
    with pytest.raises(GanvasError, match="must be uint8"):
        Animation(np.zeros((2, 4, 4, 2), np.uint8))


def test_show_scale():
    assert show_scale(16, 16, 512) == 16                   # capped at MAX_SCALE
    assert show_scale(64, 256, 512) == 2
    assert show_scale(1024, 1024, 512) == 1                # never shrunk
