"""A MODEL or RUN argument that is a folder of runs (runs/ rather than runs/00003-...) is one
line naming the newest runs in it and one to give instead, for every verb that takes a run."""

from __future__ import annotations

import json

import pytest

import ganvas
from ganvas.errors import GanvasError

from tests.helpers import usage_error


@pytest.fixture
def runs(tiny_run, tmp_path):
    """runs/: the tiny run as 00000-dcgan-tiny-toy, seven newer runs without a snapshot yet,
    and things that are not runs."""
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "00000-dcgan-tiny-toy").symlink_to(tiny_run, target_is_directory=True)
    for i in range(1, 8):
        (folder / f"{i:05d}-dcgan-tiny-frogs").mkdir()
        (folder / f"{i:05d}-dcgan-tiny-frogs" / "config.json").write_text(json.dumps({}))
    (folder / "notes").mkdir()
    (folder / "readme.txt").write_text("my runs")
    return folder


@pytest.mark.parametrize("verb", [
    ["generate", "RUNS", "--seeds", "1", "--grid", "OUT/g.png"],
    ["explore", "RUNS", "--dims", "0", "--out", "OUT/e.png"],
    ["interpolate", "RUNS", "--seeds", "1,2", "--out", "OUT/w.gif"],
    ["export", "RUNS", "--out", "OUT/exported"],
    ["eval", "RUNS", "--metrics", "swd"],
    ["report", "RUNS", "--out", "OUT/r.html"],
    ["train", "--resume", "RUNS", "--kimg", "1"],
    ["train", "--resume", "RUNS", "--kimg", "1", "--dry-run"],
])
def test_every_verb_names_the_runs_inside(runs, tmp_path, capsys, verb):
    out = tmp_path / "out"
    argv = [str(runs) if a == "RUNS" else a.replace("OUT", str(out)) for a in verb]
    err = usage_error(argv, capsys)
    assert f"{runs} holds runs rather than being one" in err
    listed = err.split("newest first: ")[1]
    assert listed.startswith("00007-dcgan-tiny-frogs, 00006-dcgan-tiny-frogs, 00005")
    assert "00003-dcgan-tiny-frogs and 3 more)" in listed and "00002" not in listed
    assert f"e.g. {runs / '00000-dcgan-tiny-toy'} " in err      # the one with a snapshot
    assert "notes" not in err and "readme" not in err
    assert not out.exists()


def test_the_api_says_the_same_and_a_named_run_loads(runs):
    with pytest.raises(GanvasError, match=r"holds runs rather than being one: .*\(newest "
                                          r"first: 00007-dcgan-tiny-frogs, "):
        ganvas.load(runs)
    assert ganvas.load(runs / "00000-dcgan-tiny-toy").resolution == 16


def test_few_runs_are_all_named_and_a_folder_without_runs_is_no_run(tiny_run, tmp_path,
                                                                   capsys):
    two = tmp_path / "two"
    two.mkdir()
    (two / "00004-old").symlink_to(tiny_run, target_is_directory=True)
    (two / "00010-new").mkdir()
    (two / "00010-new" / "checkpoints").mkdir()
    err = usage_error(["generate", str(two), "--seeds", "1", "--grid",
                       str(tmp_path / "g.png")], capsys)
    assert err.rstrip().endswith("(newest first: 00010-new, 00004-old)")
    assert f"e.g. {two / '00004-old'} " in err and "more" not in err
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    err = usage_error(["generate", str(plain), "--seeds", "1", "--grid",
                       str(tmp_path / "g.png")], capsys)
    assert "is not a run directory, snapshot or exported model" in err
