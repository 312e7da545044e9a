"""Hostile input: every user mistake is one line on stderr with exit 2 (an environment failure,
OSError, is one line with exit 1), no traceback, and nothing is left on disk: no run folder,
no output file, no empty folder."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

import ganvas
from ganvas.cli import main
from ganvas.errors import GanvasError

from tests.helpers import usage_error
from tests.helpers import DC, SG2, export_random


def one_line(argv: list[str], capsys, code: int = 2) -> str:
    """Run `ganvas ARGV`: exit `code` (argparse's errors exit through SystemExit), one line
    on stderr, no traceback; returns the line."""
    if code == 2:
        try:
            return usage_error(argv, capsys)
        except SystemExit as e:                        # argparse: a bad value of a flag
            got = e.code
    else:
        got = main(argv)
    err = capsys.readouterr().err
    assert got == code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("hostile") / "model", **DC)


def leftovers(folder) -> list[str]:
    """Everything under `folder` (nothing may be left by a failed command)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() \
        else []


# --- training options: refused before the run folder (or the dataset cache) exists ---------

TRAIN_VALUES = [
    ["--kimg", "nan"], ["--kimg", "inf"], ["--kimg", "-inf"], ["--lr-g", "nan"],
    ["--lr-d", "1e400"], ["--minutes", "inf"], ["--snap-kimg", "1e300"],
    ["--tick-kimg", "1e12"], ["--seed", str(2**70)], ["--seed", "-1"],
    ["--seed", str(2**32)], ["--batch", str(10**9)], ["--n-critic", "100000"],
    ["--z-dim", "100000"], ["--g-width", "1000000"], ["--mapping-layers", "1000"],
    ["--beta1", "nan"], ["--ema-kimg", "nan"], ["--gp-lambda", "inf"],
    ["--aug-rotate", "nan"], ["--p", "nan"], ["--keep-snapshots", str(10**12)],
    ["--metrics", "swd", "--metrics-num", str(10**10)], ["--seed", "2**70"],
]


@pytest.mark.parametrize("flags", TRAIN_VALUES, ids=lambda f: " ".join(f)[:40])
def test_bad_training_values_fail_before_any_folder(flags, toy_archive, tmp_path, capsys):
    out = tmp_path / "runs"
    err = one_line(["train", str(toy_archive), "--out", str(out), "--model", "dcgan-tiny",
                    *flags], capsys)
    assert "error" in err
    assert not out.exists(), leftovers(out)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e300, 2**70])
def test_python_options_are_checked_the_same_way(value, toy_archive, tmp_path):
    refused = r"option: {} (must be a finite number, not|= \S+ is too big \(at most )"
    with pytest.raises(GanvasError, match=refused.format("kimg")):
        ganvas.train(str(toy_archive), out=tmp_path / "runs", model="dcgan-tiny", kimg=value)
    with pytest.raises(GanvasError, match=refused.format("lr_g")):
        ganvas.train(str(toy_archive), out=tmp_path / "runs", model="dcgan-tiny", lr_g=value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("flags", [["--minutes", "nan"], ["--minutes", "inf"],
                                   ["--minutes", "1e300"], ["--seed", str(2**64)]])
def test_bad_demo_values_fail_before_any_folder(flags, tmp_path, capsys):
    one_line(["demo", "--out", str(tmp_path / "demo"), *flags], capsys)
    assert not (tmp_path / "demo").exists()


def test_train_out_that_is_a_file_is_refused_up_front(toy_archive, tmp_path, capsys):
    a_file = tmp_path / "runs"
    a_file.write_text("x")
    assert "is a file" in one_line(["train", str(toy_archive), "--out", str(a_file), "--model",
                                    "dcgan-tiny", "--kimg", "0.1"], capsys)
    assert a_file.read_text() == "x"


def test_a_config_file_with_nan_is_refused(toy_archive, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text('{"train": {"lr_g": NaN, "batch": 16}}')     # json.loads takes NaN
    one_line(["train", str(toy_archive), "--config", str(config), "--out",
              str(tmp_path / "runs")], capsys)
    assert not (tmp_path / "runs").exists()


# --- the studio's numbers --------------------------------------------------------------------

def studio_cases(tmp):
    out = str(tmp / "out.png")
    return [
        ["generate", "{m}", "--seeds", "0-3", "--grid", out, "--truncation", "nan"],
        ["generate", "{m}", "--seeds", "0-3", "--grid", out, "--truncation", "inf"],
        ["generate", "{m}", "--seeds", "0-3", "--grid", out, "--truncation", "1e300"],
        ["generate", "{m}", "--seeds", "0-99999999999", "--grid", out],
        ["generate", "{m}", "--seeds", "0-200000", "--grid", out],
        ["generate", "{m}", "--grid", out, "--scale", "100000"],
        ["interpolate", "{m}", "--seeds", "0,1", "--out", str(tmp / "w.gif"), "--fps", "nan"],
        ["interpolate", "{m}", "--seeds", "0,1", "--out", str(tmp / "w.gif"),
         "--truncation", "nan"],
        ["interpolate", "{m}", "--seeds", "0-99999", "--frames-per-step", "10000",
         "--out", str(tmp / "w.mp4")],
        ["interpolate", "{m}", "--seeds", "0,1", "--frames-per-step", "1000000000",
         "--out", str(tmp / "w.mp4")],
        ["explore", "{m}", "--dims", "0-99999999999", "--out", out],
        ["explore", "{m}", "--dims", "0-99999999", "--out", out],
        ["explore", "{m}", "--dims", "0", "--range", "nan", "1", "--out", out],
        ["explore", "{m}", "--dims", "0", "--range", "-inf", "inf", "--out", out],
        ["explore", "{m}", "--dims", "0", "--truncation", "nan", "--out", out],
        ["explore", "{m}", "--dims", "0", "--seed", str(2**40), "--out", out],
        ["explore", "{m}", "--dims", "0", "--steps", "1000000", "--out", out],
        ["style-mix", "{m}", "--rows", "0", "--cols", "1", "--truncation", "nan",
         "--out", out],
        ["project", "{m}", "{target}", "--steps", "100000000", "--out", str(tmp / "proj")],
        ["project", "{m}", "{target}", "--steps", "1", "--seed", str(2**70),
         "--out", str(tmp / "proj")],
        ["project", "{m}", "{target}", "--steps", "1", "--seed", "-5",
         "--out", str(tmp / "proj")],
        ["project", "{m}", "{target}", "--steps", "1", "--save-video", "--fps", "nan",
         "--out", str(tmp / "proj")],
    ]


@pytest.mark.parametrize("case", range(len(studio_cases(__import__("pathlib").Path(".")))))
def test_bad_studio_values_are_one_line_and_write_nothing(case, model, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    target = tmp_path / "target.png"
    from PIL import Image
    Image.new("RGB", (16, 16), (200, 20, 20)).save(target)
    argv = [a.format(m=model, target=target) for a in studio_cases(work)[case]]
    one_line(argv, capsys)
    assert leftovers(work) == []


# --- paths -----------------------------------------------------------------------------------

def test_output_paths_are_checked_before_computing(model, tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    a_folder = tmp_path / "a-folder.png"
    a_folder.mkdir()

    def no_work(*args, **kwargs):
        raise AssertionError("computed before the path was checked")
    monkeypatch.setattr(ganvas.Model, "generate", no_work)
    cases = [
        (["generate", str(model), "--out", str(a_file)], "is a file"),
        (["generate", str(model), "--grid", str(a_folder)], "is a folder"),
        (["generate", str(model), "--grid", str(a_file / "grid.png")], "is a file"),
        (["explore", str(model), "--dims", "0", "--out", str(a_folder)], "is a folder"),
        (["export", str(model), "--out", str(a_file)], "is a file"),
        (["project", str(model), str(a_file), "--out", str(a_file)], "is a file"),
        (["interpolate", str(model), "--seeds", "0,1", "--out", str(a_file / "w.gif")],
         "is a file"),
    ]
    for argv, needle in cases:
        assert needle in one_line(argv, capsys), argv
    assert a_file.read_text() == "x" and list(a_folder.iterdir()) == []


def test_os_errors_are_one_line_with_exit_1(model, tmp_path, capsys, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "grid.png"))
    monkeypatch.setattr("ganvas.api.save_png", disk_full)
    err = one_line(["generate", str(model), "--grid", str(tmp_path / "grid.png")], capsys,
                   code=1)
    assert "No space left on device" in err and "grid.png" in err


def test_memory_errors_are_one_line_with_exit_1(model, tmp_path, capsys, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(ganvas.Model, "generate", no_memory)
    err = one_line(["generate", str(model), "--grid", str(tmp_path / "g.png")], capsys, code=1)
    assert "out of memory" in err
    assert not (tmp_path / "g.png").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_up_front(model, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert "not writable" in one_line(["generate", str(model), "--grid",
                                           str(ro / "g.png")], capsys)
    finally:
        ro.chmod(0o700)


# --- latents files declaring more than they should -----------------------------------------

def npz_declaring(path, shape, dtype="<f4"):
    """An .npz whose "z" member's npy header declares `shape` (the data is not there)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, {"descr": dtype, "fortran_order": False,
                                                  "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("z.npy", b"\x93NUMPY\x02\x00" + header.getvalue()[8:])
    return path


@pytest.mark.parametrize("shape", [(10**12, 16), (200_000, 16), (1000, 10**9)])
def test_a_latents_file_declaring_terabytes_is_refused_from_its_header(shape, model, tmp_path,
                                                                       capsys):
    npz = npz_declaring(tmp_path / "big.npz", shape)
    out = tmp_path / "w.gif"
    err = one_line(["interpolate", str(model), "--latents", str(npz), "--out", str(out)],
                   capsys)
    assert "at most" in err
    assert not out.exists()


def test_a_latents_file_with_objects_is_refused(model, tmp_path, capsys):
    npz = npz_declaring(tmp_path / "obj.npz", (2, 16), dtype="|O")
    err = one_line(["interpolate", str(model), "--latents", str(npz), "--out",
                    str(tmp_path / "w.gif")], capsys)
    assert "not numbers" in err


# --- the API refuses the same requests ------------------------------------------------------

def test_api_requests_are_bounded(model, tmp_path):
    m = ganvas.load(model, "cpu")
    with pytest.raises(GanvasError, match="too many seeds"):
        m.save_images(range(10**12), grid=tmp_path / "g.png")
    with pytest.raises(GanvasError, match="too many seeds"):
        m.walk(seeds=range(10**9))
    with pytest.raises(GanvasError, match="at most 1,000,000"):
        m.walk(seeds=range(1000), frames_per_step=10_000)
    with pytest.raises(GanvasError, match="dimensions"):
        m.explore(0, range(10**12))
    with pytest.raises(GanvasError, match="too many seeds"):
        m.style_mix(range(10**12), [0])
    with pytest.raises(GanvasError, match="truncation"):
        m.generate([0], truncation=float("nan"))
    with pytest.raises(GanvasError, match="seed"):
        m.generate([-1])
    with pytest.raises(GanvasError, match="seed"):
        m.generate([2**64])
    assert leftovers(tmp_path) == []


def test_a_batch_or_grid_above_the_memory_caps_is_refused(model, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.setattr("ganvas.api.MAX_GRID_BYTES", 16 * 16 * 3 * 16 ** 2 * 10)
    err = one_line(["generate", str(model), "--seeds", "0-99", "--grid", str(tmp_path / "g.png"),
                    "--scale", "16"], capsys)
    assert "at most" in err and "--scale" in err
    monkeypatch.setattr("ganvas.api.MAX_BATCH_BYTES", 16 * 16 * 3 * 4 * 10)
    assert "fewer seeds" in one_line(["generate", str(model), "--seeds", "0-99", "--out",
                                      str(tmp_path / "out")], capsys)
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("hostile-sg2") / "model", **SG2)


@pytest.mark.parametrize("flags", [
    ["--styles", "0-" + "9" * 5000], ["--styles", "0-999999999"], ["--truncation", "-inf"],
    ["--rows", "0-99999"], ["--scale", "0"]])
def test_bad_style_mixing_requests(flags, sg2, tmp_path, capsys):
    argv = ["style-mix", str(sg2), "--rows", "0", "--cols", "1", "--out",
            str(tmp_path / "m.png")]
    one_line(argv + flags, capsys)
    assert leftovers(tmp_path) == []
