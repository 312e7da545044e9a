"""Hostile files on the data path: crafted archives, decoded caches, folders and runs.

Each test builds its bad input itself and checks that ganvas answers with one line (a
GanvasError; exit 2 at the CLI) or behaves safely, and that nothing earlier was lost.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from ganvas.data import archive as arch
from ganvas.data import dataset as ds
from ganvas.data import prepare as prep
from ganvas.data.images import load_image
from ganvas.errors import GanvasError
from ganvas.paths import cache_dir

from tests.helpers import make_toy_archive, usage_error

RES = 8


@pytest.fixture
def good(tmp_path):
    """A valid 4-image 8x8 RGB archive."""
    return make_toy_archive(tmp_path / "good.zip", n=4, resolution=RES)


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def craft(src, dst, meta=None, replace=None, drop=(), compress=zipfile.ZIP_STORED):
    """A copy of archive `src` at `dst`: dataset.json edited by meta(dict) -> object (or
    replaced by bytes), members replaced or dropped."""
    files = members(src)
    if callable(meta):
        files["dataset.json"] = json.dumps(meta(json.loads(files["dataset.json"]))).encode()
    elif meta is not None:
        files["dataset.json"] = meta
    files.update(replace or {})
    with zipfile.ZipFile(dst, "w", compression=compress) as zf:
        for name, data in files.items():
            if name not in drop:
                zf.writestr(name, data)
    return dst


def claim_size(path, name: str, size: int) -> None:
    """Patch the central directory so that member `name` claims `size` inflated bytes
    (zipfile trusts the central directory's sizes)."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PK\x01\x02")
    while raw[at + 46:at + 46 + struct.unpack_from("<H", raw, at + 28)[0]] != name.encode():
        at = raw.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", raw, at + 24, size)
    path.write_bytes(bytes(raw))


def edit(key, value):
    def f(meta):
        meta[key] = value
        return meta
    return f


def png(size=RES, mode="RGB", fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), "red" if mode != "P" else 1).save(buf, format=fmt)
    return buf.getvalue()


def noise_png() -> bytes:
    """An 8x8 RGB PNG of noise (its pixel data does not compress to a few bytes)."""
    buf = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (RES, RES, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def refused(path, needle: str) -> str:
    """read_meta + decode of `path` fail with one line containing `needle`."""
    with pytest.raises(GanvasError, match=re.escape(needle)) as e:
        ds.load_archive(path)
    msg = one_line(e)
    assert needle in msg, msg
    return msg


# --- dataset.json as a schema ------------------------------------------------------------

@pytest.mark.parametrize("change, needle", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"[1, 2, 3]", "is not a JSON object"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),           # nesting bomb
    (edit("format", "other"), "unsupported dataset format"),
    (edit("version", 2), "unsupported dataset format"),
    (edit("resolution", 17), "resolution must be a power of two"),
    (edit("resolution", "8"), "resolution must be a power of two"),
    (edit("resolution", 1 << 20), "resolution must be a power of two"),
    (edit("channels", 2), "channels must be 1, 3 or 4"),
    (edit("num_images", 40), "num_images is 40 but images lists 4"),
    (edit("num_images", True), "num_images"),
    (edit("class_names", [1, 2]), "class_names must be a list of strings"),
    (edit("class_names", "ab"), "class_names must be a list of strings"),
    (edit("images", {"0": 1}), "images must be a list"),
    (edit("extra", []), "extra must be an object"),
    (edit("upscaled", -1), "upscaled must be a count from 0 to num_images 4"),
    (edit("upscaled", 5), "upscaled must be a count from 0 to num_images 4"),
    (edit("upscaled", "2"), "upscaled must be a count"),
    (edit("upscaled", True), "upscaled must be a count"),
    (edit("upscaled", None), "upscaled must be a count"),
    (lambda m: {**m, "images": [1] + m["images"][1:]}, "images[0] is not an object"),
    (lambda m: {**m, "images": [{**e, "label": 1} for e in m["images"]]},
     "there are no classes"),
    (lambda m: {**m, "images": [{**e, "file": "../../etc/passwd"} for e in m["images"]]},
     "is not in the archive"),
])
def test_a_bad_dataset_json_is_one_line(good, tmp_path, change, needle):
    bad = craft(good, tmp_path / "bad.zip", meta=change)
    refused(bad, needle)
    assert members(good)                            # the source archive is intact


def test_upscaled_is_optional_and_checked_when_there(good, tmp_path):
    """Archives without upscaled pictures (and those written before it was recorded) have
    no "upscaled"; one that has it loads with it."""
    some = craft(good, tmp_path / "some.zip", meta=lambda m: {**m, "upscaled": 2})
    assert "upscaled" not in arch.read_meta(good) and arch.read_meta(some)["upscaled"] == 2
    assert len(ds.load_archive(good)) == 4 and len(ds.load_archive(some)) == 4


def test_forty_images_claimed_four_held(good, tmp_path, capsys):
    """num_images and images both say 40, the zip holds 4: no training on np.empty."""
    def forty(m):
        m["images"] = [{"file": f"images/{i:06d}.png", "label": None} for i in range(40)]
        m["num_images"] = 40
        return m
    bad = craft(good, tmp_path / "bad.zip", meta=forty)
    out = tmp_path / "runs"
    err = usage_error(["train", str(bad), "--model", "dcgan-tiny", "--kimg", "0.01",
                       "--out", str(out)], capsys)
    assert "images[4].file 'images/000004.png' is not in the archive" in err
    assert not list(out.glob("*/config.json"))      # no run folder was made


def test_label_outside_the_classes(tmp_path, capsys):
    labelled = make_toy_archive(tmp_path / "l.zip", n=4, resolution=RES, labelled=True)

    def seven(m):
        m["images"][2]["label"] = 7
        return m
    bad = craft(labelled, tmp_path / "bad.zip", meta=seven)
    err = usage_error(["train", str(bad), "--model", "dcgan-tiny", "--kimg", "0.01",
                       "--out", str(tmp_path / "runs")], capsys)
    assert "images[2].label 7 is not a class index 0..1" in err
    refused(craft(labelled, tmp_path / "b2.zip", meta=lambda m: {
        **m, "images": [{**e, "label": True} for e in m["images"]]}), "is not a class index")


def test_a_missing_member(good, tmp_path):
    refused(craft(good, tmp_path / "bad.zip", drop=("images/000002.png",)),
            "images[2].file 'images/000002.png' is not in the archive")
    refused(craft(good, tmp_path / "b2.zip", drop=("dataset.json",)), "not a ganvas dataset")


def test_not_a_zip_and_a_broken_zip(good, tmp_path, capsys):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 this is no zip")
    err = usage_error(["train", str(fake), "--model", "dcgan-tiny", "--kimg", "0.01",
                       "--out", str(tmp_path / "runs")], capsys)
    assert "neither an image folder nor a ganvas dataset archive" in err
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[:-30])        # the end of the central directory lost
    refused(cut, "not a ganvas dataset archive")


# --- members: only PNG, checked from the header, bounded in size -------------------------

@pytest.mark.parametrize("data, needle", [
    (png(fmt="GIF"), "is not a PNG image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n", "is not a PNG image"),
    (png(fmt="JPEG"), "is not a PNG image"),
    (png(size=16), "is 16x16 RGB, not 8x8 RGB"),
    (png(mode="RGBA"), "is 8x8 RGBA, not 8x8 RGB"),
    (png(mode="P"), "is 8x8 P, not 8x8 RGB"),
    (png(mode="L"), "is 8x8 L, not 8x8 RGB"),
    (noise_png()[:120], "is damaged"),              # a download cut off mid-IDAT
])
def test_a_bad_member_is_named(good, tmp_path, data, needle):
    bad = craft(good, tmp_path / "bad.zip", replace={"images/000001.png": data})
    msg = refused(bad, needle)
    assert "images/000001.png" in msg


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB (no pixel data: only the header is read)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [15_000, 60_000])     # Pillow's bomb warning, its error
def test_a_member_claiming_huge_pixels_is_one_quiet_line(good, tmp_path, side):
    bad = craft(good, tmp_path / "bad.zip", replace={"images/000000.png": png_header(side,
                                                                                     side)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refused(bad, "images/000000.png")
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_train_on_a_gif_member_is_one_line(tmp_path, capsys):
    good = make_toy_archive(tmp_path / "good.zip", n=4, resolution=16)   # dcgan's smallest
    bad = craft(good, tmp_path / "bad.zip", replace={"images/000003.png": png(16, fmt="GIF")})
    out = tmp_path / "runs"
    err = usage_error(["train", str(bad), "--model", "dcgan-tiny", "--kimg", "0.01",
                       "--out", str(out)], capsys)
    assert "member images/000003.png is not a PNG image" in err
    assert not list(out.glob("*/config.json"))


def test_an_eps_member_never_reaches_ghostscript(good, tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    def boom(*a, **k):
        raise AssertionError("Ghostscript was called")
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", boom)
    eps = png(fmt="EPS") if "EPS" in Image.SAVE else b"%!PS-Adobe-3.0 EPSF-3.0\n"
    refused(craft(good, tmp_path / "bad.zip", replace={"images/000000.png": eps}),
            "is not a PNG image")


def test_a_member_claiming_a_gigabyte_is_refused_unread(good, tmp_path, monkeypatch):
    bad = craft(good, tmp_path / "bad.zip")
    claim_size(bad, "images/000003.png", 1 << 30)
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename",
                                                                          name))
                        or real_open(self, name, *a, **k))
    refused(bad, "images/000003.png inflates to 1073741824 bytes")
    assert "images/000003.png" not in opened


def test_a_zip_bomb_member_and_metadata(good, tmp_path):
    zeros = b"\0" * (4 << 20)                        # 4 MiB deflates to a few KiB
    bomb = craft(good, tmp_path / "bomb.zip", replace={"images/000000.png": zeros},
                 compress=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 100_000
    refused(bomb, "images/000000.png inflates to 4194304 bytes")
    meta = craft(good, tmp_path / "meta.zip")
    claim_size(meta, "dataset.json", 100 << 20)
    refused(meta, "dataset.json inflates to")
    manifest = craft(good, tmp_path / "man.zip")
    claim_size(manifest, "manifest.json", 1 << 31)
    with pytest.raises(GanvasError, match="manifest.json inflates to"):
        arch.read_manifest(manifest)


def test_a_member_lying_small_is_cut_at_its_claim(good, tmp_path):
    """A header claiming fewer bytes than the member holds: zipfile reads only the claim,
    and the CRC then fails: one line, not a bigger read."""
    bad = craft(good, tmp_path / "bad.zip")
    claim_size(bad, "images/000001.png", 10)
    refused(bad, "images/000001.png")


def test_an_encrypted_member(good, tmp_path):
    bad = craft(good, tmp_path / "bad.zip")
    raw = bytearray(bad.read_bytes())
    at = raw.index(b"PK\x01\x02")                  # the first member: images/000000.png
    struct.pack_into("<H", raw, at + 8, struct.unpack_from("<H", raw, at + 8)[0] | 1)
    bad.write_bytes(bytes(raw))
    refused(bad, "images/000000.png cannot be read")


# --- ArchiveWriter publishes durably -----------------------------------------------------

def test_the_writer_publishes_through_durable(tmp_path, monkeypatch):
    calls = []
    real = arch.publish
    monkeypatch.setattr(arch, "publish", lambda tmp, final: calls.append(final) or
                        real(tmp, final))
    out = make_toy_archive(tmp_path / "a.zip", n=2, resolution=RES)
    assert calls == [out] and [p.name for p in tmp_path.iterdir()] == ["a.zip"]


# --- the decoded-data cache --------------------------------------------------------------

def decoded(path):
    """The cache file load_archive uses for `path` (MEMMAP_BYTES patched to 0)."""
    return cache_dir("decoded") / f"{arch.file_hash(path)}.npy"


@pytest.mark.parametrize("damage", ["shape", "dtype", "truncated", "garbage", "object"])
def test_a_bad_decoded_cache_is_rebuilt(good, monkeypatch, damage):
    monkeypatch.setattr(ds, "MEMMAP_BYTES", 0)
    want = arch.read_archive(good).images
    cache = decoded(good)
    cache.parent.mkdir(parents=True, exist_ok=True)
    if damage == "shape":
        np.save(cache, np.zeros((40, RES, RES, 3), np.uint8))
    elif damage == "dtype":
        np.save(cache, np.zeros(want.shape, np.float32))
    elif damage == "truncated":
        np.save(cache, want)
        cache.write_bytes(cache.read_bytes()[:200])
    elif damage == "garbage":
        cache.write_bytes(b"not a numpy file at all")
    else:
        np.save(cache, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    images = ds.load_archive(good).images
    assert isinstance(images, np.memmap) and np.array_equal(images, want)
    assert np.load(cache).shape == want.shape
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, GanvasError])
def test_a_failed_cache_build_leaves_no_temporary(good, tmp_path, monkeypatch, failure):
    monkeypatch.setattr(ds, "MEMMAP_BYTES", 0)
    if failure is GanvasError:                      # a bad member found half-way
        bad = craft(good, tmp_path / "bad.zip", replace={"images/000002.png": png(16)})
        message = r"member images/000002\.png is 16x16 RGB, not 8x8 RGB"
    else:                                           # Ctrl-C half-way through decoding
        bad = good
        message = "^Ctrl-C half-way$"               # ours, not another interrupt

        def interrupted(path, meta, out):
            out[0] = 1
            raise KeyboardInterrupt("Ctrl-C half-way")
        monkeypatch.setattr(ds, "decode_images", interrupted)
    with pytest.raises(failure, match=message):
        ds.load_archive(bad)
    folder = cache_dir("decoded")
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_full_disk_while_caching_is_one_line(good, monkeypatch):
    import errno
    monkeypatch.setattr(ds, "MEMMAP_BYTES", 0)

    def full(path, meta, out):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(ds, "decode_images", full)
    with pytest.raises(GanvasError, match="cannot write the decoded cache .*No space left"):
        ds.load_archive(good)
    assert list(cache_dir("decoded").iterdir()) == []


def test_a_folder_in_place_of_the_cache(good, monkeypatch):
    monkeypatch.setattr(ds, "MEMMAP_BYTES", 0)
    decoded(good).mkdir(parents=True)
    with pytest.raises(GanvasError, match="cannot write the decoded cache"):
        ds.load_archive(good)
    assert [p.name for p in cache_dir("decoded").iterdir()] == [decoded(good).name]


# --- prepare: unreadable folders, files swapped after listing ----------------------------

def picture_folder(root, classes=("cats", "dogs"), n=3):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(
                root / c / f"{i}.png")
    return root


def check_unreadable(src, out, capsys):
    summary = prep.prepare(src, out, resolution=RES, labels="folders", workers=1,
                           progress=False)
    manifest = arch.read_manifest(out)
    assert {"path": "dogs", "reason": "unreadable-folder"} in manifest["skipped"]
    assert summary.kept == 3 and summary.skipped == {"unreadable-folder": 1}
    assert "could not read folder(s) dogs" in str(summary)
    assert "unreadable-folder 1" in str(summary)


def test_an_unreadable_folder_is_reported(tmp_path, monkeypatch, capsys):
    src = picture_folder(tmp_path / "src")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("dogs"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)
    monkeypatch.setattr(os, "scandir", scandir)
    check_unreadable(src, tmp_path / "out.zip", capsys)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a chmod 000 folder anyway")
def test_a_chmod_000_folder_is_reported(tmp_path, capsys):
    src = picture_folder(tmp_path / "src")
    (src / "dogs").chmod(0)
    try:
        check_unreadable(src, tmp_path / "out.zip", capsys)
    finally:
        (src / "dogs").chmod(0o755)


def test_an_unreadable_folder_shows_in_the_cli_summary(tmp_path, monkeypatch, capsys):
    from ganvas.cli import main
    src = picture_folder(tmp_path / "src")
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p=".": (_ for _ in ()).throw(
        PermissionError(13, "denied", os.fspath(p))) if os.fspath(p).endswith("dogs")
        else real(p))
    assert main(["prepare", str(src), str(tmp_path / "o.zip"), "--resolution", "8"]) == 0
    assert "could not read folder(s) dogs" in capsys.readouterr().out


def test_a_symlink_swapped_in_after_listing_is_refused(tmp_path, monkeypatch):
    src = picture_folder(tmp_path / "src", classes=("a",))
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    Image.new("RGB", (20, 20), (0, 255, 0)).save(secret)
    real_scan = prep._scan

    def scan_then_swap(*a):
        found = real_scan(*a)
        (src / "a" / "1.png").unlink()              # after listing, before opening
        (src / "a" / "1.png").symlink_to(secret)
        return found
    monkeypatch.setattr(prep, "_scan", scan_then_swap)
    out = tmp_path / "out.zip"
    summary = prep.prepare(src, out, resolution=RES, workers=1, progress=False)
    assert summary.kept == 2 and summary.skipped == {"symlink-outside-source": 1}
    green = np.array([0, 255, 0], np.uint8)
    assert not (arch.read_archive(out).images == green).all(axis=-1).all(axis=(1, 2)).any()


def test_load_image_checks_the_real_path_at_open(tmp_path):
    inside, outside = tmp_path / "src", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    Image.new("RGB", (20, 20)).save(outside / "x.png")
    (inside / "link.png").symlink_to(outside / "x.png")
    root = str(inside.resolve())
    assert load_image(inside / "link.png", RES, 3, root=root).reason == "symlink-outside-source"
    assert load_image(inside / "link.png", RES, 3).ok          # no root: project's own files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_png_does_not_hang_prepare(tmp_path):
    src = picture_folder(tmp_path / "src", classes=("a",))
    os.mkfifo(src / "a" / "pipe.png")
    summary = prep.prepare(src, tmp_path / "o.zip", resolution=RES, workers=1, progress=False)
    assert summary.kept == 3 and summary.skipped == {"unreadable": 1}


def test_a_damaged_prepared_cache_is_prepared_again(tmp_path):
    src = picture_folder(tmp_path / "src", classes=("a",))
    first = prep.prepare_cached(src, resolution=RES, channels=3, progress=False)
    good_bytes = first.read_bytes()
    craft(first, tmp_path / "bad.zip", meta=edit("num_images", 99)).replace(first)
    again = prep.prepare_cached(src, resolution=RES, channels=3, progress=False)
    assert again == first and again.read_bytes() == good_bytes


# --- a run's recorded dataset ------------------------------------------------------------

@pytest.fixture
def crafted_run(tiny_run, tmp_path):
    """A copy of the tiny run whose newest snapshot and config name another archive (of the
    same shape), keeping the recorded hash of the real one."""
    from ganvas.runfolder import snapshots
    run = shutil.copytree(tiny_run, tmp_path / "run")
    other = make_toy_archive(tmp_path / "other.zip", n=64, resolution=16, seed=5)
    for snap in snapshots.list_snapshots(run):
        info = json.loads((snap / "model.json").read_text())
        info["dataset"]["name"] = str(other)
        (snap / "model.json").write_text(json.dumps(info))
    cfg = json.loads((run / "config.json").read_text())
    cfg["train"]["data"] = str(other)
    (run / "config.json").write_text(json.dumps(cfg))
    shutil.rmtree(run / "report", ignore_errors=True)
    return run


def test_eval_refuses_a_run_whose_dataset_changed(crafted_run, tmp_path, capsys):
    out = tmp_path / "m.json"
    err = usage_error(["eval", str(crafted_run), "--num", "8", "--out", str(out)], capsys)
    assert "has changed or is not the one the run was trained on" in err
    assert not out.exists()


def test_memorization_refuses_a_run_whose_dataset_changed(crafted_run):
    import ganvas
    from ganvas.metrics import memorization as mem
    with pytest.raises(GanvasError, match="has changed or is not the one"):
        mem.training_images(ganvas.load(crafted_run, device="cpu"))


def test_a_model_without_a_recorded_hash_is_refused(tiny_run):
    import ganvas
    from ganvas.metrics import evaluate as ev
    model = ganvas.load(tiny_run, device="cpu")
    model.info["dataset"].pop("sha256")
    with pytest.raises(GanvasError, match="does not record the content hash"):
        ev.model_real_subset(model)


@pytest.mark.parametrize("record", ["emoji", ["x"], {"name": 3}, {}])
def test_a_malformed_dataset_record_is_one_line(tiny_run, record):
    import ganvas
    from ganvas.metrics import evaluate as ev
    model = ganvas.load(tiny_run, device="cpu")
    model.info["dataset"] = record
    with pytest.raises(GanvasError, match="does not say which dataset it was trained on"):
        ev.model_real_subset(model)


def test_the_report_skips_reals_from_another_dataset(crafted_run):
    from ganvas.report import write_report
    page = write_report(crafted_run).read_text()
    assert "could not be shown" in page and "has changed or is not the one" in page
    assert not (crafted_run / "report" / "reals.png").exists()
    assert (crafted_run / "report" / "loss.png").exists()      # the rest of the report is
