"""The run's report (report.html and its pictures) and the TensorBoard log."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import sys
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from ganvas.cli import main
from ganvas.report import write_report
from ganvas.report.tensorboard import TensorBoardLog
from ganvas.runfolder.read import effective_history, read_run, training_seconds

SECTIONS = ("summary", "losses", "metrics", "augment", "reals-fakes", "latest", "progress")
METRICS = [
    {"kimg": 0.128, "generated": 1000, "reals": 64,
     "metrics": {"swd": 41.25, "fid": 123.456, "kid": 0.07,
                                           "kid_std": 0.01, "swd_levels": [1.0, 2.0]},
     "extractors": {"fid": "inception-v3", "kid": "inception-v3"}},
    {"kimg": 0.256, "generated": 1000, "reals": 64,
     "metrics": {"swd": 30.5, "fid": 98.765, "kid": 0.05,
                                           "kid_std": 0.01},
     "extractors": {"fid": "inception-v3", "kid": "inception-v3"}},
]


def write_jsonl(path, entries, tail=""):
    path.write_text("".join(json.dumps(e) + "\n" for e in entries) + tail)


@pytest.fixture
def run(tiny_run, tmp_path):
    """A private copy of the tiny run (two snapshots, four ticks), so reports do not touch the
    shared one."""
    return shutil.copytree(tiny_run, tmp_path / tiny_run.name)


def embedded(page: str) -> list[tuple[str, bytes]]:
    """(mime, bytes) of every data: URI picture in the page."""
    return [(m, base64.b64decode(b))
            for m, b in re.findall(r'src="data:(image/\w+);base64,([^"]+)"', page)]


def test_report_is_one_self_contained_page(run):
    write_jsonl(run / "metrics.jsonl", METRICS)
    out = write_report(run)
    assert out == run / "report.html"
    page = out.read_text()
    for anchor in SECTIONS:
        assert f'id="{anchor}"' in page
    # Every picture is inside the page; nothing is fetched from anywhere else.
    assert re.findall(r'src="([^"]{0,5})', page) == ["data:"] * len(embedded(page))
    assert "<script" not in page and "<link" not in page and "http" not in page
    mimes = [m for m, _ in embedded(page)]
    assert mimes.count("image/gif") == 1 and mimes.count("image/png") >= 5
    for _, data in embedded(page):
        Image.open(BytesIO(data)).verify()                      # each one decodes
    assert "dcgan-tiny" in page and "0.256" in page             # preset, kimg reached
    # Written aside and renamed: no temporary files left behind.
    assert not [p for p in (run / "report").iterdir() if p.name.startswith(".")]


def test_plots_and_reals_are_real_pictures(run):
    write_jsonl(run / "metrics.jsonl", METRICS)
    write_report(run)
    folder = run / "report"
    for name in ("loss.png", "metrics.png", "reals.png"):
        with Image.open(folder / name) as im:
            assert im.format == "PNG" and im.width > 100 and im.height > 100
    assert not (folder / "augment_p.png").exists()              # the run has no augmentation
    # The reals grid matches the sample grid cell for cell, and shows the toy data: squares
    # on white, so most pixels are white.
    latest = sorted((run / "samples").glob("*.png"))[-1]
    reals = np.asarray(Image.open(folder / "reals.png").convert("RGB"))
    assert reals.shape[:2] == np.asarray(Image.open(latest)).shape[:2]
    assert (reals == 255).all(axis=-1).mean() > 0.5


def test_progress_gif_has_a_frame_per_snapshot_grid(run):
    write_report(run)
    grids = sorted((run / "samples").glob("kimg-*.png"))
    assert len(grids) == 2
    with Image.open(run / "report" / "progress.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == len(grids)


def test_metric_values_reach_the_page(run):
    write_jsonl(run / "metrics.jsonl", METRICS)
    page = write_report(run).read_text()
    assert "98.765" in page and "30.5" in page                 # the newest values
    assert "inception-v3" in page
    assert "No metrics yet" not in page
    data = read_run(run)
    assert [m["kimg"] for m in data.metrics] == [0.128, 0.256]
    # the counts behind each value, and FID on 64 reals called mostly bias (KID is measured)
    assert "<td>1,000 generated vs 64 training images</td>" in page
    assert ("with 64 training images (under 2,000) fid is dominated by small-sample bias; "
            "KID (unbiased) is the figure to compare") in page
    assert "add kid" not in page


def test_the_metrics_table_of_older_and_larger_runs(run):
    """An entry of before the counts ("num": as many of each) still shows its count; 5,000
    reals and swd alone need no note."""
    old = [{**METRICS[1], "num": 64}]
    del old[0]["generated"], old[0]["reals"]
    write_jsonl(run / "metrics.jsonl", old)
    page = write_report(run).read_text()
    assert "<td>64 generated vs 64 training images</td>" in page
    assert "small-sample bias" in page
    write_jsonl(run / "metrics.jsonl", [{**METRICS[1], "reals": 5000}])
    page = write_report(run).read_text()
    assert "1,000 generated vs 5,000 training images" in page
    assert "small-sample bias" not in page


def test_a_run_without_metrics_says_so(run):
    page = write_report(run).read_text()
    assert "No metrics yet" in page and "No augmentation probability" in page
    assert not (run / "report" / "metrics.png").exists()
    assert (run / "report" / "loss.png").exists()


def test_rollbacks_resumes_and_broken_lines_are_handled():
    entries = [{"kimg": 1.0, "loss_d": 1.0, "loss_g": 2.0},
               {"kimg": 2.0, "loss_d": math.nan, "loss_g": 2.0},           # diverged
               {"kimg": 1.0, "rollback": 1, "lr_scale": 0.5},
               {"kimg": 2.0, "loss_d": 0.9},                                # loss_g missing
               {"kimg": 3.0, "loss_d": 0.8, "loss_g": 1.5},
               {"kimg": 2.5, "loss_d": 0.7, "loss_g": 1.4},                 # resumed at 2.0
               {"loss_d": 5.0}]                                             # no kimg
    ticks, rollbacks = effective_history(entries)
    assert [t["kimg"] for t in ticks] == [1.0, 2.0, 2.5]
    assert ticks[1] == {"kimg": 2.0, "loss_d": 0.9} and len(rollbacks) == 1


def test_training_time_skips_the_pause_before_a_resume(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("2026-01-01 10:00:00 training dcgan ...\n"
                   "2026-01-01 10:01:00 stopped at 1.000 kimg\n"
                   "a line without a time\n"
                   "2026-01-01 12:00:00 training dcgan ...\n"        # resumed two hours later
                   "2026-01-01 12:00:10 stopped at 2.000 kimg\n")
    assert training_seconds(log) == 70
    assert training_seconds(tmp_path / "missing.txt") is None


def test_report_with_rollbacks_nan_and_ada_p(run):
    lines = [{"kimg": 0.064, "loss_d": 1.0, "loss_g": 2.0, "r1": 0.1, "aug_p": 0.0},
             {"kimg": 0.128, "loss_d": float("nan"), "loss_g": 2.5, "aug_p": 0.02,
              "flags": ["nonfinite"]},
             {"kimg": 0.064, "rollback": 1, "lr_scale": 0.5},
             {"kimg": 0.128, "loss_d": 0.9, "r1": 0.2, "aug_p": 0.04, "flags": []},
             {"kimg": 0.256, "loss_d": 0.8, "loss_g": 1.9, "aug_p": 0.08,
              "flags": ["d_won"]}]
    write_jsonl(run / "stats.jsonl", lines, tail='{"kimg": 0.3, "loss_d"')   # cut mid-write
    page = write_report(run).read_text()
    assert (run / "report" / "augment_p.png").exists()
    assert "d_won" in page and 'id="augment"' in page
    assert "No augmentation probability" not in page


def test_a_run_with_no_ticks_says_nothing_yet(run, tmp_path):
    empty = tmp_path / "00009-empty"
    empty.mkdir()
    shutil.copy(run / "config.json", empty / "config.json")
    (empty / "stats.jsonl").write_text("")
    page = write_report(empty).read_text()
    assert "Nothing yet" in page and "data:image" not in page
    assert not (empty / "report").exists()


def test_a_dataset_that_cannot_be_opened_is_a_note(run):
    cfg = json.loads((run / "config.json").read_text())
    cfg["train"]["data"] = str(run / "no-such-data.zip")
    (run / "config.json").write_text(json.dumps(cfg))
    shutil.rmtree(run / "report", ignore_errors=True)     # training wrote one with the reals
    page = write_report(run).read_text()
    assert "could not be shown" in page and "dataset not found" in page
    assert 'id="latest"' in page and (run / "report" / "progress.gif").exists()


def test_cli_report_and_its_errors(run, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "page.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.is_file() and (tmp_path / "elsewhere" / "page" / "loss.png").is_file()
    (tmp_path / "empty").mkdir()
    for bad, needle in ((tmp_path / "nope", "not found"),
                        (tmp_path / "empty", "not a run directory"),
                        (tmp_path, f"holds runs rather than being one: name one of them, "
                                   f"e.g. {run}")):
        assert main(["report", str(bad)]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1


def test_api_report(run):
    from ganvas.api import report
    assert report(run) == run / "report.html"


def test_tensorboard_events_can_be_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    with TensorBoardLog(tmp_path) as tb:
        assert tb.enabled
        for kimg, loss in ((0.5, 1.5), (1.0, 1.25)):
            tb.scalars(kimg, {"kimg": kimg, "loss_d": loss, "flags": ["d_won"],
                              "lost": math.nan, "time": 1.7e9})
        tb.metrics({"kimg": 1.0, "metrics": {"fid": 42.5, "swd_levels": [1, 2]}})
        tb.image("samples", np.full((8, 12, 1), 200, np.uint8), 1.0)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    assert set(tags["scalars"]) == {"train/loss_d", "metrics/fid"}
    assert [(e.step, e.value) for e in events.Scalars("train/loss_d")] == [(500, 1.5),
                                                                           (1000, 1.25)]
    assert events.Scalars("metrics/fid")[0].value == 42.5
    image = events.Images("samples")[0]
    assert (image.step, image.width, image.height) == (1000, 12, 8)


def test_tensorboard_rewind_hides_discarded_steps(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    with TensorBoardLog(tmp_path) as tb:
        for kimg in (1.0, 2.0, 3.0):
            tb.scalars(kimg, {"loss_d": kimg})
        tb.rewind(2.0)                            # a rollback to the 2 kimg snapshot
        tb.scalars(3.0, {"loss_d": 30.0})
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss_d")] == [
        (1000, 1.0), (2000, 2.0), (3000, 30.0)]


def test_tensorboard_without_tensorboard_is_a_silent_no_op(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # import fails
    tb = TensorBoardLog(tmp_path)
    assert not tb.enabled and "not available" in tb.reason
    tb.scalars(1.0, {"loss_d": 1.0})
    tb.image("samples", np.zeros((4, 4, 3), np.uint8), 1.0)
    tb.rewind(0.5)
    tb.close()
    assert not (tmp_path / "tensorboard").exists()


def test_training_ends_with_a_report_and_tensorboard_events(run):
    """The loop's hooks: report.html written at the end of training, events when installed."""
    assert (run / "report.html").is_file() and (run / "report" / "loss.png").is_file()
    assert "report report.html" in (run / "log.txt").read_text()
    import importlib.util
    if importlib.util.find_spec("tensorboard"):
        assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def test_report_shows_eval_results_apart_from_training_metrics(run):
    """RUN/eval/*.json (ganvas eval) appear under their own heading, beside the metrics
    measured during training: the newest of each metric, its direction and real reference;
    an unreadable file is skipped."""
    write_jsonl(run / "metrics.jsonl", METRICS)
    (run / "eval").mkdir()
    base = {"generated": 1000, "reals": 64, "extractors": {"fid": "inception-v3"},
            "real_reference": {"fid": {"value": 7.5, "kind": "real vs real",
                                       "images": [32, 32], "cached": False}}}
    (run / "eval" / "kimg-000000.128-fid.json").write_text(json.dumps(
        {**base, "kimg": 0.128, "metrics": {"fid": 111.0}}))
    (run / "eval" / "kimg-000000.256-fid.json").write_text(json.dumps(
        {**base, "kimg": 0.256, "metrics": {"fid": 55.25}}))
    (run / "eval" / "broken.json").write_text("{")
    assert [e["file"] for e in read_run(run).evals] == ["kimg-000000.128-fid.json",
                                                         "kimg-000000.256-fid.json"]
    page = write_report(run).read_text()
    section = page[page.index('id="metrics"'):page.index('id="augment"')]
    assert section.index("Measured during training") < section.index("Measured by ganvas eval")
    evals = section[section.index("Measured by ganvas eval"):]
    assert ("<td>FID</td><td>55.25</td><td>lower is better</td><td>real vs real: 7.5</td>"
            "<td>0.256</td><td>1,000 generated vs 64 training images</td>"
            "<td>inception-v3</td><td>eval/kimg-000000.256-fid.json</td>") in evals
    assert "111" not in evals
