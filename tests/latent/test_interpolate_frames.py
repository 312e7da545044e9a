"""interpolate --out FOLDER/: one PNG per frame of the walk (the video's frames, --scale
honoured), written whole into a new or empty folder, or not at all."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ganvas
from ganvas.latent.frames import frame_name

from tests.helpers import DC, export_random, fail_third_render_chunk, run, usage_error


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("dcframes") / "model", **DC)


def read_frames(folder) -> list[np.ndarray]:
    out = []
    for path in sorted(folder.iterdir()):
        with Image.open(path) as im:
            out.append(np.asarray(im))
    return out


def test_a_folder_of_the_walks_frames(dc, tmp_path, capsys):
    out = tmp_path / "frames"
    assert run(["interpolate", dc, "--seeds", "3,7", "--frames-per-step", "6", "--scale", "2",
                "--out", f"{out}/"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame{i:05d}.png" for i in range(7)]       # 6 per step + the last
    expected = ganvas.load(dc).walk(seeds=[3, 7], frames_per_step=6).frames()
    frames = read_frames(out)
    for got, want in zip(frames, expected):
        assert np.array_equal(got, want.repeat(2, axis=0).repeat(2, axis=1))
    assert not np.array_equal(frames[0], frames[3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]   # no temporary left


def test_the_frames_are_the_gifs_frames(dc, tmp_path):
    """An existing empty folder takes the frames too; a loop has no repeated first frame, like
    the GIF of the same walk."""
    (tmp_path / "empty").mkdir()
    argv = ["interpolate", dc, "--seeds", "1,2,5", "--loop", "--frames-per-step", "4"]
    assert run([*argv, "--out", tmp_path / "empty"]) == 0
    assert run([*argv, "--out", tmp_path / "w.gif"]) == 0
    frames = read_frames(tmp_path / "empty")
    with Image.open(tmp_path / "w.gif") as gif:
        assert gif.n_frames == len(frames) == 12


def test_frame_names_sort_in_frame_order():
    assert frame_name(3, 7) == "frame00003.png"
    assert frame_name(7, 123_456) == "frame000007.png"
    assert sorted(frame_name(i, 200_000) for i in (99_999, 100_000, 5)) == [
        frame_name(5, 200_000), frame_name(99_999, 200_000), frame_name(100_000, 200_000)]


def test_a_failed_render_leaves_no_frames(dc, tmp_path, monkeypatch):
    calls = fail_third_render_chunk(monkeypatch)
    (tmp_path / "kept").mkdir()
    for out in (f"{tmp_path / 'new'}/", tmp_path / "kept"):
        calls.clear()
        with pytest.raises(RuntimeError, match="boom"):
            ganvas.load(dc).interpolate(out, [1, 2, 3], frames_per_step=4, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]         # no half sequence
    assert not list((tmp_path / "kept").iterdir())


def test_frames_folder_mistakes(dc, tmp_path, capsys):
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.png").write_bytes(b"keep me")
    (tmp_path / "a-file").write_text("x")
    base = ["interpolate", str(dc), "--seeds", "1,2", "--out"]
    assert "not empty" in usage_error([*base, str(full)], capsys)
    assert "not empty" in usage_error([*base, f"{full}/"], capsys)
    assert "not a folder" in usage_error([*base, f"{tmp_path / 'a-file'}/"], capsys)
    assert "or / (a folder of PNG frames)" in usage_error([*base, str(tmp_path / "frm")], capsys)
    assert "scale must be" in usage_error([*base, f"{tmp_path / 'f'}/", "--scale", "0"], capsys)
    assert "needs an .mp4" in usage_error([*base, f"{tmp_path / 'f'}/", "--audio", "s.wav"],
                                          capsys)
    assert (full / "mine.png").read_bytes() == b"keep me" and len(list(full.iterdir())) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "full"]
