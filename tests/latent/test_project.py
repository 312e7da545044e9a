"""ganvas project: a model finds latents for its own pictures, the latents file works as
interpolate keyframes, the video, the VGG distance and its offline fallback, and mistakes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.imaging import save_png
from ganvas.latent.perceptual import laplacian_pyramid, vgg16_features
from ganvas.metrics import weights as w

from tests.helpers import DC, SG2, export_random


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No VGG-16 weights anywhere: no variable, an empty cache, a download that fails."""
    entry = w.WEIGHTS.get("vgg16")
    monkeypatch.delenv(entry.env, raising=False)
    monkeypatch.setitem(w.WEIGHTS._entries, "vgg16", w.WeightFile(
        entry.filename, "http://127.0.0.1:9/" + entry.filename, entry.sha256_prefix, entry.env))


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("p-sg2") / "model", **SG2)


@pytest.fixture(scope="module")
def cond_dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("p-cdc") / "model", ("cat", "dog"), **DC)


def run(argv) -> int:
    return main([str(a) for a in argv])


def targets_of(model, seeds, folder, label=None) -> list:
    """The model's own pictures of `seeds` as PNG files (what a user would give)."""
    images = model.generate(seeds, label=label)
    return [save_png(img, folder / f"t{s}.png") for s, img in zip(seeds, images)]


def reconstructions(folder, k: int, res: int) -> np.ndarray:
    """The right column of reconstruction.png (scale 1, 1 px gaps): uint8 (k, res, res, C)."""
    grid = np.asarray(Image.open(folder / "reconstruction.png"))
    return np.stack([grid[r * (res + 1):r * (res + 1) + res, res + 1:2 * res + 1]
                     for r in range(k)])


def test_dcgan_finds_its_own_pictures_and_they_are_keyframes(tiny_run, tmp_path, capsys):
    model = ganvas.load(tiny_run)
    files = targets_of(model, [123, 456], tmp_path)
    result = model.project(files, out=tmp_path / "p", steps=60, progress=False)
    assert "using the laplacian-l1 pixel distance" in capsys.readouterr().out
    assert result["distance"]["name"] == "laplacian-l1" and result["distance"]["fallback"]
    assert result["space"] == "z"
    for row in result["targets"]:
        assert row["start_mse"] > 30 * row["mse"] and row["mse"] < 1e-3
        assert row["distance"] < row["start_distance"]
    saved = json.loads((tmp_path / "p" / "projection.json").read_text())
    assert saved["targets"] == result["targets"]
    recon = reconstructions(tmp_path / "p", 2, 16)
    target = model.generate([123, 456])
    assert np.abs(recon.astype(int) - target.astype(int)).mean() < 1.0    # levels of 255
    with np.load(tmp_path / "p" / "latent.npz") as f:
        assert sorted(f.files) == ["z"] and f["z"].shape == (2, model.z_dim)
    frames = model.walk(latents=tmp_path / "p" / "latent.npz", frames_per_step=1).frames()
    assert np.array_equal(frames, recon)


def test_same_seed_same_latents(tiny_run, tmp_path):
    model = ganvas.load(tiny_run)
    files = targets_of(model, [3], tmp_path)
    for out in ("a", "b"):
        model.project(files, out=tmp_path / out, steps=5, seed=7, progress=False)
    with np.load(tmp_path / "a" / "latent.npz") as a, np.load(tmp_path / "b" / "latent.npz") as b:
        assert np.array_equal(a["z"], b["z"])


def test_stylegan2_projects_in_w_and_interpolate_reads_it(sg2, tmp_path):
    model = ganvas.load(sg2)
    files = targets_of(model, [5, 6], tmp_path)
    result = model.project(files, out=tmp_path / "p", steps=100, progress=False)
    assert result["space"] == "w"
    for row in result["targets"]:
        assert row["start_mse"] > 100 * row["mse"]
    with np.load(tmp_path / "p" / "latent.npz") as f:
        assert sorted(f.files) == ["w"] and f["w"].shape == (2, model.G.w_dim)
    grid = tmp_path / "walk.png"
    assert run(["interpolate", sg2, "--latents", tmp_path / "p" / "latent.npz",
                "--frames-per-step", "1", "--out", grid]) == 0
    keys = np.asarray(Image.open(grid))                   # one row: keyframe 0, keyframe 1
    recon = reconstructions(tmp_path / "p", 2, 32)
    assert np.array_equal(keys, np.concatenate(list(recon), axis=1))


def test_w_plus_has_one_w_per_layer(sg2, tmp_path):
    model = ganvas.load(sg2)
    files = targets_of(model, [5], tmp_path)
    result = model.project(files, out=tmp_path, steps=3, w_plus=True, progress=False)
    assert result["space"] == "w+"
    with np.load(tmp_path / "latent.npz") as f:
        assert f["w"].shape == (1, model.G.num_ws, model.G.w_dim)


def test_conditional_latents_keep_their_classes(cond_dc, tmp_path):
    model = ganvas.load(cond_dc)
    files = targets_of(model, [1, 2], tmp_path, label="dog")
    result = model.project(files, out=tmp_path / "p", steps=3, label="dog", progress=False)
    assert [r["class"] for r in result["targets"]] == ["dog", "dog"]
    with np.load(tmp_path / "p" / "latent.npz") as f:
        assert f["labels"].tolist() == [1, 1]
    frames = model.walk(latents=tmp_path / "p" / "latent.npz", frames_per_step=1).frames()
    assert np.array_equal(frames, reconstructions(tmp_path / "p", 2, 16))
    free = model.project(files, out=tmp_path / "q", steps=1, progress=False)
    assert all(r["class"] in ("cat", "dog") for r in free["targets"])


def test_video_has_a_frame_per_step(tiny_run, tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    model = ganvas.load(tiny_run)
    files = targets_of(model, [1], tmp_path)
    assert run(["project", tiny_run, *files, "--steps", 4, "--out", tmp_path / "p",
                "--save-video", "--scale", 2]) == 0
    reader = imageio.get_reader(tmp_path / "p" / "projection.mp4")
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == 4 + 1 and frames[0].shape == (16 * 2, 33 * 2, 3)
    last = frames[-1][:32, 34:].astype(int)           # the reconstruction, enlarged twice
    recon = np.asarray(Image.open(tmp_path / "p" / "reconstruction.png"))[:32, 34:]
    assert np.abs(last - recon.astype(int)).mean() < 8            # H.264, not lossless
    model.project(files, out=tmp_path / "g", steps=3, video="steps.gif", progress=False)
    with Image.open(tmp_path / "g" / "steps.gif") as gif:        # identical frames merge
        assert 2 <= gif.n_frames <= 3 + 1 and gif.size == (33, 16)
    with pytest.raises(ganvas.GanvasError, match="must be an .mp4 or .gif"):
        model.project(files, out=tmp_path / "g", steps=3, video="steps.avi", progress=False)


def test_vgg_distance_is_used_with_given_weights(sg2, tmp_path, capsys):
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg16_features().state_dict().items()}
    torch.save(state, tmp_path / "vgg16.pth")
    model = ganvas.load(sg2)
    files = targets_of(model, [5], tmp_path)
    assert run(["project", sg2, *files, "--steps", 2, "--out", tmp_path / "p",
                "--feature-weights", tmp_path / "vgg16.pth"]) == 0
    assert "vgg16-lpips" in capsys.readouterr().out
    result = json.loads((tmp_path / "p" / "projection.json").read_text())
    assert result["distance"]["name"] == "vgg16-lpips"
    assert result["distance"]["weights"]["official"] is False
    assert not result["distance"].get("fallback")


def test_laplacian_pyramid_levels_add_back_up():
    x = torch.randn(2, 3, 16, 16)
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [16, 8, 4]
    up = levels[-1]
    for band in reversed(levels[:-1]):
        up = band + torch.nn.functional.interpolate(up, scale_factor=2, mode="bilinear",
                                                    align_corners=False)
    assert torch.allclose(up, x, atol=1e-5)


@pytest.mark.parametrize("case,needle", [
    ("missing", "not-an-image|unreadable"),
    ("text", "not-an-image"),
    ("weights", "vgg16 weights not found"),
    ("bad-weights", "does not hold vgg16 weights"),
    ("class", "unconditional"),
    ("w-plus", "w+ projection needs a model with w space"),
    ("steps", "steps must be"),
    ("video", "invalid choice"),
    ("model", "model not found"),
])
def test_mistakes_exit_2_with_one_line(tiny_run, tmp_path, capsys, case, needle):
    target = tmp_path / "t.png"
    save_png(np.zeros((16, 16, 3), np.uint8), target)
    (tmp_path / "notes.png").write_text("not a picture")
    torch.save({"fc.weight": torch.zeros(2)}, tmp_path / "other.pth")
    model, extra = tiny_run, []
    if case == "missing":
        target = tmp_path / "nothing.png"
    elif case == "text":
        target = tmp_path / "notes.png"
    elif case == "weights":
        extra = ["--feature-weights", tmp_path / "no.pth"]
    elif case == "bad-weights":
        extra = ["--feature-weights", tmp_path / "other.pth"]
    elif case == "class":
        extra = ["--class", "1"]
    elif case == "w-plus":
        extra = ["--w-plus"]
    elif case == "steps":
        extra = ["--steps", "0"]
    elif case == "video":
        extra = ["--save-video", "--video-format", "avi"]
    elif case == "model":
        model = tmp_path / "no-model"
    try:
        code = run(["project", model, target, "--out", tmp_path / "p", *extra])
    except SystemExit as e:                    # argparse's own errors exit from parse_args
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and any(n in err for n in needle.split("|"))
    assert not (tmp_path / "p" / "latent.npz").exists()


def test_callback_reports_every_step(tiny_run, tmp_path):
    """The page's progress bar: callback(step, steps, distance) after each step, in order."""
    model = ganvas.load(tiny_run)
    calls = []
    model.project(targets_of(model, [2], tmp_path), out=tmp_path / "p", steps=5,
                  progress=False, callback=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(i, 5) for i in range(1, 6)]
    assert all(np.isfinite(c[2]) and c[2] >= 0 for c in calls)


def test_model_w_is_the_w_space_keyframe_of_a_seed(sg2, tiny_run):
    """Model.w lets seeds and projected ws share a walk; z-only families get a clear error."""
    from ganvas.errors import GanvasError
    model = ganvas.load(sg2)
    ws = model.w([3, 5], truncation=0.7)
    assert ws.shape == (2, model.G.num_ws, model.G.w_dim)
    walk = model.walk(latents=None, seeds=[3, 5], space="w", truncation=0.7,
                      frames_per_step=2)
    assert np.array_equal(walk.frames(0, 1)[0], model.generate([3], truncation=0.7)[0])
    with pytest.raises(GanvasError, match=r"needs a model with w space \(stylegan2, stylegan3-t"):
        ganvas.load(tiny_run).w([0])
