"""Crashes and rivals: SIGKILL at the worst moments (a snapshot write, a config.json write,
the checkpoints/best swap), two writers on one run, SIGTERM during a long measurement."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import ganvas
from ganvas.errors import GanvasError
from ganvas.durable import _umask
from ganvas.runfolder import locate, snapshots
from ganvas.runfolder.layout import new_run_dir

from tests.helpers import TINY, same, usage_error, weights

PRELUDE = """
import os, sys, time
from pathlib import Path
import ganvas
from ganvas import checkpoint as ckpt, durable
from ganvas.runfolder import snapshots
from ganvas.training import measure as tm
"""


def run_script(body: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run PRELUDE + body in a fresh Python (it inherits PYTHONPATH and GANVAS_CACHE)."""
    return subprocess.run([sys.executable, "-c", PRELUDE + body], timeout=timeout,
                          capture_output=True, text=True)


def hidden(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("."))


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return shutil.copytree(tiny_run, tmp_path / "run")


def wait_for(condition, seconds=120.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkill_during_a_snapshot_write_loses_nothing(toy_archive, tmp_path, tiny_run):
    out = tmp_path / "runs"
    done = run_script(f"""
real = snapshots.publish
def dying(tmp, final):
    if Path(final).name == "kimg-000000.256":
        os._exit(137)                     # the snapshot's files are written, not yet renamed
    return real(tmp, final)
snapshots.publish = dying
ganvas.train({str(toy_archive)!r}, out={str(out)!r}, kimg=0.256, **{TINY!r})
""")
    assert done.returncode == 137, done.stderr
    run = out / "00000-dcgan-tiny-toy"
    assert [s.name for s in snapshots.list_snapshots(run)] == ["kimg-000000.128"]
    assert hidden(run) and all(n.startswith(".tmp-") for n in hidden(run))
    ganvas.resume(run, progress=False)
    assert hidden(run) == []
    newest = snapshots.list_snapshots(run)[-1]
    assert newest.name == "kimg-000000.256"               # and it is exactly the same run
    assert same(weights(newest, "G_ema"), weights(snapshots.list_snapshots(tiny_run)[-1], "G_ema"))


def test_sigkill_during_the_config_json_write_keeps_the_old_one(run_copy):
    before = (run_copy / "config.json").read_text()
    done = run_script(f"""
real = durable.publish
def dying(tmp, final):
    if Path(final).name == "config.json":
        os._exit(137)
    return real(tmp, final)
durable.publish = dying
ganvas.resume({str(run_copy)!r}, kimg=0.384, progress=False)
""")
    assert done.returncode == 137, done.stderr
    assert (run_copy / "config.json").read_text() == before     # whole, not 1 KB of it
    assert list(run_copy.glob(".config.*.json"))                # the temporary is left
    ganvas.resume(run_copy, kimg=0.32, progress=False)
    assert not list(run_copy.glob(".config.*.json"))            # and tidied by the next one
    assert json.loads((run_copy / "config.json").read_text())["train"]["kimg"] == 0.32
    assert snapshots.list_snapshots(run_copy)[-1].name == "kimg-000000.320"


FAKE_METRICS = """
calls = []
def fake_measure(names, reals, fakes, *args, **kwargs):
    calls.append(1)
    return {"metrics": {"swd": 10.0 - len(calls)}}      # each one better: best is replaced
tm.measure = fake_measure
"""


def test_sigkill_during_the_best_swap_keeps_a_best(toy_archive, tmp_path):
    out = tmp_path / "runs"
    done = run_script(FAKE_METRICS + f"""
real = snapshots.publish
def dying(tmp, final):
    if Path(final).name == "best" and Path(final).with_name(".old-best").exists():
        os._exit(137)              # the old best is renamed away, the new one not yet in
    return real(tmp, final)
snapshots.publish = dying
ganvas.train({str(toy_archive)!r}, out={str(out)!r}, kimg=0.256, metrics="swd",
             metrics_num=24, **{TINY!r})
""")
    assert done.returncode == 137, done.stderr
    run = out / "00000-dcgan-tiny-toy"
    best = run / "checkpoints" / "best"
    assert not best.exists() and (run / "checkpoints" / ".old-best").is_dir()
    # Readers use the old copy meanwhile; the next writer puts it back.
    assert ganvas.load(best, device="cpu").kimg == 0.128
    ganvas.resume(run, kimg=0.32, progress=False)
    assert best.is_dir() and hidden(run) == []
    assert ganvas.load(best, device="cpu").kimg in (0.128, 0.32)


def test_a_snapshot_killed_while_being_replaced_is_found_and_restored(run_copy):
    newest = snapshots.list_snapshots(run_copy)[-1]
    os.replace(newest, snapshots.old_name(newest))
    assert snapshots.list_snapshots(run_copy)[-1] == snapshots.old_name(newest)
    assert locate.resolve_model_dir(run_copy) == snapshots.old_name(newest)
    ganvas.resume(run_copy, progress=False)                # at 0.256 already: nothing to do
    assert snapshots.list_snapshots(run_copy)[-1] == newest and hidden(run_copy) == []


def test_second_writer_is_refused_and_a_killed_writers_lock_is_stale(run_copy, capsys):
    proc = subprocess.Popen([sys.executable, "-m", "ganvas", "train", "--resume",
                             str(run_copy), "--kimg", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = run_copy / "lock"
    try:
        wait_for(lambda: lock.is_file() and lock.read_text().startswith(f"{proc.pid} "))
        err = usage_error(["train", "--resume", str(run_copy), "--kimg", "1"], capsys)
        assert f"in use by process {proc.pid} on " in err
        with pytest.raises(GanvasError, match=f"process {proc.pid}"):
            ganvas.resume(run_copy, kimg=1, progress=False)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert lock.read_text().startswith(f"{proc.pid} ")      # left behind by the dead
    newest = snapshots.list_snapshots(run_copy)[-1]
    ganvas.resume(run_copy, kimg=float(newest.name[5:]) + 0.064, progress=False)
    assert not lock.exists() and hidden(run_copy) == []


def test_numbered_run_folders_never_collide(tmp_path):
    (tmp_path / "00003-old").mkdir()
    made, errors = [], []

    def make():
        try:
            made.append(new_run_dir(tmp_path, "x"))
        except Exception as e:                              # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(made)) == 8
    assert sorted(p.name for p in made) == [f"{i:05d}-x" for i in range(4, 12)]


def test_snapshot_folders_have_the_runs_permissions(tiny_run):
    for snap in snapshots.list_snapshots(tiny_run):
        assert snap.stat().st_mode & 0o777 == 0o777 & ~_umask()


def test_sigterm_during_a_long_measurement_is_honoured(toy_archive, tmp_path):
    out, marker = tmp_path / "runs", tmp_path / "measuring"
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + f"""
def slow_measure(*args, **kwargs):
    Path({str(marker)!r}).touch()
    for _ in range(6000):                 # ten minutes, a millions-of-samples measurement
        sum(range(10000))
        time.sleep(0.1)
tm.measure = slow_measure
ganvas.train({str(toy_archive)!r}, out={str(out)!r}, kimg=1000, metrics="swd",
             metrics_num=24, **{TINY!r})
"""], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker.exists)
        os.kill(proc.pid, signal.SIGTERM)
        sent = time.monotonic()
        log = out / "00000-dcgan-tiny-toy" / "log.txt"
        wait_for(lambda: "stopped by the stop request" in log.read_text(), seconds=10)
        assert time.monotonic() - sent < 10
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = out / "00000-dcgan-tiny-toy"
    assert [s.name for s in snapshots.list_snapshots(run)] == ["kimg-000000.128"]
    assert not (run / "metrics.jsonl").exists()                 # nothing half-measured
    assert "(interrupted)" in log.read_text() and not (run / "lock").exists()
