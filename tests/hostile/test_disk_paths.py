"""Paths the user gave that cannot be used, outputs that already exist, and the permissions of
what is written (issue 31 items 2 and 12, issue 30 item 8): exit 2 naming the user's path,
nothing earlier overwritten, every file and folder as the umask says."""

from __future__ import annotations

import os
import stat

import pytest

from tests.helpers import run
from tests.hostile import disks as shared
from tests.hostile.disks import EARLIER, error_line

inputs = shared.inputs                            # the fixture


def test_export_never_overwrites_an_earlier_export(inputs, tmp_path, capsys):
    out = tmp_path / "exported"
    assert run(["export", inputs["model"], "--out", out]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    line = error_line(["export", inputs["model2"], "--out", out], capsys, code=2)
    assert str(out) in line and "new or empty folder" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]


def test_onnx_export_never_overwrites_an_earlier_one(inputs, tmp_path, capsys):
    (tmp_path / "generator.onnx").write_bytes(EARLIER)
    line = error_line(["export", inputs["model"], "--format", "onnx", "--out", tmp_path],
                      capsys, code=2)
    assert str(tmp_path / "generator.onnx") in line
    assert (tmp_path / "generator.onnx").read_bytes() == EARLIER


def test_a_memorization_dir_that_is_a_file_is_exit_2(tiny_run, tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_bytes(EARLIER)
    line = error_line(["eval", tiny_run, "--memorization", "--num", "16", "--extractor",
                       "random-conv", "--memorization-dir", a_file], capsys, code=2)
    assert f"{a_file} exists and is a file" in line
    assert a_file.read_bytes() == EARLIER


def test_a_report_out_that_is_a_folder_is_exit_2_naming_it(tiny_run, tmp_path, capsys):
    folder = tmp_path / "page"
    folder.mkdir()
    line = error_line(["report", tiny_run, "--out", folder], capsys, code=2)
    assert f"{folder} is a folder" in line
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == \
        ["page"]


def test_an_eval_out_that_is_a_folder_is_refused_before_any_work(tiny_run, tmp_path, capsys,
                                                                 monkeypatch):
    from ganvas.metrics import evaluate as ev
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("measured first"))
    line = error_line(["eval", tiny_run, "--metrics", "swd", "--out", tmp_path], capsys,
                      code=2)
    assert f"{tmp_path} is a folder" in line


@pytest.fixture
def umask():
    before = os.umask(0o027)                       # 0640 files, 0750 folders
    try:
        yield 0o027
    finally:
        os.umask(before)


def test_everything_written_follows_the_umask(inputs, tiny_run, tmp_path, umask):
    """Files 0666 and folders 0777 less the umask, temporaries included once renamed (an
    archive and safetensors files were once 0600 whatever the umask)."""
    out = tmp_path / "out"
    for argv in (["prepare", inputs["pics"], out / "p.zip", "--resolution", "16"],
                 ["generate", inputs["model"], "--seeds", "0-3", "--out", out / "pics",
                  "--grid", out / "g.png"],
                 ["interpolate", inputs["model"], "--seeds", "1,2", "--frames-per-step", "2",
                  "--out", out / "w.mp4"],
                 ["interpolate", inputs["model"], "--seeds", "1,2", "--frames-per-step", "2",
                  "--out", out / "w.gif"],
                 ["export", inputs["model"], "--out", out / "exported"],
                 ["import", inputs["pkl"], "--out", out / "imported"],
                 ["report", tiny_run, "--out", out / "r.html"]):
        assert run(argv) == 0, argv
    modes = {str(p.relative_to(out)): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*")}
    assert {"p.zip", "pics/seed0003.png", "w.mp4", "exported/G_ema.safetensors",
            "imported/model.json", "r/loss.png"} <= modes.keys()
    want = {name: (0o777 if (out / name).is_dir() else 0o666) & ~umask for name in modes}
    assert modes == want
