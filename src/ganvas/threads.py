"""How many CPU threads training uses: `--threads auto` takes the cores other programs leave
free when the run starts.

Why: PyTorch's CPU kernels run on an OpenMP team whose threads wait for each other at every
parallel step. When other programs keep cores busy, one of the team is always waiting for a
core and the whole team waits with it. Measured on a 2-core machine with two other training
processes running (benchmarks/threads_under_load.py): dcgan-tiny 64 px trained at 7-10 img/s
with 2 threads and at 120-250 img/s with 1. On a quiet machine all cores are faster.

The count is settled once when a run starts and kept in config.json, so a resumed or
continued run uses the same count (other counts sum in another order: exact resume needs the
same). GANVAS_THREADS=N in the environment sets what auto means (the tests pin it so runs
they compare bit for bit use one count); OMP_NUM_THREADS is honoured as torch honours it.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from .errors import GanvasError

SAMPLES = 10                # readings of the run queue ...
SAMPLE_GAP = 0.02           # ... this many seconds apart


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def torch_threads() -> int:
    """torch's own count (its default: the physical cores, or OMP_NUM_THREADS)."""
    return torch.get_num_threads()


def running_here() -> int:
    """Threads of this process that are running or runnable now (Linux; else 1)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    n = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:][:1] == b"R":
            n += 1
    return max(n, 1)


def running_elsewhere() -> float | None:
    """Threads of other processes running or runnable now: the median of SAMPLES readings of
    the kernel's run queue (/proc/loadavg) less this process's own; None off Linux."""
    readings = []
    for i in range(SAMPLES):
        try:
            with open("/proc/loadavg") as f:
                runnable = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return None
        readings.append(max(0, runnable - running_here()))
        if i + 1 < SAMPLES:
            time.sleep(SAMPLE_GAP)
    return statistics.median(readings)


def auto_threads() -> tuple[int, str]:
    """The thread count for `--threads auto` and why."""
    if os.environ.get("GANVAS_THREADS", "").strip():
        return pinned("GANVAS_THREADS")
    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return torch_threads(), "auto: OMP_NUM_THREADS"
    n, default = cores(), torch_threads()
    busy = running_elsewhere()
    if busy is None:
        return default, f"auto: {n} cores"
    free = max(1, min(default, round(n - busy)))
    if free == default:
        return free, f"auto: {n} cores, none busy"
    return free, (f"auto: {n} cores, {busy:g} threads of other programs running: fewer "
                  f"threads wait less")


def many_processes() -> bool:
    """Whether this is one of many processes (torchrun's WORLD_SIZE > 1): their thread counts
    are the launcher's (OMP_NUM_THREADS per process), not auto's."""
    size = os.environ.get("WORLD_SIZE", "1").strip()
    return size.isdigit() and int(size) > 1


def pinned(name: str) -> tuple[int, str]:
    value = os.environ[name].strip()
    if not value.isdigit() or not 1 <= int(value) <= 4096:
        raise GanvasError(f"{name}={value!r}: a number of threads from 1 to 4096")
    return int(value), f"auto: {name}"


class using_threads:
    """While inside, torch runs `n` CPU threads (0: as it was); the count before is restored
    on leaving (a notebook that trains and then generates gets its threads back)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.before = torch.get_num_threads()
        if self.n > 0:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)
