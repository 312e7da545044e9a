"""prepare: folder of pictures -> dataset archive. Inputs are built on the fly in tmp_path."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from ganvas.data import prepare as prepare_mod
from ganvas.data.archive import ArchiveWriter, read_archive, read_manifest, read_meta
from ganvas.data.images import load_image
from ganvas.data.prepare import IMAGE_EXTENSIONS, prepare, prepare_cached
from ganvas.errors import GanvasError

from tests.helpers import make_png_folder

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


# --- helpers -----------------------------------------------------------------------------

def solid(size=(32, 32), colour=RED, mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def halves(size=(64, 32), left=RED, right=BLUE) -> Image.Image:
    """Left half `left`, right half `right`: asymmetric, so rotations are visible."""
    im = solid(size, left)
    im.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return im


def save(im: Image.Image, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **kw)
    return path


def noise(seed: int, size=(32, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def run(src: Path, out: Path, **kw):
    """prepare with quiet, serial defaults; returns (summary, archive, manifest)."""
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    kw.setdefault("resolution", 16)
    summary = prepare(src, out, **kw)
    return summary, read_archive(out), read_manifest(out)


def load(path: Path, resolution=16, channels=3, **kw) -> np.ndarray:
    """load_image that must succeed: uint8 (resolution, resolution, channels)."""
    result = load_image(path, resolution, channels, **kw)
    assert result.ok, (result.reason, result.detail)
    assert result.pixels.dtype == np.uint8
    assert result.pixels.shape == (resolution, resolution, channels)
    return result.pixels


def close(pixel, expected, tol=12) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, int) - np.asarray(expected, int)) <= tol))


def bomb_png(path: Path, side=100_000) -> Path:
    """A tiny PNG whose header claims side x side pixels (no real pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def truncated_jpeg(path: Path) -> Path:
    save(noise(0, (64, 64)), path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


# --- decoding one image ------------------------------------------------------------------

def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display = rotate 90 degrees clockwise
    path = save(halves((64, 32)), tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    px = load(path)
    # Clockwise rotation moves the left (red) half to the top, the right (blue) to the bottom.
    assert close(px[2, 4], RED, 40) and close(px[13, 4], BLUE, 40)
    assert close(px[2, 11], RED, 40) and close(px[13, 11], BLUE, 40)
    no_exif = load(save(halves((64, 32)), tmp_path / "plain.jpg", quality=95))
    assert close(no_exif[2, 2], RED, 40) and close(no_exif[13, 13], BLUE, 40)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (32, 32), 0)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (16, 0, 32, 32))  # right half green, left half index 0 = transparent
    path = save(im, tmp_path / "p.png", transparency=0)
    rgb = load(path)
    assert close(rgb[8, 2], (255, 255, 255), 2) and close(rgb[8, 13], GREEN, 2)
    rgba = load(path, channels=4)
    assert rgba[8, 2, 3] == 0 and close(rgba[8, 13], GREEN + (255,), 2)


def test_cmyk_jpeg(tmp_path):
    path = save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    assert close(load(path)[8, 8], RED, 20)


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    path = save(Image.new("I;16", (32, 32), 32768), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    assert close(load(path, channels=1)[8, 8], [128], 1)
    assert close(load(path, channels=3)[8, 8], [128] * 3, 1)


def test_32_bit_int_and_float_tiff(tmp_path):
    i32 = save(Image.fromarray(np.full((32, 32), 32768, np.int32), "I"), tmp_path / "i.tif")
    f32 = save(Image.fromarray(np.full((32, 32), 0.5, np.float32), "F"), tmp_path / "f.tif")
    assert close(load(i32, channels=1)[8, 8], [128], 1)
    assert close(load(f32, channels=1)[8, 8], [128], 1)


def test_grey_to_rgb_and_alpha_on_white(tmp_path):
    grey = save(solid(colour=77, mode="L"), tmp_path / "grey.png")
    assert close(load(grey)[8, 8], (77, 77, 77), 0)
    rgba = save(solid(colour=(255, 0, 0, 128), mode="RGBA"), tmp_path / "half.png")
    assert close(load(rgba)[8, 8], (255, 127, 127), 2)  # composited on white
    assert close(load(rgba, channels=4)[8, 8], (255, 0, 0, 128), 2)  # alpha kept
    la = save(solid(colour=(0, 0), mode="LA"), tmp_path / "clear.png")
    assert close(load(la, channels=1)[8, 8], [255], 0)  # fully transparent -> white


def test_animated_gif_takes_first_frame(tmp_path):
    frames = [solid(colour=RED), solid(colour=BLUE), solid(colour=GREEN)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 3
    assert close(load(path)[8, 8], RED, 4)


def test_crop_center_vs_pad(tmp_path):
    path = save(solid((64, 32), RED), tmp_path / "wide.png")
    center = load(path, crop="center")
    assert close(center[0, 0], RED, 0) and close(center[15, 15], RED, 0)
    pad = load(path, crop="pad")  # 64x32 -> 16x8 in the middle, white above and below
    assert close(pad[0, 8], (255, 255, 255), 0) and close(pad[15, 8], (255, 255, 255), 0)
    assert close(pad[8, 8], RED, 0)
    pad4 = load(path, channels=4, crop="pad")
    assert pad4[0, 8, 3] == 0 and close(pad4[8, 8], RED + (255,), 0)


def test_big_jpeg_is_draft_decoded(tmp_path, monkeypatch):
    decoded = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):  # records the size the JPEG will really be decoded at
        result = real_draft(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    path = save(halves((2048, 1024)), tmp_path / "big.jpg", quality=90)
    px = load(path, resolution=16)
    assert decoded == [(256, 128)]  # 1/8 scale, still >= 16 on the shorter side
    assert close(px[8, 1], RED, 40) and close(px[8, 14], BLUE, 40)
    load(path, resolution=512, crop="center")
    assert decoded[-1] == (1024, 512)  # center crop keeps the shorter side >= 512
    load(path, resolution=512, crop="pad")
    assert decoded[-1] == (512, 256)  # pad only needs the longer side >= 512


def test_truncation_is_detected_even_if_someone_allowed_it(tmp_path, monkeypatch):
    path = truncated_jpeg(tmp_path / "cut.jpg")
    assert load_image(path, 16, 3).reason == "truncated-or-corrupt"
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert load_image(path, 16, 3).reason == "truncated-or-corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # other code's setting is restored


def test_bombs_are_skipped_before_decoding(tmp_path, monkeypatch):
    assert load_image(bomb_png(tmp_path / "bomb.png"), 16, 3).reason == "decompression-bomb"
    small = save(noise(1, (64, 64)), tmp_path / "ok.png")
    assert load_image(small, 16, 3, max_pixels=1000).reason == "decompression-bomb"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own error and warning
    assert load_image(small, 16, 3, max_pixels=1000).reason == "decompression-bomb"
    mid = save(noise(2, (40, 40)), tmp_path / "mid.png")  # 1600 px: Pillow only warns
    assert load_image(mid, 16, 3, max_pixels=1000).reason == "decompression-bomb"


# --- prepare: a whole folder -------------------------------------------------------------

def test_formats_and_skip_reasons(tmp_path):
    src, outside = tmp_path / "src", tmp_path / "outside"
    kept = {
        "a.jpg": dict(quality=95), "b.webp": dict(lossless=True), "c.bmp": {},
        "d.tiff": {}, "e.tif": {}, "F.PNG": {}, "g.JPEG": dict(quality=95),
        "sub/h.gif": {},
    }
    for i, (name, kw) in enumerate(kept.items()):
        save(noise(10 + i), src / name, **kw)
    (src / "empty.png").write_bytes(b"")
    truncated_jpeg(src / "cut.jpg")
    (src / "notes.png").write_text("not really a picture")
    bomb_png(src / "bomb.png")
    save(solid((6, 40)), src / "thin.png")  # shorter side 6 < min_size 8
    save(noise(99), outside / "elsewhere.png")
    (src / "link.png").symlink_to(outside / "elsewhere.png")
    (src / "readme.txt").write_text("ignored, not skipped")
    (src / "linked_dir").symlink_to(outside, target_is_directory=True)  # not followed

    summary, archive, manifest = run(src, tmp_path / "out.zip", min_size=8)
    assert summary.kept == len(kept) and archive.images.shape == (len(kept), 16, 16, 3)
    reasons = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert reasons == {"empty.png": "empty-file", "cut.jpg": "truncated-or-corrupt",
                       "notes.png": "not-an-image", "bomb.png": "decompression-bomb",
                       "thin.png": "too-small", "link.png": "symlink-outside-source"}
    assert sorted(manifest["kept"]) == sorted(kept)
    assert manifest["kept"] == sorted(manifest["kept"])  # deterministic order
    assert [e["source"] for e in archive.meta["images"]] == manifest["kept"]
    assert summary.ignored == 1 and manifest["summary"]["ignored"] == 1
    assert archive.labels is None and archive.class_names == []
    assert archive.meta["extra"]["resolution"] == 16 and archive.meta["extra"]["crop"] == "center"
    text = str(summary)
    assert text.startswith(f"kept {len(kept)}, skipped 6 (") and "too-small 1" in text
    assert "0 duplicates removed -> " in text


def test_image_extensions():
    assert {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"} <= IMAGE_EXTENSIONS


def test_only_expected_decoders_open_files(tmp_path):
    # A PPM named .png: Pillow could read it, but only the listed formats may open a file
    # (an EPS named .png would otherwise be handed to Ghostscript).
    path = tmp_path / "sneaky.png"
    save(noise(0), path, format="PPM")
    assert load_image(path, 16, 3).reason == "not-an-image"
    mislabelled = save(noise(0), tmp_path / "really_a_jpeg.png", format="JPEG")
    assert load_image(mislabelled, 16, 3).ok


def test_duplicates_by_decoded_content(tmp_path):
    src = tmp_path / "src"
    save(noise(3), src / "a.png")
    save(noise(3), src / "b.png")  # same file, other name
    save(noise(3), src / "c.bmp")  # same pixels, other format
    save(noise(4), src / "d.png")
    summary, archive, manifest = run(src, tmp_path / "out.zip")
    assert summary.kept == 2 and summary.duplicates == 2 and len(archive) == 2
    assert manifest["duplicates"] == [{"path": "b.png", "duplicate_of": "a.png"},
                                      {"path": "c.bmp", "duplicate_of": "a.png"}]
    assert "2 duplicates removed" in str(summary)


def test_labels_from_folders(tmp_path):
    src = tmp_path / "src"
    save(noise(5), src / "dogs" / "1.png")
    save(noise(6), src / "dogs" / "deeper" / "2.png")
    save(noise(7), src / "cats" / "1.png")
    save(noise(8), src / "loose.png")
    summary, archive, manifest = run(src, tmp_path / "out.zip", labels="folders")
    assert archive.class_names == ["cats", "dogs"] == summary.class_names
    assert manifest["kept"] == ["cats/1.png", "dogs/1.png", "dogs/deeper/2.png"]
    assert archive.labels.tolist() == [0, 1, 1]
    assert manifest["skipped"] == [{"path": "loose.png", "reason": "no-class-folder"}]
    assert summary.class_counts == {"cats": 1, "dogs": 2}


def test_parallel_equals_serial(tmp_path):
    src = tmp_path / "src"
    for i in range(20):
        save(noise(i, (24 + i, 30)), src / f"{i:02d}.png")
    truncated_jpeg(src / "07b.jpg")
    _, serial, m1 = run(src, tmp_path / "serial.zip", workers=1)
    _, parallel, m2 = run(src, tmp_path / "parallel.zip", workers=2)
    assert np.array_equal(serial.images, parallel.images) and m1 == m2


def test_channels_1_and_4_archives(tmp_path):
    src = tmp_path / "src"
    save(solid(colour=(255, 0, 0, 128), mode="RGBA"), src / "a.png")
    _, grey, _ = run(src, tmp_path / "grey.zip", channels=1)
    _, rgba, _ = run(src, tmp_path / "rgba.zip", channels=4)
    assert grey.images.shape == (1, 16, 16, 1) and rgba.images.shape == (1, 16, 16, 4)
    assert close(rgba.images[0, 8, 8], (255, 0, 0, 128), 2)


@pytest.mark.parametrize("change, message", [
    (dict(src="missing"), "not found"),
    (dict(src="file.png"), "not a folder"),
    (dict(out="outdir"), "existing folder"),
    (dict(resolution=48), "power of two"),
    (dict(resolution=2), "power of two"),
    (dict(resolution=4096), "power of two"),
    (dict(resolution="64"), "power of two"),
    (dict(channels=2), "channels must be 1"),
    (dict(crop="fill"), "center, pad"),
    (dict(labels="csv"), "none, folders"),
    (dict(min_size=0), "min_size"),
    (dict(min_size=-3), "min_size must be a positive integer"),
    (dict(min_size="8"), "min_size must be a positive integer"),
    (dict(min_size=True), "min_size must be a positive integer"),
    (dict(min_size=None), "min_size must be a positive integer"),
    (dict(workers=0), "workers"),
])
def test_bad_options_raise_one_clear_line(tmp_path, change, message):
    src = tmp_path / "src"
    save(noise(0), src / "a.png")
    save(noise(0), tmp_path / "file.png")
    (tmp_path / "outdir").mkdir()
    kw = dict(src=src, out=tmp_path / "out.zip", workers=1, progress=False)
    kw.update(change)
    for key in ("src", "out"):
        kw[key] = tmp_path / kw[key] if isinstance(kw[key], str) else kw[key]
    with pytest.raises(GanvasError, match=message) as info:
        prepare(**kw)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out.zip").exists()


def test_no_usable_images(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_text("text")
    save(solid((4, 4)), src / "b.png")
    with pytest.raises(GanvasError, match=r"no usable images in .*not-an-image 1.*too-small 1"
                                          r".* at most 4 px.*--resolution 4 --min-size 4"):
        prepare(src, tmp_path / "out.zip", min_size=8, workers=1, progress=False)
    (src / "a.png").unlink()
    (src / "b.png").unlink()
    (src / "notes.txt").write_text("text")
    with pytest.raises(GanvasError, match="no files with an image extension"):
        prepare(src, tmp_path / "out.zip", workers=1, progress=False)


def test_existing_archive_survives_a_failing_prepare(tmp_path, monkeypatch):
    good, bad, out = tmp_path / "good", tmp_path / "bad", tmp_path / "out.zip"
    for i in range(3):
        save(noise(i), good / f"{i}.png")
    (bad / "x.png").parent.mkdir()
    (bad / "x.png").write_text("text")
    run(good, out)
    before = out.read_bytes()
    with pytest.raises(GanvasError, match=r"^no usable images in .*bad: skipped 1 "
                                          r"\(not-an-image 1\)"):
        prepare(bad, out, workers=1, progress=False)
    assert out.read_bytes() == before

    calls = []

    def interrupted(self, *args, **kwargs):  # Ctrl-C after the first image is written
        if calls:
            raise KeyboardInterrupt("after the first image")
        calls.append(1)
        return original(self, *args, **kwargs)

    original = ArchiveWriter.add
    monkeypatch.setattr(ArchiveWriter, "add", interrupted)
    with pytest.raises(KeyboardInterrupt, match="^after the first image$"):   # ours
        prepare(good, out, resolution=8, workers=1, progress=False)
    assert out.read_bytes() == before and read_meta(out)["resolution"] == 16
    assert sorted(os.listdir(tmp_path)) == ["bad", "good", "out.zip"]  # no temp file left


def test_prepare_cached_reuses_its_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANVAS_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "src"
    save(noise(0), src / "a.png")
    first = prepare_cached(src, 16, 3, progress=False)
    assert first.parent == tmp_path / "cache" / "prepared" and read_meta(first)["num_images"] == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("prepare ran again for an unchanged folder")

    real_prepare = prepare_mod.prepare
    monkeypatch.setattr(prepare_mod, "prepare", must_not_run)
    assert prepare_cached(src, 16, 3, progress=False) == first
    monkeypatch.setattr(prepare_mod, "prepare", real_prepare)

    assert prepare_cached(src, 32, 3, progress=False) != first  # other options, other key
    save(noise(1), src / "b.png")
    second = prepare_cached(src, 16, 3, progress=False)
    assert second != first and read_meta(second)["num_images"] == 2


# --- pictures smaller than the resolution ------------------------------------------------

def test_small_pictures_are_upscaled_with_a_warning(tmp_path):
    src = tmp_path / "src"
    for i in range(3):
        save(noise(20 + i, (28, 28)), src / f"digit{i}.png")
    save(halves((28, 28)), src / "halves.png")
    summary, archive, manifest = run(src, tmp_path / "out.zip", resolution=64)
    assert summary.kept == 4 and summary.skipped == {} and archive.images.shape == (4, 64, 64, 3)
    assert summary.upscaled == 4 and summary.smallest_upscaled == (28, 28)
    assert ("warning: upscaled 4 images smaller than 64 px (smallest 28x28); --min-size 64 "
            "to skip them instead") in summary.lines()
    assert archive.meta["upscaled"] == 4 and manifest["summary"]["upscaled"] == 4
    assert manifest["upscaled"] == manifest["kept"]
    halves_64 = archive.images[manifest["kept"].index("halves.png")]
    assert close(halves_64[32, 2], RED, 0) and close(halves_64[32, 61], BLUE, 0)


def test_min_size_refuses_small_pictures_and_names_a_resolution_that_fits(tmp_path):
    src = tmp_path / "src"
    save(noise(1, (28, 28)), src / "a.png")
    save(noise(2, (28, 40)), src / "b.png")
    save(noise(3, (20, 20)), src / "c.png")
    with pytest.raises(GanvasError, match="smaller than --min-size 64") as info:
        prepare(src, tmp_path / "out.zip", resolution=64, min_size=64, workers=1,
                progress=False)
    assert str(info.value) == (
        f"no usable images in {src}: all 3 are smaller than --min-size 64 (largest shorter "
        f"side 28 px); drop --min-size to upscale them, or use --resolution 16 --min-size 16 "
        f"to fit them without upscaling")
    summary, archive, _ = run(src, tmp_path / "out.zip", resolution=16, min_size=16)
    assert summary.kept == 3 and summary.upscaled == 0 and "upscaled" not in archive.meta


def test_pictures_too_small_for_any_resolution_are_only_told_to_upscale(tmp_path):
    src = tmp_path / "src"
    save(noise(1, (3, 3)), src / "speck.png")
    with pytest.raises(GanvasError, match=r"largest shorter side 3 px\); drop --min-size to "
                                          r"upscale them$"):
        prepare(src, tmp_path / "out.zip", resolution=8, min_size=4, workers=1,
                progress=False)


def test_a_mixed_folder_upscales_only_the_small_ones(tmp_path):
    src = tmp_path / "src"
    save(noise(1, (28, 28)), src / "small.png")
    save(noise(2, (40, 30)), src / "smaller.png")  # shorter side 30 < 64, longer 40 < 64
    save(noise(3, (100, 80)), src / "big.png")
    save(noise(4, (100, 40)), src / "wide.png")  # shorter side 40 < 64, longer 100 > 64
    summary, archive, manifest = run(src, tmp_path / "center.zip", resolution=64)
    assert summary.kept == 4 and sorted(manifest["upscaled"]) == ["small.png", "smaller.png",
                                                                  "wide.png"]
    assert summary.smallest_upscaled == (28, 28) and archive.meta["upscaled"] == 3
    # pad scales the longer side to the resolution: only pictures shorter than it grow.
    summary, _, manifest = run(src, tmp_path / "pad.zip", resolution=64, crop="pad")
    assert sorted(manifest["upscaled"]) == ["small.png", "smaller.png"]
    summary, archive, manifest = run(src, tmp_path / "min.zip", resolution=64, min_size=64)
    assert manifest["kept"] == ["big.png"] and summary.skipped == {"too-small": 3}
    assert summary.upscaled == 0 and "upscaled" not in archive.meta
    assert not any("upscaled" in line for line in summary.lines())


def test_big_pictures_are_still_shrunk_with_lanczos(tmp_path, monkeypatch):
    src = tmp_path / "src"
    save(noise(1, (100, 80)), src / "big.png")
    save(noise(2, (10, 10)), src / "tiny.png")
    filters = []
    real_resize = Image.Image.resize

    def spy(self, size, resample=None, *args, **kwargs):
        filters.append(resample)
        return real_resize(self, size, resample, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", spy)
    run(src, tmp_path / "out.zip", resolution=32)
    assert filters == [Image.Resampling.LANCZOS, Image.Resampling.BICUBIC]


def test_prepare_cli_min_size(tmp_path, capsys):
    from ganvas.cli import main
    src = tmp_path / "src"
    for i in range(2):
        save(noise(i, (28, 28)), src / f"{i}.png")
    out = tmp_path / "out.zip"
    assert main(["prepare", str(src), str(out), "--resolution", "64"]) == 0
    assert "warning: upscaled 2 images smaller than 64 px" in capsys.readouterr().out
    assert read_meta(out)["upscaled"] == 2
    assert main(["prepare", str(src), str(out), "--resolution", "64", "--min-size", "64"]) == 2
    err = capsys.readouterr().err
    assert "all 2 are smaller than --min-size 64" in err and "--resolution 16" in err
    for bad in ("0", "-1"):
        assert main(["prepare", str(src), str(out), "--min-size", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "min_size must be a positive integer" in err
    with pytest.raises(SystemExit, match="^2$") as info:   # its message is the exit code
        main(["prepare", str(src), str(out), "--min-size", "big"])
    assert info.value.code == 2
    assert "--min-size: invalid int value" in capsys.readouterr().err


def test_train_folder_upscales_through_the_cache(tmp_path, monkeypatch):
    from ganvas.data.dataset import resolve_dataset
    monkeypatch.setenv("GANVAS_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "src"
    save(noise(0, (12, 12)), src / "a.png")
    save(noise(1, (40, 40)), src / "b.png")
    meta = read_meta(resolve_dataset(str(src), resolution=32, channels=3))
    assert meta["num_images"] == 2 and meta["upscaled"] == 1


def test_train_on_a_folder_of_small_pictures_warns_that_they_are_upscaled(tmp_path, capsys):
    """`ganvas train FOLDER` prepares the folder itself: its console says so as `prepare`'s
    summary does, with the flag that refuses them."""
    from ganvas.cli import main
    folder = make_png_folder(tmp_path / "icons", n=8, size=12)
    assert main(["train", str(folder), "--out", str(tmp_path / "runs"), "--resolution", "16",
                 "--model", "dcgan-tiny", "--batch", "8", "--kimg", "0.016",
                 "--snap-kimg", "0.016", "--tick-kimg", "0.016"]) == 0
    assert ("warning: 8 of the images were smaller than 16 px and are upscaled "
            "(`ganvas prepare --min-size 16` skips them instead)") in capsys.readouterr().out
