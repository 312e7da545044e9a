"""`ganvas tune --storage postgresql://...`: two workers at once share one study on a real
PostgreSQL server (started for these tests in a temporary folder, stopped afterwards), and
no trial is lost or counted twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("psycopg2")

import ganvas  # noqa: E402

from . import postgres_server  # noqa: E402
from tests.helpers import make_toy_archive  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRIALS = 4
WORKERS = 2


@pytest.fixture(scope="module")
def postgres():
    server, why = postgres_server.start()
    if server is None:
        pytest.skip(f"no PostgreSQL server for the shared-study test: {why}")
    try:
        yield server.url
    finally:
        server.stop()


def test_two_workers_share_one_study_on_postgresql(postgres, tmp_path):
    archive = make_toy_archive(tmp_path / "toy16.zip")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(
        [sys.executable, "-m", "ganvas", "tune", str(archive), "--out", str(tmp_path / f"w{i}"),
         "--model", "dcgan-tiny", "--trials", str(TRIALS), "--kimg-per-trial", "0.032",
         "--metric", "swd", "--metrics-num", "32", "--final-num", "32", "--pruner", "none",
         "--storage", postgres,
         "--study", "shared"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env) for i in range(WORKERS)]
    try:
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    summary = ganvas.show_study(storage=postgres, study="shared")
    trials = summary["trials"]
    # Every trial numbered once, finished, with a run folder of its own that exists; the
    # study stops starting trials at TRIALS finished, so a worker still in one may add it.
    assert [t["trial"] for t in trials] == list(range(len(trials)))
    assert TRIALS <= len(trials) <= TRIALS + WORKERS - 1
    assert all(t["state"] == "COMPLETE" for t in trials), trials
    runs = [Path(t["run"]) for t in trials]
    assert len(set(runs)) == len(runs) and all((r / "config.json").is_file() for r in runs)
    on_disk = [p for i in range(WORKERS) for p in (tmp_path / f"w{i}").glob("*/config.json")]
    assert len(on_disk) == len(trials)
    # Both workers took part.
    assert all(any(str(tmp_path / f"w{i}") in t["run"] for t in trials) for i in range(WORKERS))
    assert "***" not in postgres and summary["storage"] == postgres
