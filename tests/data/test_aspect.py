"""Non-square pictures: the aspects the models make (ganvas.aspect), `prepare --aspect`, the
archive's record of it, every family training at 2:1 and 1:2, and every verb keeping the shape
(generate, the sample grid, walks, sweeps, style mixing, projection, export and ONNX, blend,
eval's SWD and the memorization check, resume), with one-line errors for what cannot be."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas import aspect as aspects
from ganvas.config.presets import PRESETS
from ganvas.data.archive import ArchiveWriter
from ganvas.data.dataset import load_archive
from ganvas.errors import ConfigError, GanvasError
from ganvas.latent.perceptual import vgg_size
from ganvas.metrics.memorization import pixel_vectors
from ganvas.metrics.swd import descriptor_positions, laplacian_pyramid, pyr_up, swd
from ganvas.models import MODELS

from tests.helpers import same, usage_error, weights
from tests.helpers import export_random

RES = 32
SMALL = dict(g_width=8, d_width=8, max_width=32, z_dim=32, batch=8, grid_size=16,
             progress=False)


# --- which shapes ----------------------------------------------------------------------------

def test_block_and_image_shapes():
    assert aspects.block_shape("1:1") == (4, 4)
    assert aspects.block_shape("2:1") == (4, 8) and aspects.block_shape("1:2") == (8, 4)
    assert aspects.block_shape("7:4") == (4, 7) and aspects.block_shape("4:1") == (4, 16)
    assert aspects.image_shape(64, "2:1") == (64, 128)          # resolution: the short side
    assert aspects.image_shape(256, "7:4") == (256, 448)
    assert aspects.image_shape(32, "1:2") == (64, 32)
    assert aspects.describe(32, "2:1") == "64x32 (2:1)" and aspects.describe(16, "1:1") == "16x16"
    made = aspects.supported()
    assert len(made) == 25 and made[0] == "1:4" and made[-1] == "4:1" and "1:1" in made
    for a in made:                                               # each one builds
        h0, w0 = aspects.block_shape(a)
        assert min(h0, w0) == 4 and abs(w0 / h0 - aspects.value(a)) < 1e-12
    for bad in ("4:2", "17:4", "9:2", "5:1", "1:1:1", "wide", "0:1", ""):
        q = re.escape(f"'{bad}'")
        with pytest.raises(ConfigError, match=f"^aspect {q} is not one the models make|"
                                              f"^aspect must be W:H .*; not {q}$"):
            aspects.block_shape(bad)


def test_nearest_aspect():
    assert aspects.nearest("16:9") == ("7:4", 1.75)
    assert aspects.nearest("9:16")[0] == "4:7"
    assert aspects.nearest("4:3")[0] == "5:4" and aspects.nearest("3:2")[0] == "3:2"
    assert aspects.nearest("1920:1080")[0] == "7:4" and aspects.nearest("2:2")[0] == "1:1"
    assert aspects.nearest("21:9")[0] == "9:4"
    assert aspects.nearest("43:10")[0] == "4:1"                  # within 10% of 4:1
    for bad in ("5:1", "1:5", "16/9", "a:b", "0:4", "-1:2"):
        with pytest.raises(ConfigError, match=f"^aspect {re.escape(bad)} is beyond what the "
                                              f"models make|^aspect must be W:H .*; not "
                                              f"{re.escape(repr(bad))}$"):
            aspects.nearest(bad)


# --- prepare ---------------------------------------------------------------------------------

def two_colour_folder(folder: Path, size=(60, 30), n=6) -> Path:
    """Pictures of `size` (W, H): left half red, right half blue, a black bar on top."""
    folder.mkdir(parents=True)
    w, h = size
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : w // 2] = (220, 20, 20)
        img[:, w // 2:] = (20, 20, 220)
        img[: h // 6] = 0
        img[h // 6:, :, 1] = 10 * i                      # distinct pictures (no duplicates)
        Image.fromarray(img).save(folder / f"{i}.png")
    return folder


def test_prepare_crops_and_pads_to_the_aspect(tmp_path):
    src = two_colour_folder(tmp_path / "wide", (60, 30))
    summary = ganvas.prepare(src, tmp_path / "w.zip", resolution=16, aspect="2:1",
                             progress=False)
    archive = load_archive(tmp_path / "w.zip")
    assert archive.aspect == "2:1" and archive.shape == (16, 32) and summary.kept == 6
    img = archive.images[0]
    assert img.shape == (16, 32, 3)
    assert img[8, 2, 0] > 200 and img[8, 29, 2] > 200          # red left, blue right: not rotated
    assert img[0, 16].max() < 30                                  # the bar is on top
    meta = json.loads(zipfile.ZipFile(tmp_path / "w.zip").read("dataset.json"))
    assert meta["aspect"] == "2:1" and meta["resolution"] == 16

    tall = ganvas.prepare(src, tmp_path / "t.zip", resolution=16, aspect="1:2", crop="pad",
                          progress=False)
    t = load_archive(tmp_path / "t.zip")
    assert t.shape == (32, 16) and tall.kept == 6
    img = t.images[0]
    assert (img[:8] == 255).all() and (img[-8:] == 255).all()   # padded above and below
    assert img[16, 2, 0] > 200 and img[16, 13, 2] > 200         # the whole picture between

    ganvas.prepare(src, tmp_path / "169.zip", resolution=16, aspect="16:9", progress=False)
    assert load_archive(tmp_path / "169.zip").shape == (16, 28)           # 7:4


def test_square_archives_are_unchanged(tmp_path):
    src = two_colour_folder(tmp_path / "src", (30, 30))
    ganvas.prepare(src, tmp_path / "a.zip", resolution=16, progress=False)
    ganvas.prepare(src, tmp_path / "b.zip", resolution=16, aspect="1:1", progress=False)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    meta = json.loads(zipfile.ZipFile(tmp_path / "a.zip").read("dataset.json"))
    assert "aspect" not in meta
    assert load_archive(tmp_path / "a.zip").shape == (16, 16)


def rewrite_meta(path: Path, **changes) -> None:
    """The archive at `path` with dataset.json's fields changed (a hand-edited archive)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["dataset.json"])
    meta.update(changes)
    members["dataset.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_an_archive_with_a_bad_aspect_is_refused(tmp_path):
    src = two_colour_folder(tmp_path / "src", (60, 30))
    for bad in ("5:1", "4:2", 2, ["2", "1"]):
        path = tmp_path / "bad.zip"
        ganvas.prepare(src, path, resolution=16, aspect="2:1", progress=False)
        rewrite_meta(path, aspect=bad)
        with pytest.raises(GanvasError, match="aspect must be"):
            load_archive(path)
    rewrite_meta(path, aspect="1:2")                   # pictures of another shape than it says
    with pytest.raises(GanvasError, match=r"member images/000000\.png is 32x16 RGB, not 16x32"):
        load_archive(path).images
    with pytest.raises(ValueError, match="uint8"):
        with ArchiveWriter(tmp_path / "x.zip", 16, 3, aspect="2:1") as w:
            w.add(np.zeros((16, 16, 3), np.uint8))


def test_prepare_cli_errors(tmp_path, capsys):
    src = two_colour_folder(tmp_path / "src", (60, 30))
    for bad in ("9:1", "wide", "0:3"):
        line = usage_error(["prepare", str(src), str(tmp_path / "o.zip"), "--aspect", bad],
                           capsys)
        assert "aspect" in line
    assert not (tmp_path / "o.zip").exists()


# --- every family, both ways -----------------------------------------------------------------

def aspect_archive(path: Path, aspect: str, resolution: int = RES, n: int = 32) -> str:
    """Red bars on white, the long way, at `aspect`."""
    rng = np.random.default_rng(0)
    with ArchiveWriter(path, resolution, 3, aspect=aspect) as w:
        h, wd = w.shape
        for i in range(n):
            img = np.full((h, wd, 3), 255, np.uint8)
            y, x = rng.integers(0, h // 2), rng.integers(0, wd // 2)
            img[y:y + h // 2, x:x + wd // 2] = rng.integers(0, 256, 3)
            w.add(img, source=f"bars/{i}.png")
        w.close()
    return str(path)


def tiny_preset(family: str) -> str:
    return next(n for n in PRESETS.names() if n.endswith("-tiny")
                and PRESETS.get(n)(RES)["model"].get("family", "dcgan") == family)


@pytest.fixture(scope="module")
def wide_data(tmp_path_factory):
    return aspect_archive(tmp_path_factory.mktemp("wide") / "wide.zip", "2:1")


@pytest.fixture(scope="module")
def tall_data(tmp_path_factory):
    return aspect_archive(tmp_path_factory.mktemp("tall") / "tall.zip", "1:2")


@pytest.fixture(scope="module", params=MODELS.names())
def wide_run(request, wide_data, tmp_path_factory):
    """(family, a run trained on 2:1 pictures) for every family."""
    path = ganvas.train(wide_data, out=tmp_path_factory.mktemp(request.param),
                        model=tiny_preset(request.param), kimg=0.032, snap_kimg=0.016,
                        tick_kimg=0.016, seed=1, **SMALL)
    return request.param, path


def test_every_family_trains_wide_and_every_verb_keeps_the_shape(wide_run, tmp_path,
                                                                monkeypatch):
    family, run = wide_run
    model = ganvas.load(run, device="cpu")
    assert model.aspect == "2:1" and model.shape == (RES, 2 * RES)
    assert "64x32 (2:1)" in repr(model)
    assert json.loads((run / "config.json").read_text())["model"]["aspect"] == "2:1"
    images = model.generate([0, 1, 2])
    assert images.shape == (3, RES, 2 * RES, 3)
    grid = sorted((run / "samples").glob("*.png"))[-1]
    with Image.open(grid) as g:                                      # 4 x 4 cells, scale 2
        assert g.size[0] > g.size[1] * 1.8

    walk = model.interpolate(tmp_path / "walk.gif", seeds=[0, 1], frames_per_step=2,
                             progress=False)
    with Image.open(walk) as g:
        assert g.size == (2 * RES, RES) and g.n_frames == 3
    import imageio.v2 as imageio
    video = model.interpolate(tmp_path / "walk.mp4", seeds=[0, 1], frames_per_step=2,
                              progress=False)
    with imageio.get_reader(video) as reader:
        assert reader.get_data(0).shape == (RES, 2 * RES, 3)
    assert model.explore(0, [0, 1], steps=3).shape == (2, 3, RES, 2 * RES, 3)
    target = tmp_path / "target.png"
    Image.fromarray(images[1]).save(target)

    def no_vgg(*args, **kwargs):
        raise GanvasError("no VGG-16 weights in the tests")
    monkeypatch.setattr("ganvas.latent.perceptual.load_vgg16", no_vgg)
    model.project([target], tmp_path / "proj", steps=2, progress=False)
    with Image.open(tmp_path / "proj" / "reconstruction.png") as g:
        assert g.size[0] > g.size[1]                    # target beside reconstruction

    exported = ganvas.load(model.export(tmp_path / "exported"))
    assert exported.aspect == "2:1"
    assert np.array_equal(exported.generate([0, 1, 2]), images)
    blended = ganvas.load(model.blend(run, tmp_path / "blend", swap_at=8))
    assert np.array_equal(blended.generate([0, 1, 2]), images)


@pytest.mark.parametrize("family", MODELS.names())
def test_every_family_trains_tall(family, tall_data, tmp_path):
    run = ganvas.train(tall_data, out=tmp_path, model=tiny_preset(family), kimg=0.016,
                       snap_kimg=0.016, tick_kimg=0.016, seed=1, **SMALL)
    model = ganvas.load(run)
    assert model.generate([0, 1]).shape == (2, 2 * RES, RES, 3)


def test_style_mixing_and_onnx_keep_the_shape(wide_data, tmp_path):
    pytest.importorskip("onnxruntime")
    run = ganvas.train(wide_data, out=tmp_path, model=tiny_preset("stylegan2"), kimg=0.016,
                       snap_kimg=0.016, tick_kimg=0.016, seed=1, **SMALL)
    model = ganvas.load(run)
    mix = model.style_mix([1, 2], [3, 4], styles="coarse", out=tmp_path / "mix.png")
    assert mix.shape == (3, 3, RES, 2 * RES, 3)   # the blank corner, the sources, the mixes
    with Image.open(tmp_path / "mix.png") as g:
        assert g.size[0] > g.size[1] * 1.8
    written = Path(model.export(tmp_path / "onnx", format="onnx", uint8=True))
    import onnxruntime as ort
    session = ort.InferenceSession(str(written if written.suffix == ".onnx" else
                                       next(written.glob("*.onnx"))))
    z = model.z([5]).numpy()
    feeds = {i.name: (z if i.name == "z" else np.ones(1, np.float32))
             for i in session.get_inputs()}
    out = session.run(None, feeds)[0]                           # NHWC pixels
    assert out.shape == (1, RES, 2 * RES, 3)
    expected = model.synthesize(torch.from_numpy(z), None, 1.0, "const")
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1


def test_resume_is_bit_exact_and_fine_tuning_keeps_the_aspect(wide_data, tmp_path, capsys):
    opts = dict(model="dcgan-tiny", snap_kimg=0.016, tick_kimg=0.016, seed=2, **SMALL)
    whole = ganvas.train(wide_data, out=tmp_path / "whole", kimg=0.032, **opts)
    half = ganvas.train(wide_data, out=tmp_path / "half", kimg=0.016, **opts)
    resumed = ganvas.resume(half, kimg=0.032, progress=False)
    last = lambda run: sorted((run / "checkpoints").iterdir())[-1]   # noqa: E731
    assert same(weights(last(whole), "G_ema"), weights(last(resumed), "G_ema"))
    square = tmp_path / "square.zip"
    with ArchiveWriter(square, RES, 3) as w:
        for i in range(8):
            w.add(np.full((RES, RES, 3), 30 * i, np.uint8))
        w.close()
    line = usage_error(["train", str(square), "--init-from", str(whole), "--kimg", "0.016",
                        "--out", str(tmp_path / "ft")], capsys)
    assert "it makes 64x32 (2:1) px RGB pictures, this run's are 32x32 px RGB" in line
    fine = ganvas.train(wide_data, out=tmp_path / "ft", init_from=str(whole), kimg=0.016,
                        snap_kimg=0.016, tick_kimg=0.016, **SMALL)
    assert ganvas.load(fine).aspect == "2:1"


def test_a_model_json_with_a_bad_aspect_is_refused(tmp_path):
    path = export_random(tmp_path / "m", family="dcgan", resolution=16, z_dim=16, g_width=8,
                         d_width=8, aspect="2:1")
    assert ganvas.load(path).generate([0]).shape == (1, 16, 32, 3)
    info = json.loads((path / "model.json").read_text())
    info["model"]["aspect"] = "9:1"
    (path / "model.json").write_text(json.dumps(info))
    with pytest.raises(GanvasError, match="aspect"):
        ganvas.load(path)


# --- measuring non-square pictures -----------------------------------------------------------

def test_eval_and_memorization_on_a_wide_model(wide_data, tmp_path):
    run = ganvas.train(wide_data, out=tmp_path, model="dcgan-tiny", kimg=0.016,
                       snap_kimg=0.016, tick_kimg=0.016, seed=1, **SMALL)
    result = ganvas.evaluate(run, metrics="swd", num=16, device="cpu")["metrics"]
    assert [lv["resolution"] for lv in result["swd_levels"]] == [32, 16] and result["swd"] > 0
    check = ganvas.memorization(run, num=8, extractor="random-conv", out_dir=tmp_path / "mem",
                                device="cpu")
    assert check["train_images"] == 32 and "copying" in check["verdict"]
    with Image.open(tmp_path / "mem" / "memorization-pixels.png") as g:
        pixels = np.asarray(g)
    assert pixels.shape[1] > pixels.shape[0] / 8           # rows of wide cells


def test_swd_on_non_square_pictures():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((2, 3, 32, 64))).float()
    levels = laplacian_pyramid(x)
    assert [tuple(lv.shape[-2:]) for lv in levels] == [(32, 64), (16, 32)]
    assert torch.allclose(levels[0] + pyr_up(levels[1]), x, atol=1e-5)
    a = rng.integers(0, 256, (6, 32, 56, 3), dtype=np.uint8)          # 7:4 at 32 px
    b = rng.integers(0, 256, (6, 32, 56, 3), dtype=np.uint8)
    same_sets = swd(a, a, descriptors_per_image=16, num_projections=32)
    assert [lv["resolution"] for lv in same_sets["levels"]] == [32, 16]
    assert same_sets["mean"] == 0
    assert swd(a, b, descriptors_per_image=16, num_projections=32)["mean"] > 0
    with pytest.raises(GanvasError, match="short side"):
        swd(a[:, :, :51], a[:, :, :51])                   # 51 does not halve with 32
    with pytest.raises(GanvasError, match="short side"):
        swd(a[:, :24], a[:, :24])
    gen = lambda: torch.Generator().manual_seed(3)         # noqa: E731
    pos = descriptor_positions(10, (16, 28), 50, gen())
    assert pos[..., 0].max() <= 16 - 7 and pos[..., 1].max() <= 28 - 7
    assert pos[..., 1].max() > 16 - 7                      # the long side is used
    assert torch.equal(torch.cat([descriptor_positions(4, (16, 28), 50, g := gen()),
                                  descriptor_positions(6, (16, 28), 50, g)]), pos)
    square = descriptor_positions(5, 16, 8, gen())           # square levels: as before
    assert torch.equal(square, torch.randint(0, 10, (5, 8, 2), generator=gen()))


def test_projection_and_pixel_distances_keep_the_aspect():
    x = torch.rand(2, 3, 32, 64)
    assert tuple(vgg_size(x).shape[-2:]) == (64, 128)          # up to a 64 px short side
    assert tuple(vgg_size(torch.rand(1, 3, 512, 256)).shape[-2:]) == (512, 256)   # as it is
    big = vgg_size(torch.rand(1, 3, 1024, 512))
    assert tuple(big.shape[-2:]) == (512, 256)
    assert tuple(vgg_size(torch.rand(1, 3, 64, 64)).shape[-2:]) == (64, 64)
    images = np.zeros((3, 64, 128, 3), np.uint8)
    assert pixel_vectors(images, size=16).shape == (3, 3 * 16 * 32)


def test_augmentations_keep_the_shape():
    from ganvas.augment import diff_augment, diff_augment_names
    from ganvas.augment.ada import AugmentPipe
    from ganvas.augment.classic import classic
    x = torch.rand(4, 3, 16, 32) * 2 - 1
    pipe = AugmentPipe("bgcfnc")
    pipe.p = 1.0
    for y in (pipe(x, torch.Generator().manual_seed(0)),
              diff_augment(x, diff_augment_names(), torch.Generator().manual_seed(0)),
              classic(x, torch.Generator().manual_seed(0))):
        assert y.shape == x.shape and torch.isfinite(y).all() and not torch.equal(y, x)
