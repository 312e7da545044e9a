"""ganvas interpolate: schedules, keyframes from seeds / classes / .npz, MP4 / GIF / PNG
output, determinism, atomic writes and the user's mistakes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.imaging import to_uint8
from ganvas.latent import animate, video
from ganvas.latent.interpolate import interpolate, lerp, schedule, slerp, smoothstep
from ganvas.latent.keyframes import save_latents
from tests.helpers import DC, SG2, export_random, fail_third_render_chunk, run


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("sg2") / "model", **SG2)


@pytest.fixture(scope="module")
def cond_dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("cdc") / "model", ("cat", "dog", "fox"), **DC)


@pytest.fixture(scope="module")
def cond_sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("csg2") / "model", ("cat", "dog"), **SG2)


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
        return out


# --- schedules and interpolation -------------------------------------------------------

def test_schedule_frame_counts_and_keyframes():
    seg, t = schedule(4, 5, loop=False)
    assert len(seg) == 3 * 5 + 1 and seg[-1] == 2 and t[-1] == 1
    seg, t = schedule(4, 5, loop=True)
    assert len(seg) == 4 * 5 and seg[-1] == 3 and t[-1] == pytest.approx(0.8)
    assert torch.equal(t[::5], torch.zeros(4)) and torch.equal(seg[::5], torch.arange(4))
    with pytest.raises(GanvasError, match="at least 2 keyframes"):
        schedule(1, 5)


def test_smooth_easing_keeps_the_end_points_and_slows_near_them():
    t = torch.linspace(0, 1, 11)
    s = smoothstep(t)
    assert s[0] == 0 and s[-1] == 1 and s[5] == pytest.approx(0.5)
    assert s[1] < t[1] and s[9] > t[9]                     # eases out of and into keyframes
    seg, eased = schedule(3, 4, easing="smooth")
    assert torch.equal(eased[::4], torch.tensor([0.0, 0.0, 1.0]))


@pytest.mark.parametrize("between", [slerp, lerp])
def test_interpolation_hits_the_keyframes_exactly(between):
    keys = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0))   # (K, ws, w)
    out = between(keys[0], keys[1], torch.tensor([0.0, 0.5, 1.0]))
    assert out.shape == (3, 4, 8)
    assert torch.equal(out[0], keys[0]) and torch.equal(out[2], keys[1])
    seg, t = schedule(3, 4, loop=False)
    frames = interpolate(keys, seg, t, "slerp" if between is slerp else "lerp")
    assert torch.equal(frames[::4], keys)
    assert torch.equal(lerp(keys[0], keys[1], torch.tensor([0.5]))[0], (keys[0] + keys[1]) / 2)


def test_slerp_of_equal_keys_stays_put():
    a = torch.randn(16)
    out = slerp(a, a.clone(), torch.linspace(0, 1, 5))          # angle 0: no NaN from 0/0
    assert torch.allclose(out, a.repeat(5, 1), atol=1e-6)


# --- frames of a model's walk ----------------------------------------------------------

@pytest.mark.parametrize("method,easing", [("slerp", "linear"), ("lerp", "smooth")])
def test_walk_frames_at_keyframes_are_the_seeds_images(tiny_run, method, easing):
    model = ganvas.load(tiny_run)
    walk = model.walk([3, 7, 11], frames_per_step=4, method=method, easing=easing)
    frames = walk.frames()
    assert frames.shape == (9, 16, 16, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[[0, 4, 8]], model.generate([3, 7, 11]))
    assert not np.array_equal(frames[1], frames[0])
    assert np.array_equal(walk.frames(2, 6), frames[2:6])           # chunks = the whole


@pytest.mark.parametrize("space", ["z", "w"])
def test_stylegan2_walk_in_z_and_w(sg2, space):
    model = ganvas.load(sg2)
    frames = model.walk([1, 2], frames_per_step=3, space=space, truncation=0.7).frames()
    assert np.array_equal(frames[[0, 3]], model.generate([1, 2], truncation=0.7))
    lin = model.walk([1, 2], frames_per_step=3, space=space, method="lerp").frames()
    assert not np.array_equal(lin[1], frames[1])


def test_loop_cycles_without_repeating_the_first_frame(tiny_run):
    model = ganvas.load(tiny_run)
    frames = model.walk([3, 7, 11], frames_per_step=6, loop=True).frames().astype(float)
    assert len(frames) == 18
    first, last, key1 = frames[0], frames[-1], frames[6]
    assert not np.array_equal(last, first)
    assert np.abs(last - first).mean() < np.abs(key1 - first).mean()     # heading back


def test_class_walk_interpolates_the_class_embedding(cond_dc, cond_sg2):
    for path in (cond_dc, cond_sg2):
        model = ganvas.load(path)
        z = model.z([5])
        table = model.sampler.class_table()
        labels = torch.tensor([1])
        assert np.array_equal(model.synthesize(z, labels),
                              to_uint8(model.sampler.images(z, table[labels])))
        frames = model.walk([5], class_walk=["cat", "dog"], frames_per_step=4).frames()
        assert len(frames) == 5
        assert np.array_equal(frames[0], model.generate([5], label="cat")[0])
        assert np.array_equal(frames[4], model.generate([5], label="dog")[0])
        assert not np.array_equal(frames[2], frames[0]) and not np.array_equal(frames[2],
                                                                                frames[4])
    w_walk = ganvas.load(cond_sg2).walk([5], class_walk=["cat", "dog"], frames_per_step=4,
                                        space="w").frames()
    assert np.array_equal(w_walk[[0, 4]], frames[[0, 4]])


def test_conditional_seed_walk_moves_between_the_seeds_classes(cond_dc):
    model = ganvas.load(cond_dc)
    frames = model.walk([0, 1], frames_per_step=4).frames()       # classes 0 and 1
    assert np.array_equal(frames[[0, 4]], model.generate([0, 1]))
    fixed = model.walk([0, 1], frames_per_step=4, label="fox").frames()
    assert np.array_equal(fixed[[0, 4]], model.generate([0, 1], label="fox"))


def test_latents_file_keyframes(sg2, cond_dc, tmp_path):
    model = ganvas.load(sg2)
    seeds = [4, 9]
    save_latents(tmp_path / "z.npz", z=model.z(seeds))
    by_file = model.walk(latents=tmp_path / "z.npz", frames_per_step=3).frames()
    assert np.array_equal(by_file, model.walk(seeds, frames_per_step=3).frames())
    ws = model.sampler.to_w(model.z(seeds))        # (2, num_ws, w_dim)
    for w in (ws, ws[:, 0]):
        save_latents(tmp_path / "w.npz", w=w)
        frames = model.walk(latents=tmp_path / "w.npz", frames_per_step=3).frames()
        assert np.array_equal(frames[[0, 3]], model.generate(seeds))
    cond = ganvas.load(cond_dc)
    save_latents(tmp_path / "c.npz", z=cond.z([0, 1]), labels=[2, 0])
    frames = cond.walk(latents=tmp_path / "c.npz", frames_per_step=2).frames()
    assert np.array_equal(frames[[0, 2]], np.concatenate([cond.generate([0], label=2),
                                                          cond.generate([1], label=0)]))
    save_latents(tmp_path / "nolab.npz", z=cond.z([0, 1]))
    with pytest.raises(GanvasError, match="no 'labels'"):
        cond.walk(latents=tmp_path / "nolab.npz")
    save_latents(tmp_path / "bad.npz", z=np.zeros((2, 5)))
    with pytest.raises(GanvasError, match=r"z must be \(K, 32\)"):
        model.walk(latents=tmp_path / "bad.npz")
    with pytest.raises(GanvasError, match="no 'z' array"):
        model.walk(latents=tmp_path / "w.npz", space="z")
    with pytest.raises(GanvasError, match="has no w space"):
        cond.walk(latents=tmp_path / "w.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(GanvasError, match="not a readable .npz"):
        model.walk(latents=tmp_path / "junk.npz")


# --- files -----------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["gif", "png"])
def test_same_command_same_bytes(tiny_run, tmp_path, ext):
    outs = [tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"]
    for out in outs:
        assert run(["interpolate", tiny_run, "--seeds", "3,7,11", "--frames-per-step", "4",
                    "--loop", "--easing", "smooth", "--scale", "2", "--out", out]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()


@pytest.mark.parametrize("loop,count", [(False, 9), (True, 12)])
def test_gif_has_one_frame_per_step_frame(tiny_run, tmp_path, loop, count):
    out = tmp_path / "walk.gif"
    argv = ["interpolate", tiny_run, "--seeds", "3,7,11", "--frames-per-step", "4",
            "--fps", "10", "--out", out] + (["--loop"] if loop else [])
    assert run(argv) == 0
    with Image.open(out) as im:
        assert im.n_frames == count and im.size == (16, 16)
        assert im.info["duration"] == 100 and im.info["loop"] == 0


def test_png_grid_has_one_row_per_step(tiny_run, tmp_path):
    out = tmp_path / "grid.png"
    assert run(["interpolate", tiny_run, "--seeds", "3,7,11", "--frames-per-step", "4",
                "--scale", "2", "--out", out]) == 0
    grid = np.asarray(Image.open(out))[::2, ::2]
    assert grid.shape == (2 * 16, 5 * 16, 3)                   # 2 steps x (4 + 1) frames
    keys = ganvas.load(tiny_run).generate([3, 7, 11])
    assert np.array_equal(grid[:16, :16], keys[0]) and np.array_equal(grid[:16, 64:], keys[1])
    assert np.array_equal(grid[16:, :16], keys[1]) and np.array_equal(grid[16:, 64:], keys[2])


def test_mp4_reads_back_with_the_right_frames_size_and_fps(tiny_run, tmp_path):
    iio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "walk.mp4"
    assert run(["interpolate", tiny_run, "--seeds", "3,7,11", "--frames-per-step", "5",
                "--loop", "--fps", "12", "--scale", "4", "--out", out]) == 0
    with iio.get_reader(out) as reader:
        meta = reader.get_meta_data()
        decoded = [f for f in reader]
    assert len(decoded) == 15 and meta["fps"] == 12
    assert decoded[0].shape == (64, 64, 3) and meta["size"] == (64, 64)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    expected = video.enlarge(ganvas.load(tiny_run).walk([3, 7, 11], frames_per_step=5,
                                                        loop=True).frames(7, 8), 4)[0]
    assert np.abs(decoded[7].astype(float) - expected).mean() < 8
    assert not list(tmp_path.glob(".*"))                       # no temporary left behind


def test_mp4_of_odd_sized_grey_and_rgba_frames_is_even_rgb(tmp_path):
    iio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    rng = np.random.default_rng(0)
    for c in (1, 4):
        frames = rng.integers(0, 256, (3, 5, 7, c), dtype=np.uint8)
        out = video.write_mp4(tmp_path / f"odd{c}.mp4", [frames[:2], frames[2:]], fps=5, scale=3)
        with iio.get_reader(out) as reader:
            got = [f for f in reader]
        assert len(got) == 3 and got[0].shape == (16, 22, 3)      # 15x21 padded to even
    grey = video.video_frames(np.full((1, 3, 3, 1), 7, np.uint8), 1)
    assert grey.shape == (1, 4, 4, 3) and (grey == 7).all()
    clear = video.to_rgb(np.zeros((1, 1, 1, 4), np.uint8))
    assert (clear == 255).all()                                 # transparent -> white


def test_frames_are_rendered_in_chunks(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(animate, "RENDER_CHUNK", 4)
    sizes = []
    original = animate.Walk.frames

    def spy(self, start=0, stop=None):
        out = original(self, start, stop)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(animate.Walk, "frames", spy)
    ganvas.load(tiny_run).interpolate(tmp_path / "w.gif", [1, 2, 3], frames_per_step=5,
                                      progress=False)
    assert sizes == [4, 4, 3]


@pytest.mark.parametrize("ext", ["mp4", "gif", "png"])
def test_a_failed_render_leaves_no_file(tiny_run, tmp_path, monkeypatch, ext):
    if ext == "mp4":
        pytest.importorskip("imageio_ffmpeg")
    fail_third_render_chunk(monkeypatch)
    with pytest.raises(RuntimeError, match="boom"):
        ganvas.load(tiny_run).interpolate(tmp_path / f"w.{ext}", [1, 2, 3],
                                          frames_per_step=4, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_gif_too_big_is_refused_before_rendering(tiny_run, tmp_path):
    with pytest.raises(GanvasError, match="too many for a GIF"):
        ganvas.load(tiny_run).interpolate(tmp_path / "w.gif", range(20),
                                          frames_per_step=10_000, scale=16)
    assert list(tmp_path.iterdir()) == []


# --- the user's mistakes ---------------------------------------------------------------

@pytest.mark.parametrize("extra,needle", [
    (["--seeds", "1,2", "--out", "walk.avi"], "must end in .mp4, .gif, .png"),
    (["--seeds", "x", "--out", "w.gif"], "bad seeds"),
    (["--seeds", "1", "--out", "w.gif"], "at least 2 keyframes"),
    (["--out", "w.gif"], "give keyframes"),
    (["--seeds", "1,2", "--space", "w", "--out", "w.gif"], "needs a model with a w space"),
    (["--seeds", "1,2", "--noise-mode", "random", "--out", "w.gif"], "noise inputs"),
    (["--class-walk", "a,b", "--out", "w.gif"], "unconditional"),
    (["--seeds", "1,2", "--class", "0", "--out", "w.gif"], "unconditional"),
    (["--seeds", "1,2", "--frames-per-step", "0", "--out", "w.gif"], "frames per step"),
    (["--seeds", "1,2", "--scale", "0", "--out", "w.gif"], "scale must be"),
    (["--seeds", "1,2", "--fps", "0", "--out", "w.gif"], "fps must be"),
    (["--latents", "nope.npz", "--out", "w.gif"], "latents file not found"),
    (["--seeds", "1,2", "--latents", "nope.npz", "--out", "w.gif"], "one way"),
    (["--seeds", "1,2", "--method", "cubic", "--out", "w.gif"], "invalid choice"),
    (["--seeds", "1,2"], "required: --out"),
])
def test_mistakes_are_one_line_exit_2_and_write_nothing(tiny_run, tmp_path, monkeypatch,
                                                        capsys, extra, needle):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="^2$") as e:     # its message is the exit code
        sys.exit(main(["interpolate", str(tiny_run), *extra]))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_class_walk_mistakes(cond_dc, tmp_path, capsys):
    base = ["interpolate", cond_dc, "--out", tmp_path / "w.gif"]
    assert run(base + ["--class-walk", "cat,wolf"]) == 2
    assert "unknown class 'wolf'" in capsys.readouterr().err
    assert run(base + ["--class-walk", "cat,dog", "--seeds", "1,2"]) == 2
    assert "give one seed" in capsys.readouterr().err
    assert run(base + ["--class-walk", "cat,dog", "--class", "fox"]) == 2
    assert "drop the class option" in capsys.readouterr().err
    assert run(["interpolate", tmp_path / "nope", "--seeds", "1,2", "--out",
                tmp_path / "w.gif"]) == 2
    assert "model not found" in capsys.readouterr().err
    assert run(base + ["--class-walk", "cat,dog,fox", "--seeds", "4", "--loop"]) == 0
    with Image.open(tmp_path / "w.gif") as im:
        assert im.n_frames == 3 * 24
