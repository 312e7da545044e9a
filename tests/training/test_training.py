"""Training runs: the run directory, snapshots, exact resume, SIGKILL, the tricks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganvas
from ganvas import checkpoint as ckpt
from ganvas.errors import GanvasError
from ganvas.runfolder import snapshots
from ganvas.training.ema import ema_beta

from tests.helpers import TINY


def weights(snapshot, name):
    return load_file(str(snapshot / f"{name}.safetensors"))


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


def test_run_directory_layout(tiny_run):
    assert tiny_run.name == "00000-dcgan-tiny-toy"
    for name in ("config.json", "log.txt", "stats.jsonl"):
        assert (tiny_run / name).is_file(), name
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["model"]["resolution"] == 16 and config["train"]["kimg"] == 0.256
    stats = [json.loads(line) for line in (tiny_run / "stats.jsonl").read_text().splitlines()]
    assert [s["kimg"] for s in stats] == [0.064, 0.128, 0.192, 0.256]
    assert all(np.isfinite(s["loss_d"]) and s["img_per_s"] > 0 for s in stats)
    snaps = snapshots.list_snapshots(tiny_run)
    assert [s.name for s in snaps] == ["kimg-000000.128", "kimg-000000.256"]
    for s in snaps:
        assert {p.name for p in s.iterdir()} == {
            "G.safetensors", "G_ema.safetensors", "D.safetensors", "model.json", "trainer.pt"}
        state = torch.load(s / "trainer.pt", weights_only=True)     # no code is unpickled
        assert state["images_seen"] == int(s.name[5:].replace(".", ""))
    grids = sorted((tiny_run / "samples").iterdir())
    assert [g.name for g in grids] == ["kimg-000000.128.png", "kimg-000000.256.png"]
    with Image.open(grids[-1]) as im:                   # 64 seeds of 16px, enlarged 4x
        assert im.size == (8 * 16 * 4, 8 * 16 * 4)


def test_stopped_and_resumed_run_equals_uninterrupted_run(toy_archive, tmp_path):
    tricks = dict(TINY, mirror=True, label_smoothing=0.1, instance_noise=0.2, seed=5)
    full = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.384, **tricks)
    part = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.192, new_run=True, **tricks)
    assert snapshots.list_snapshots(part)[-1].name == "kimg-000000.192"
    ganvas.resume(part, kimg=0.384, progress=False)
    a, b = snapshots.list_snapshots(full)[-1], snapshots.list_snapshots(part)[-1]
    assert a.name == b.name == "kimg-000000.384"
    for name in ("G", "G_ema", "D"):
        assert same_weights(weights(a, name), weights(b, name)), name
    assert torch.load(a / "trainer.pt", weights_only=True)["step"] == 24


def test_resume_of_finished_run_does_nothing_and_bad_resumes_fail(tiny_run, tmp_path):
    before = snapshots.list_snapshots(tiny_run)
    ganvas.resume(tiny_run, progress=False)
    assert snapshots.list_snapshots(tiny_run) == before
    with pytest.raises(GanvasError, match="not a run directory"):
        ganvas.resume(tmp_path)


def test_sigkill_in_the_middle_resumes_from_last_snapshot(toy_archive, tmp_path):
    cmd = [sys.executable, "-m", "ganvas", "train", str(toy_archive), "--model", "dcgan-tiny",
           "--batch", "16", "--kimg", "1000", "--snap-kimg", "0.064", "--out", str(tmp_path),
           "--seed", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = tmp_path / "00000-dcgan-tiny-toy"
    deadline = time.time() + 120
    while len(snapshots.list_snapshots(run)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    last = snapshots.list_snapshots(run)[-1]
    seen = torch.load(last / "trainer.pt", weights_only=True)["images_seen"]
    assert seen >= 3 * 64
    # Kept snapshots are whole; anything half-written is a hidden temporary, never a snapshot.
    for snap in snapshots.list_snapshots(run):
        ckpt.load_generator(snap)
    target = (seen + 64) / 1000
    ganvas.resume(run, kimg=target, progress=False)
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    fresh = ganvas.train(str(toy_archive), out=tmp_path / "fresh", model="dcgan-tiny", batch=16,
                         kimg=target, snap_kimg=0.064, seed=1, progress=False)
    a, b = snapshots.list_snapshots(run)[-1], snapshots.list_snapshots(fresh)[-1]
    assert a.name == b.name
    assert same_weights(weights(a, "G_ema"), weights(b, "G_ema"))


def test_minutes_budget_stops_and_snapshots(toy_archive, tmp_path):
    start = time.monotonic()
    run = ganvas.train(str(toy_archive), out=tmp_path, minutes=0.03, **dict(TINY, snap_kimg=1000))
    assert time.monotonic() - start < 30
    assert len(snapshots.list_snapshots(run)) == 1       # the end of training always snapshots
    assert json.loads((run / "config.json").read_text())["train"]["kimg"] is None


def test_old_snapshots_are_pruned(toy_archive, tmp_path):
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.32,
                       **dict(TINY, snap_kimg=0.064, keep_snapshots=2))
    assert [s.name for s in snapshots.list_snapshots(run)] == ["kimg-000000.256", "kimg-000000.320"]
    assert len(list((run / "samples").iterdir())) == 5     # every grid is kept


def test_failed_snapshot_write_leaves_old_snapshot_and_no_debris(tiny_run, monkeypatch):
    snap = snapshots.list_snapshots(tiny_run)[-1]
    before = weights(snap, "G")
    G, _ = ckpt.load_generator(snap, which="G")

    def broken(module, path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_module", broken)
    with pytest.raises(OSError, match="^disk full$"):
        snapshots.write_snapshot(snap, {"G": G}, {"model": {}})
    assert same_weights(weights(snap, "G"), before)
    assert not [p for p in snap.parent.iterdir() if p.name.startswith(".")]


def test_instance_noise_anneals_linearly(toy_archive, tmp_path):
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.256,
                       **dict(TINY, instance_noise=0.5, instance_noise_kimg=0.256))
    stats = [json.loads(s) for s in (run / "stats.jsonl").read_text().splitlines()]
    sigmas = [s["instance_noise"] for s in stats]
    assert sigmas == pytest.approx([0.375, 0.25, 0.125, 0.0])


def test_ema_half_life():
    beta = ema_beta(ema_kimg=1.0, rampup=None, images_seen=10_000, images=100)
    assert beta ** 10 == pytest.approx(0.5)                  # 1,000 images halve the weight
    early = ema_beta(ema_kimg=1.0, rampup=0.05, images_seen=200, images=10)
    assert early ** 1 == pytest.approx(0.5)                  # half-life 0.05 * 200 = 10 images


def test_separate_learning_rates_reach_the_optimisers(toy_archive, tmp_path):
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.032,
                       **dict(TINY, lr_g=1e-3, lr_d=3e-4))
    state = torch.load(snapshots.list_snapshots(run)[-1] / "trainer.pt", weights_only=True)
    assert state["opt_G"]["param_groups"][0]["lr"] == 1e-3
    assert state["opt_D"]["param_groups"][0]["lr"] == 3e-4


@pytest.mark.slow
def test_training_learns_the_toy_data(toy_archive, tmp_path):
    """After 500 steps, samples show white backgrounds like the data (an untrained or broken
    G gives uniform grey: no white pixel at all)."""
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=8.0,
                       **dict(TINY, snap_kimg=8.0, tick_kimg=1.0, seed=2, lr_g=5e-4, lr_d=5e-4))
    images = ganvas.load(run).generate(range(32)).astype(float)
    white = (images.min(axis=-1) > 200).mean()
    assert white > 0.1, f"only {white:.0%} white pixels: the model has not learnt the background"


def test_train_accepts_a_raw_folder_and_caches_its_preparation(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not a picture")
    run = ganvas.train(str(folder), out=tmp_path / "runs", resolution=16, kimg=0.032, **TINY)
    info = ckpt.read_model_json(snapshots.list_snapshots(run)[-1])
    assert info["dataset"]["num_images"] == 12 and info["model"]["resolution"] == 16
    again = ganvas.train(str(folder), out=tmp_path / "runs", resolution=16, kimg=0.032, **TINY)
    info2 = ckpt.read_model_json(snapshots.list_snapshots(again)[-1])
    assert info2["dataset"]["sha256"] == info["dataset"]["sha256"]
