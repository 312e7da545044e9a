"""What a person sees while a run trains: a tick line per tick (the numbers of stats.jsonl,
where the run is, an ETA), no bar in a log, grids and snapshots by wall time."""

from __future__ import annotations

import re

import pytest

from ganvas.cli import main
from ganvas.runfolder.snapshots import list_snapshots
from ganvas.training.console import Cadence, RunClock, clock_text, tick_line

from tests.helpers import stats

TICK = re.compile(r"^tick (\d+)  kimg ([\d.]+)/([\d.]+) \((\d+)%\), ([\d:]+) in, ETA ([\d:-]+)  "
                  r"([\d.]+) s/kimg  (\d+) img/s  loss G ([\d.-]+) D ([\d.-]+) "
                  r"D\(real\) ([+-][\d.]+) D\(fake\) ([+-][\d.]+) .*diversity ([\d.]+) "
                  r"flags (.+)$")


def test_clock_text():
    assert clock_text(65) == "1:05" and clock_text(3725) == "1:02:05" and clock_text(-3) == "0:00"


def test_eta_follows_this_sessions_rate_and_the_deadline():
    kimg = RunClock(images_seen=10_000, target=40_000, minutes=None, now=100.0)
    assert kimg.remaining(10_000, now=100.0) is None          # no rate yet
    # 5,000 images in 50 s (snapshots included) -> 25,000 left take 250 s.
    assert kimg.remaining(15_000, now=150.0) == pytest.approx(250.0)
    assert kimg.position(15_000, now=150.0) == "kimg 15.0/40 (38%), 0:50 in, ETA 4:10"
    timed = RunClock(images_seen=0, target=None, minutes=2, now=0.0)
    assert timed.remaining(500, now=30.0) == pytest.approx(90.0)
    assert timed.position(500, now=30.0) == "kimg 0.5, 0:30 of 2:00 (25%), ETA 1:30"
    assert timed.fraction(500, now=500.0) == 1.0


def test_tick_line_shows_what_the_tick_holds():
    clock = RunClock(0, 4000, None, now=0.0)
    entry = {"kimg": 1.0, "sec_per_kimg": 2.5, "img_per_s": 400.0, "loss_g": 1.25,
             "loss_d": 0.5, "d_real": 1.5, "d_fake": -1.25, "aug_p": 0.125, "r1": 0.01,
             "diversity": 0.4, "flags": ["d_won"], "instance_noise": 0.0}
    line = tick_line(entry, 3, clock)
    assert line.startswith("tick 3  kimg 1.0/4 (25%)")
    for part in ("2.5 s/kimg", "400 img/s", "loss G 1.250 D 0.500", "D(real) +1.50",
                 "D(fake) -1.25", "aug p 0.125", "r1 0.01", "diversity 0.40", "flags d_won"):
        assert part in line, part
    assert "noise" not in line and "pl " not in line               # absent: left out
    assert tick_line({**entry, "flags": []}, 3, clock).endswith("flags -")


def test_cadence_spaces_out_as_the_run_grows():
    c = Cadence(60, 0.5, start=0.0)
    times = []
    for now in range(0, 3600, 5):
        if c.due(now):
            times.append(now)
            c.done(now)
    assert times[:4] == [60, 120, 180, 270]            # 1, 2, 3, 4.5 minutes
    assert len(times) < 12
    assert not Cadence(0, 0.5, 0.0).due(1e9) and Cadence(0, 0.5, 0.0, always=True).due(0)


def test_train_prints_a_tick_line_per_tick_and_no_bar_in_a_log(toy_archive, tmp_path, capsys):
    code = main(["train", str(toy_archive), "--out", str(tmp_path), "--model", "dcgan-tiny",
                 "--kimg", "0.256", "--batch", "16", "--tick-kimg", "0.064", "--snap-kimg",
                 "0.128", "--grid-size", "16", "--print-seconds", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    run = next(tmp_path.iterdir())
    ticks = [m for m in map(TICK.match, out.splitlines()) if m]
    entries = stats(run)
    assert len(ticks) == len(entries) == 4
    for i, (m, e) in enumerate(zip(ticks, entries), start=1):
        assert int(m[1]) == i and float(m[2]) == pytest.approx(e["kimg"], abs=0.05)
        assert m[3] == "0.256" and float(m[9]) == pytest.approx(e["loss_g"], abs=5e-4)
        assert float(m[11]) == pytest.approx(e["d_real"], abs=5e-3)
        assert m[14] == "-"
    assert ticks[-1][4] == "100" and ticks[-1][6] == "0:00"
    assert "%|" not in out + err and "\r" not in out + err       # no bar without a terminal
    assert out.count("stopped at 0.256 kimg") == 1
    # The log keeps what the console said.
    assert (run / "log.txt").read_text().count("tick ") == 4


def test_the_tick_lines_are_spaced_out(toy_archive, tmp_path, capsys):
    main(["train", str(toy_archive), "--out", str(tmp_path), "--model", "dcgan-tiny",
          "--kimg", "0.256", "--batch", "16", "--tick-kimg", "0.064", "--snap-kimg", "0.128",
          "--grid-size", "16", "--print-seconds", "3600"])
    out = capsys.readouterr().out
    ticks = [m for m in map(TICK.match, out.splitlines()) if m]
    assert [int(m[1]) for m in ticks] == [1, 4]          # the first and the last


def test_grids_and_snapshots_by_wall_time(toy_archive, tmp_path, capsys):
    """Every tick is past a tiny interval: a grid or a snapshot at each, though --snap-kimg
    is the whole run."""
    main(["train", str(toy_archive), "--out", str(tmp_path), "--model", "dcgan-tiny",
          "--kimg", "0.192", "--batch", "16", "--tick-kimg", "0.064", "--snap-kimg", "1",
          "--grid-size", "16", "--grid-minutes", "0.00001"])
    run = next(tmp_path.iterdir())
    grids = sorted(p.name for p in (run / "samples").glob("*.png"))
    assert grids == ["kimg-000000.064.png", "kimg-000000.128.png", "kimg-000000.192.png"]
    assert [s.name for s in list_snapshots(run)] == ["kimg-000000.192"]   # grids alone
    assert "grid samples/kimg-000000.064.png" in capsys.readouterr().out
    main(["train", str(toy_archive), "--out", str(tmp_path / "snaps"), "--model",
          "dcgan-tiny", "--kimg", "0.192", "--batch", "16", "--tick-kimg", "0.064",
          "--snap-kimg", "1", "--grid-size", "16", "--snap-minutes", "0.00001"])
    run = next((tmp_path / "snaps").iterdir())
    assert [s.name for s in list_snapshots(run)] == ["kimg-000000.064", "kimg-000000.128",
                                                      "kimg-000000.192"]


@pytest.mark.parametrize("flag", ["--grid-minutes", "--snap-minutes", "--print-seconds"])
def test_wall_time_options_are_checked(flag, toy_archive, tmp_path, capsys):
    from tests.helpers import usage_error
    line = usage_error(["train", str(toy_archive), "--out", str(tmp_path), flag, "-1"], capsys)
    assert flag.lstrip("-") in line
