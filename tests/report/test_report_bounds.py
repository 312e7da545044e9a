"""The report says how far a run got against its own bound (kimg or minutes), and shows one
sample grid as a still picture rather than a progress animation of one frame."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from ganvas.cli import main


@pytest.fixture
def run(tiny_run, tmp_path):
    """A private copy of the tiny run (kimg 0.256, two sample grids)."""
    return shutil.copytree(tiny_run, tmp_path / tiny_run.name)


def page_of(run, capsys) -> str:
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    return (run / "report.html").read_text()


def summary_row(page: str, name: str) -> str:
    return re.search(rf"<th>{name}</th><td>([^<]*)</td>", page).group(1)


def set_bound(run, **train):
    cfg = json.loads((run / "config.json").read_text())
    cfg["train"].update(train)
    (run / "config.json").write_text(json.dumps(cfg))


def test_a_kimg_run_says_how_much_of_its_kimg(run, capsys):
    assert summary_row(page_of(run, capsys), "kimg reached") == "0.256 of 0.256 kimg"
    set_bound(run, kimg=10, start_kimg=2.5)              # a fine-tuned snapshot's start
    assert summary_row(page_of(run, capsys), "kimg reached") == "0.256 of 12.5 kimg"


def test_a_minutes_run_says_it_was_bounded_in_time(run, capsys):
    set_bound(run, kimg=None, minutes=2)
    page = page_of(run, capsys)
    row = summary_row(page, "kimg reached")
    assert row == "0.256 kimg in a run of 2 minutes (bounded in time, not in kimg)"
    assert "0.256 of 2 minutes" not in page


def progress_section(page: str) -> str:
    return re.search(r'<section id="progress">(.*?)</section>', page, re.S).group(1)


def test_two_grids_animate_one_grid_is_a_still(run, capsys):
    section = progress_section(page_of(run, capsys))
    assert "data:image/gif" in section and "2 sample grids, from 0.128 kimg to 0.256" in section
    assert (run / "report" / "progress.gif").is_file()
    grids = sorted((run / "samples").glob("kimg-*.png"))
    grids[0].unlink()                                    # one grid left
    page = page_of(run, capsys)
    section = progress_section(page)
    assert "data:image/gif" not in page                   # no GIF anywhere on the page
    assert "data:image/png" in section and "still picture" in section
    assert f"One sample grid so far ({grids[1].name}, at 0.256 kimg)" in section
    assert not (run / "report" / "progress.gif").exists()   # the earlier one is gone
    grids[1].unlink()
    assert "No sample grids yet." in progress_section(page_of(run, capsys))


def test_a_grid_written_between_snapshots_is_a_frame(run, capsys):
    """Grids may be written by wall time, with no snapshot of the same kimg: the report
    animates them all the same."""
    grids = sorted((run / "samples").glob("kimg-*.png"))
    shutil.copy(grids[0], run / "samples" / "kimg-000000.200.png")
    page = page_of(run, capsys)
    assert "3 sample grids, from 0.128 kimg to 0.256 kimg" in progress_section(page)
    assert summary_row(page, "ticks / sample grids").endswith("/ 3")
