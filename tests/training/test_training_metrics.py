"""Metrics during training: metrics.jsonl, checkpoints/best, and no effect on the training."""

from __future__ import annotations

import json

import pytest

import ganvas
from ganvas.checkpoint import read_weights
from ganvas.metrics import evaluate as ev

from tests.helpers import TINY, usage_error

METRICS = dict(metrics="swd,fid", metrics_num=24, extractor="random-conv")


def lines(run, name="metrics.jsonl"):
    return [json.loads(x) for x in (run / name).read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def measured_run(tmp_path_factory, toy_archive):
    return ganvas.train(str(toy_archive), out=tmp_path_factory.mktemp("runs"), kimg=0.384,
                        **TINY, **METRICS)


def test_every_snapshot_is_measured_and_the_best_is_kept(measured_run):
    entries = lines(measured_run)
    snaps = sorted(p.name for p in (measured_run / "checkpoints").iterdir() if p.name != "best")
    assert [e["snapshot"] for e in entries] == [f"checkpoints/{s}" for s in snaps]
    assert all(set(e["metrics"]) == {"swd", "fid"} and e["generated"] == 24
               and e["reals"] == 64 for e in entries)      # 24 generated vs all 64 reals
    best = min(entries, key=lambda e: e["metrics"]["swd"])   # the first metric decides
    info = json.loads((measured_run / "checkpoints" / "best" / "model.json").read_text())
    assert info["kimg"] == best["kimg"]
    assert [e.get("best", False) for e in entries][0] is True
    log = (measured_run / "log.txt").read_text()
    assert "metrics at" in log and ": 24 generated vs 64 training images (" in log
    # fid on 64 reals: said once, with the figure to compare instead
    assert log.count("dominated by small-sample bias") == 1 and "add kid" in log
    assert all("dominated by small-sample bias" in e["note"] for e in entries)


def test_logged_numbers_equal_an_eval_of_the_same_snapshot(measured_run):
    """Same seeds, same real images: metrics.jsonl is what `ganvas eval` says."""
    last = lines(measured_run)[-1]
    again = ev.evaluate(ganvas.load(measured_run / last["snapshot"]), ["swd", "fid"], 24,
                        "random-conv")
    for key in ("swd", "fid"):
        assert again["metrics"][key] == pytest.approx(last["metrics"][key], rel=1e-9)


def test_measuring_does_not_change_the_training(measured_run, tmp_path, toy_archive):
    plain = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.384, **TINY)
    for name in ("G", "G_ema", "D"):
        a = read_weights(measured_run / "checkpoints" / "kimg-000000.384" / f"{name}.safetensors")
        b = read_weights(plain / "checkpoints" / "kimg-000000.384" / f"{name}.safetensors")
        assert all((a[k] == b[k]).all() for k in a), name


def test_metrics_every_kimg_and_the_last_snapshot(tmp_path, toy_archive):
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.384, metrics_every=0.256,
                       best_metric="swd", **{**TINY, "snap_kimg": 1.0},
                       **{**METRICS, "metrics": "swd,fid"})
    assert [e["kimg"] for e in lines(run)] == [0.256, 0.384]     # due, then the end
    assert (run / "checkpoints" / "best").is_dir()
    # `ganvas eval` with the same options reuses the real features training computed
    again = ev.evaluate(ganvas.load(run), ["fid"], 24, "random-conv")
    assert again["reference_cached"] == {"random-conv": True}


def test_resume_continues_metrics_and_keeps_the_best(tmp_path, toy_archive):
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.256, **TINY, **METRICS)
    ganvas.resume(run, kimg=0.384, progress=False)
    entries = lines(run)
    assert [e["kimg"] for e in entries] == [0.128, 0.256, 0.384]
    best = min(entries, key=lambda e: e["metrics"]["swd"])   # the first metric decides
    info = json.loads((run / "checkpoints" / "best" / "model.json").read_text())
    assert info["kimg"] == best["kimg"]


@pytest.mark.parametrize("argv,needle", [
    (["--metrics", "swd", "--best-metric", "fid"], "is not measured"),
    (["--metrics", "fidd"], "choose from"),
    (["--metrics", "is", "--extractor", "random-conv"], "needs class logits"),
    (["--metrics", "swd", "--metrics-num", "1"], "at least 2"),
])
def test_bad_metric_options_stop_before_a_run_folder(argv, needle, tmp_path, toy_archive,
                                                     capsys):
    err = usage_error(["train", str(toy_archive), "--model", "dcgan-tiny", "--kimg", "0.1",
                       "--out", str(tmp_path / "runs"), *argv], capsys)
    assert needle in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
