"""Running the same `train` again into the same --out continues the run it made (saying so,
exactly as a resume would), --new-run starts another; --resume says where it restarts and
takes --dry-run."""

from __future__ import annotations

import json

from ganvas.cli import main
from ganvas.runfolder.snapshots import list_snapshots

from tests.helpers import make_toy_archive, same, stats, usage_error, weights

TRAIN = ["--model", "dcgan-tiny", "--batch", "16", "--tick-kimg", "0.064", "--snap-kimg",
         "0.128", "--grid-size", "16", "--seed", "3"]


def train(data, out, kimg, capsys, *extra):
    code = main(["train", str(data), "--out", str(out), "--kimg", str(kimg), *TRAIN, *extra])
    out_text = capsys.readouterr().out
    assert code == 0
    return out_text


def runs(out):
    return sorted(p.name for p in out.iterdir())


def test_the_same_command_continues_its_run_exactly(toy_archive, tmp_path, capsys):
    out = tmp_path / "runs"
    train(toy_archive, out, 0.128, capsys)
    console = train(toy_archive, out, 0.256, capsys)
    assert runs(out) == ["00000-dcgan-tiny-toy"]
    run = out / "00000-dcgan-tiny-toy"
    assert (f"continuing {run} from checkpoints/kimg-000000.128 (0.128 kimg), to 0.256 kimg; "
            f"the same data and options (--new-run starts a new run)") in console
    assert [s.name for s in list_snapshots(run)][-1] == "kimg-000000.256"
    assert [e["kimg"] for e in stats(run)] == [0.064, 0.128, 0.192, 0.256]
    # Bit for bit the run that never stopped.
    straight = tmp_path / "straight"
    train(toy_archive, straight, 0.256, capsys)
    a = list_snapshots(run)[-1]
    b = list_snapshots(straight / "00000-dcgan-tiny-toy")[-1]
    assert same(weights(a, "G_ema"), weights(b, "G_ema")) and same(weights(a, "D"),
                                                                   weights(b, "D"))
    # Already there: nothing to do, in the same run.
    console = train(toy_archive, out, 0.256, capsys)
    assert "nothing to do" in console and runs(out) == ["00000-dcgan-tiny-toy"]


def test_new_run_other_options_or_other_data_start_a_new_run(toy_archive, tmp_path, capsys):
    out = tmp_path / "runs"
    train(toy_archive, out, 0.128, capsys)
    train(toy_archive, out, 0.128, capsys, "--new-run")
    assert runs(out) == ["00000-dcgan-tiny-toy", "00001-dcgan-tiny-toy"]
    console = train(toy_archive, out, 0.128, capsys, "--lr-g", "0.001")
    assert "continuing" not in console and len(runs(out)) == 3
    # The same options on changed data: a new run, and the console says why.
    changed = make_toy_archive(tmp_path / "other" / "toy.zip", seed=1)
    moved = out.parent / "toy.zip"
    moved.write_bytes(changed.read_bytes())
    train(moved, out, 0.128, capsys)
    moved.write_bytes(make_toy_archive(tmp_path / "third" / "toy.zip", seed=2).read_bytes())
    console = train(moved, out, 0.256, capsys)
    assert "the data changed since" in console and len(runs(out)) == 5


def test_a_run_without_a_snapshot_is_not_continued(toy_archive, tmp_path, capsys):
    out = tmp_path / "runs"
    train(toy_archive, out, 0.128, capsys)
    run = out / "00000-dcgan-tiny-toy"
    for snap in list_snapshots(run):
        for f in snap.iterdir():
            f.unlink()
        snap.rmdir()
    console = train(toy_archive, out, 0.128, capsys)
    assert "no snapshot yet" in console and len(runs(out)) == 2


def test_resume_says_where_and_dry_run_writes_nothing(toy_archive, tmp_path, capsys):
    out = tmp_path / "runs"
    train(toy_archive, out, 0.128, capsys)
    run = out / "00000-dcgan-tiny-toy"
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    assert main(["train", "--resume", str(run), "--kimg", "0.256", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"would resume {run} from checkpoints/kimg-000000.128 (0.128 kimg), "
                           f"to 0.256 kimg")
    assert "nothing was written" in text
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    assert main(["train", "--resume", str(run), "--minutes", "0.01"]) == 0
    assert (f"resuming {run} from checkpoints/kimg-000000.128 (0.128 kimg), for 0.01 more "
            f"minutes") in capsys.readouterr().out
    assert "resuming" in (run / "log.txt").read_text()
    line = usage_error(["train", "--resume", str(run), "--new-run"], capsys)
    assert "--resume takes only" in line
    assert json.loads((run / "config.json").read_text())["train"]["minutes"] == 0.01
