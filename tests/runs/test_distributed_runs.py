"""Whole runs on 2 CPU processes (Gloo), started as torchrun starts them: one writer, the
same weights as one process, exact resume on 2, resume on 1, and a killed process ending the
other. (test_distributed.py checks the Trainer of every family; this file the loop and the
runs around it.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganvas
from ganvas.runfolder.snapshots import list_snapshots
from ganvas.cli.launch import without_gpus
from ganvas.training.distributed import SINGLE, World
from ganvas.training.measure import interleave

from tests.helpers import (assert_trained_alike, make_toy_archive, same, stats, usage_error,
                       weights)
from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
# 8 steps of a global batch of 8 (4 per process), a snapshot after 4; float32, no
# augmentation (it draws per process by design), SWD on 32 samples at each snapshot.
TRAINING = ["--model", "dcgan-tiny", "--resolution", "32", "--batch", "8", "--kimg", "0.064",
            "--snap-kimg", "0.032", "--tick-kimg", "0.016", "--aug", "none",
            "--precision", "fp32", "--seed", "3"]
OPTIONS = [*TRAINING, "--metrics", "swd", "--metrics-num", "32"]
API_OPTIONS = dict(model="dcgan-tiny", resolution=32, batch=8, kimg=0.064, snap_kimg=0.032,
                   tick_kimg=0.016, aug="none", precision="fp32", metrics="swd",
                   metrics_num=32, seed=3, progress=False)
TIMEOUT = 240


def worker_env(rank: int, n: int, port: int) -> dict[str, str]:
    """The variables torchrun gives process `rank` of n."""
    return {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            "RANK": str(rank), "WORLD_SIZE": str(n), "LOCAL_RANK": str(rank),
            "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


def start_workers(argv: list[str], cwds: list[Path]) -> list[subprocess.Popen]:
    """`ganvas ARGV` in one process per cwd, as torchrun would start them (each in its own
    folder, so a relative path one of them wrote to would show)."""
    port = free_port()
    return [subprocess.Popen([sys.executable, "-m", "ganvas", *argv], cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=worker_env(rank, len(cwds), port))
            for rank, cwd in enumerate(cwds)]


def finish(procs: list[subprocess.Popen], timeout: float = TIMEOUT) -> list[str]:
    """Wait for the processes; their stderr."""
    try:
        return [p.communicate(timeout=timeout)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()


def all_weights(snapshot: Path) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v for name in ("G", "G_ema", "D")
            for k, v in weights(snapshot, name).items()}


def assert_like_one(run: Path, one: Path) -> None:
    """The newest snapshots of two runs differ only as summing in another order does
    (assert_trained_alike, with the run's learning rate)."""
    train = json.loads((run / "config.json").read_text())["train"]
    assert_trained_alike(all_weights(list_snapshots(run)[-1]),
                         all_weights(list_snapshots(one)[-1]),
                         max(train["lr_g"], train["lr_d"]))


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """A run trained by 2 processes in their own folders; the main one's --out is relative."""
    base = tmp_path_factory.mktemp("two")
    archive = make_toy_archive(base / "toy32.zip", resolution=32)
    cwds = [base / "rank0", base / "rank1"]
    for c in cwds:
        c.mkdir()
    errors = finish(start_workers(["train", str(archive), "--out", "runs", *OPTIONS], cwds))
    runs = list((cwds[0] / "runs").iterdir())
    assert len(runs) == 1, errors
    return {"run": runs[0], "archive": archive, "errors": errors, "cwds": cwds}


def test_two_processes_write_one_run_and_the_main_one_alone_writes(two_process_run):
    run, rank1 = two_process_run["run"], two_process_run["cwds"][1]
    assert list(rank1.iterdir()) == []             # the second process wrote nothing
    assert "error" not in "".join(two_process_run["errors"])
    ticks = stats(run)
    assert [t["kimg"] for t in ticks] == [0.016, 0.032, 0.048, 0.064]      # once each
    log = (run / "log.txt").read_text()
    assert log.count("training dcgan-tiny") == 1
    assert "2 processes (cpu, batch 4 each)" in log
    assert [s.name for s in list_snapshots(run)] == ["kimg-000000.032", "kimg-000000.064"]
    entries = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["kimg"] for e in entries] == [0.032, 0.064]
    state = torch.load(list_snapshots(run)[-1] / "trainer.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["aug_ranks"]) == 2


def test_two_processes_train_like_one_and_measure_like_eval(two_process_run, tmp_path):
    run = two_process_run["run"]
    one = ganvas.train(str(two_process_run["archive"]), out=tmp_path, **API_OPTIONS)
    # The global batch in two halves sums in another order: about 1e-6 after 8 Adam steps;
    # batch norm's statistics cover the global batch (GlobalBatchNorm2d), so no more.
    assert_like_one(run, one)
    last = list_snapshots(run)[-1]
    # The 2-process snapshot on one process: the metrics its processes measured together
    # are what `ganvas eval` of it measures alone.
    measured = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    alone = ganvas.evaluate(last, metrics="swd", num=32, device="cpu")
    assert measured["metrics"]["swd"] == pytest.approx(alone["metrics"]["swd"], rel=1e-3)
    assert ganvas.load(last).generate(range(2)).shape == (2, 32, 32, 3)


def test_resume_on_two_processes_is_exact(two_process_run, tmp_path):
    """`ganvas train --resume --gpus 2 --device cpu` from the first snapshot ends where the
    uninterrupted 2-process run ended, bit for bit."""
    run = shutil.copytree(two_process_run["run"], tmp_path / "run")
    shutil.rmtree(list_snapshots(run)[-1])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-m", "ganvas", "train", "--resume", str(run),
                           "--gpus", "2", "--device", "cpu"], capture_output=True, text=True,
                          env=env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(run)          # printed once
    resumed, uninterrupted = list_snapshots(run)[-1], list_snapshots(two_process_run["run"])[-1]
    assert resumed.name == uninterrupted.name
    assert same(all_weights(resumed), all_weights(uninterrupted))


def test_resume_on_one_process_continues_the_run(two_process_run, tmp_path):
    """A different world size: the whole-batch streams continue, so without augmentation one
    process goes on as the two would have."""
    run = shutil.copytree(two_process_run["run"], tmp_path / "run")
    shutil.rmtree(list_snapshots(run)[-1])
    ganvas.resume(run, progress=False)
    assert "resuming a run of 2 processes on 1" in (run / "log.txt").read_text()
    assert_like_one(run, two_process_run["run"])


def test_a_killed_process_ends_the_other_within_seconds(tmp_path):
    archive = make_toy_archive(tmp_path / "toy32.zip", resolution=32)
    cwds = [tmp_path / "rank0", tmp_path / "rank1"]
    for c in cwds:
        c.mkdir()
    procs = start_workers(["train", str(archive), "--out", "runs", "--model", "dcgan-tiny",
                           "--resolution", "32", "--batch", "8", "--minutes", "5"], cwds)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not list(cwds[0].glob("runs/*/stats.jsonl")):      # training is under way
            assert time.monotonic() < deadline and procs[0].poll() is None
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        err = procs[0].communicate(timeout=30)[1]
        took = time.monotonic() - killed
    finally:
        for p in procs:
            p.kill()
    assert procs[0].returncode == 1, err[-2000:]
    assert took < 20, took
    last = err.strip().splitlines()[-1]
    assert last.startswith("ganvas train: error: process 0 of 2 lost contact with the others")
    assert "Traceback" not in err and "Connection" in last and "pair.cc" not in last, last


# The second process alone finds its weights non-finite once, at its third tick: both must
# roll back together (a lone rollback would leave the first in a step the second never takes).
LONE_NAN = """
import sys
from ganvas.cli import main
from ganvas.training.trainer import Trainer
calls = []
real_finite = Trainer.finite
def finite(self):
    calls.append(1)
    return real_finite(self) and not (self.world.rank == 1 and len(calls) == 3)
Trainer.finite = finite
sys.exit(main(sys.argv[1:]))
"""


def test_one_process_that_diverges_rolls_every_process_back(tmp_path):
    archive = make_toy_archive(tmp_path / "toy32.zip", resolution=32)
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-c", LONE_NAN, "train", str(archive), "--out",
                               str(tmp_path / "runs"), *TRAINING],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=worker_env(rank, 2, port)) for rank in range(2)]
    errors = finish(procs)
    assert [p.returncode for p in procs] == [0, 0], errors
    run = next((tmp_path / "runs").iterdir())
    log = (run / "log.txt").read_text()
    assert log.count("rolled back to 0.032 kimg with learning rates x0.5") == 1, log
    assert [t.get("rollback") for t in stats(run) if "rollback" in t] == [1]
    assert list_snapshots(run)[-1].name == "kimg-000000.064"


# ---- the small parts -----------------------------------------------------------------------
def test_one_process_world_collectives_are_identities():
    assert SINGLE.any(True) and not SINGLE.any(False)
    assert SINGLE.gather("x") == ["x"]
    assert SINGLE.from_main(lambda: 5) == 5 and SINGLE.main_first(lambda: 6) == 6
    x = torch.ones(3)
    assert SINGLE.mean(x) is x and SINGLE.sum(x) is x
    assert SINGLE.training_device(torch.device("cuda")) == torch.device("cuda")
    second_gpu = World(rank=3, size=4, local_rank=1).training_device(torch.device("cuda"))
    assert second_gpu == torch.device("cuda", 1)


def test_interleave_undoes_the_strided_shards():
    rows = torch.arange(7).numpy()[:, None]
    parts = [rows[World(rank=r, size=3).shard(7)] for r in range(3)]
    assert (interleave(parts, 7) == rows).all()


def test_the_launcher_drops_its_own_flag():
    assert without_gpus(["train", "d", "--gpus", "2", "--kimg", "1"]) == ["train", "d", "--kimg",
                                                                          "1"]
    assert without_gpus(["train", "--gpus=4", "d"]) == ["train", "d"]


def test_gpus_mistakes_are_one_line(capsys, toy_archive):
    if torch.cuda.device_count() < 2:
        assert "this machine has" in usage_error(["train", str(toy_archive), "--gpus", "2"],
                                                 capsys)
    assert "at least 1" in usage_error(["train", str(toy_archive), "--gpus", "0"], capsys)
    assert "do not go together" in usage_error(
        ["train", str(toy_archive), "--gpus", "2", "--dry-run"], capsys)
    assert "--device cuda, auto or cpu" in usage_error(
        ["train", str(toy_archive), "--gpus", "2", "--device", "cuda:1"], capsys)
    # The options and the data are checked before any process starts.
    assert "not found" in usage_error(["train", "/nonexistent.zip", "--gpus", "2", "--device",
                                     "cpu"], capsys).lower()
    assert "batch must be" in usage_error(["train", str(toy_archive), "--gpus", "2", "--device",
                                     "cpu", "--batch", "0"], capsys)
    assert "does not split evenly over 3" in usage_error(
        ["train", str(toy_archive), "--gpus", "3", "--device", "cpu", "--batch", "16"], capsys)
