"""Training speed on a busy CPU: torch's default thread count (all cores) against fewer, with
other programs keeping cores busy, side by side in one run. What `--threads auto` is based on
(src/ganvas/threads.py).

Starts --load busy processes (each a torch matmul loop with its own default threads, like
another training), then trains the same dcgan-tiny for --seconds with each thread count in
turn, alternating, and prints one JSON line: images per second of each, the ratio, and what
auto chose under that load. --load 0 measures a quiet machine.

    python benchmarks/threads_under_load.py --load 2
    python benchmarks/threads_under_load.py --load 0
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

import torch


def hog(stop) -> None:
    """Another program: matrix products until told to stop."""
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a) * 0.5


def images_per_second(archive: Path, threads: int, seconds: float) -> float:
    import ganvas
    from ganvas.runfolder.log import read_jsonl
    with tempfile.TemporaryDirectory() as out:
        run = ganvas.train(str(archive), out=out, model="dcgan-tiny", minutes=seconds / 60,
                           threads=threads, device="cpu", progress=False, grid_minutes=0,
                           tick_kimg=0.256, snap_kimg=1000, new_run=True, grid_size=16)
        ticks = [e for e in read_jsonl(run / "stats.jsonl") if "img_per_s" in e][1:]
        return statistics.median(e["img_per_s"] for e in ticks) if ticks else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, default=2, help="busy processes beside the training")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    from ganvas.data.dataset import resolve_dataset
    from ganvas.threads import auto_threads, cores
    archive = Path(resolve_dataset("demo:emoji", resolution=64, labels="none"))
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    hogs = [ctx.Process(target=hog, args=(stop,), daemon=True) for _ in range(a.load)]
    for p in hogs:
        p.start()
    try:
        time.sleep(2 if hogs else 0)
        auto = auto_threads()
        counts = sorted({1, torch.get_num_threads()})
        speeds = {n: [] for n in counts}
        for _ in range(a.rounds):
            for n in counts:
                speeds[n].append(images_per_second(archive, n, a.seconds))
    finally:
        stop.set()
        for p in hogs:
            p.join(5)
    med = {n: statistics.median(v) for n, v in speeds.items()}
    print(json.dumps({"cores": cores(), "load": a.load,
                      "img_per_s": {str(n): round(v, 1) for n, v in med.items()},
                      "one_thread_over_all": round(med[1] / max(med[counts[-1]], 1e-9), 2),
                      "auto": auto[0], "auto_why": auto[1]}))


if __name__ == "__main__":
    main()
