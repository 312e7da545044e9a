"""--threads auto: the cores other programs leave free, said on the console, kept by a resumed
run; GANVAS_THREADS pins it."""

from __future__ import annotations

import json

import pytest
import torch

import ganvas
from ganvas import threads
from ganvas.errors import GanvasError

from tests.helpers import TINY


@pytest.fixture
def measured(monkeypatch):
    """auto as it is off the tests (no pin), with the run queue set by the test."""
    monkeypatch.delenv("GANVAS_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "torch_threads", lambda: 2)
    busy = {"n": 0.0}
    monkeypatch.setattr(threads, "running_elsewhere", lambda: busy["n"])
    return busy


def test_auto_takes_the_free_cores(measured):
    assert threads.auto_threads() == (2, "auto: 2 cores, none busy")
    measured["n"] = 3.0
    n, why = threads.auto_threads()
    assert n == 1 and "3 threads of other programs" in why
    measured["n"] = 0.6                     # mostly free: round to the nearest core
    assert threads.auto_threads()[0] == 1
    measured["n"] = 0.4
    assert threads.auto_threads()[0] == 2


def test_the_pin_and_omp(monkeypatch, measured):
    monkeypatch.setenv("GANVAS_THREADS", "3")
    assert threads.auto_threads() == (3, "auto: GANVAS_THREADS")
    monkeypatch.setenv("GANVAS_THREADS", "many")
    with pytest.raises(GanvasError, match="GANVAS_THREADS"):
        threads.auto_threads()
    monkeypatch.delenv("GANVAS_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.auto_threads()[1] == "auto: OMP_NUM_THREADS"


def test_the_run_queue_is_read_without_counting_this_process():
    busy = threads.running_elsewhere()
    assert busy is None or 0 <= busy < 4096
    assert threads.running_here() >= 1


def test_a_run_says_its_threads_trains_with_them_and_keeps_them(measured, monkeypatch,
                                                                toy_archive, tmp_path, capsys):
    from ganvas.training import runs
    measured["n"] = 5.0
    before = torch.get_num_threads()
    seen = []
    original = runs.Loop.run

    def run(loop):
        seen.append(torch.get_num_threads())
        return original(loop)

    monkeypatch.setattr(runs.Loop, "run", run)
    out = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.064, device="cpu",
                       **dict(TINY, progress=True))
    cfg = json.loads((out / "config.json").read_text())["train"]
    assert cfg["threads"] == 1 and "other programs" in cfg["threads_chosen_by"]
    assert seen == [1] and torch.get_num_threads() == before      # restored after
    assert "threads: 1 (auto: 2 cores, 5 threads" in capsys.readouterr().out
    measured["n"] = 0.0                     # quiet now: the resumed run keeps its one thread
    ganvas.resume(out, kimg=0.128, progress=False)
    assert seen == [1, 1]
    assert json.loads((out / "config.json").read_text())["train"]["threads"] == 1
