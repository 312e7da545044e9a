"""The health monitor on real runs: a run whose G collapses onto one picture is flagged once
the warm-up is over and its end says the samples are near copies; a healthy run of the same
data says nothing through its first ticks (README: what the console says)."""

from __future__ import annotations

import pytest

from ganvas.cli import main

from tests.helpers import make_toy_archive, stats

# 32 px coloured squares; 6 kimg: the default warm-up (5 kimg) and a tick past it.
RUN = ["--model", "dcgan-tiny", "--kimg", "6", "--grid-size", "16", "--print-seconds", "0",
       "--grid-minutes", "0", "--snap-kimg", "6"]


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("squares") / "squares.zip", n=200,
                            resolution=32)


def train(squares, out, extra, capsys):
    code = main(["train", str(squares), "--out", str(out), *RUN, *extra])
    console = capsys.readouterr().out
    assert code == 0
    return next(out.iterdir()), console


def test_a_collapsed_run_is_flagged_and_its_end_says_so(squares, tmp_path, capsys):
    # G's learning rate 500 times D's and nothing to slow it: G finds one picture that D
    # scores as real and every latent draws it (checkerboard noise, the same in every cell).
    run, console = train(squares, tmp_path, ["--aug", "none", "--lr-g", "0.01", "--lr-d",
                                             "0.00002"], capsys)
    entries = stats(run)
    flagged = [e["kimg"] for e in entries if "mode_collapse" in e["flags"]]
    assert flagged and min(flagged) >= 5.0                      # after the warm-up
    assert all(e["diversity"] < 0.15 and e["d_fake"] > e["d_real"] for e in entries[4:])
    assert console.count("warning at") == 1 and "mode_collapse" in console
    assert "near copies of each other" in console.splitlines()[-2]
    assert "mode collapse was flagged above" in console


def test_a_healthy_run_is_quiet(squares, tmp_path, capsys):
    run, console = train(squares, tmp_path, [], capsys)
    assert all(e["flags"] == [] for e in stats(run))
    assert "warning" not in console and "near copies" not in console
    assert stats(run)[-1]["diversity"] > 0.25
