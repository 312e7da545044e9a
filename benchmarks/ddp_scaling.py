"""Many-process scaling: images/s of the same model and global batch on 1 and N processes.

Each configuration is started as ganvas's own runs are, by torchrun (torch.distributed.run
--standalone), and times Trainer.train_step() on its World (ganvas.training.distributed):
--warmup untimed steps, then --steps timed ones, the same global --batch split over the
processes. The configurations alternate for --rounds rounds (1, N, 1, N, ...) so that a
shared machine slows them alike; img/s, s/kimg and the ratio N : 1 are medians over rounds.

On a CPU the processes share the same cores (torchrun gives each OMP_NUM_THREADS = cores /
N here), so the ratio shows the cost of the collectives rather than a speed-up. On a GPU
machine each process takes its own GPU, and the figures sit beside the published ones of
StyleGAN2-ADA (stylegan2 at 256 px on V100s: 21.6-24.2 s/kimg on 1 GPU, 4.4-5.5 on 8).

The data is a synthetic archive of coloured squares (made once in a temporary folder), so
the benchmark needs nothing downloaded. One JSON line goes to stdout, a table to stderr.

    python benchmarks/ddp_scaling.py                               # dcgan-tiny, 1 vs 2, CPU
    python benchmarks/ddp_scaling.py --model stylegan2 --resolution 256 --batch 64 \\
        --processes 1,8 --device cuda                             # a machine with 8 GPUs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganvas.config.resolve import preset
from ganvas.data.archive import ArchiveWriter
from ganvas.data.dataset import ImageBank, load_archive
from ganvas.device import pick_device
from ganvas.training.distributed import processes
from ganvas.training.trainer import Trainer

# StyleGAN2-ADA (Karras et al. 2020), stylegan2 config at 256 px, V100: s/kimg by GPU count.
PUBLISHED_V100_S_PER_KIMG = {1: (21.6, 24.2), 8: (4.4, 5.5)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_archive(path: Path, resolution: int, n: int = 256) -> Path:
    """n coloured squares on white at `resolution` (a fixed seed)."""
    rng = np.random.default_rng(0)
    with ArchiveWriter(path, resolution, 3) as w:
        for i in range(n):
            img = np.full((resolution, resolution, 3), 255, np.uint8)
            s = resolution // 2
            x, y = rng.integers(0, resolution - s + 1, 2)
            img[y:y + s, x:x + s] = rng.integers(0, 256, 3)
            w.add(img, source=f"square/{i}.png")
        w.close()
    return path


def worker(a) -> None:
    """One process of one configuration (under torchrun): time the steps, main prints JSON."""
    device = pick_device(a.device)
    with processes(device) as world:
        device = world.training_device(device)
        cfg = preset(a.model, resolution=a.resolution, batch=a.batch,
                     precision=a.precision).config
        trainer = Trainer(cfg, ImageBank(load_archive(a.archive)), device, world)

        def steps(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                trainer.train_step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            world.any(False)                       # every process done: a barrier
            return time.perf_counter() - start

        steps(a.warmup)
        seconds = steps(a.steps)
        if world.main:
            images = a.steps * a.batch * cfg.train.n_critic
            print(json.dumps({"processes": world.size, "img_per_s": images / seconds,
                              "sec_per_kimg": seconds * 1000 / images,
                              "precision": trainer.cfg.train.precision,
                              "device": str(device)}), flush=True)


def run_configuration(a, n: int, archive: Path) -> dict:
    """One timed run of n processes; its JSON line."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={n}", str(Path(__file__).resolve()), "--worker",
           "--archive", str(archive), "--model", a.model, "--resolution", str(a.resolution),
           "--batch", str(a.batch), "--steps", str(a.steps), "--warmup", str(a.warmup),
           "--device", a.device, "--precision", a.precision]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{n} processes failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="dcgan-tiny")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--batch", type=int, default=32, help="the global batch")
    p.add_argument("--processes", default="1,2", help="two counts: reference,scaled")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--archive", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a)
        return
    counts = [int(c) for c in a.processes.split(",")]
    if len(counts) != 2 or min(counts) < 1:
        sys.exit("--processes takes two counts, e.g. 1,2")
    with tempfile.TemporaryDirectory() as tmp:
        archive = make_archive(Path(tmp) / "squares.zip", a.resolution)
        rounds = {n: [] for n in counts}
        for r in range(a.rounds):
            for n in counts:
                rounds[n].append(run_configuration(a, n, archive))
                log(f"round {r + 1}: {n} process(es) {rounds[n][-1]['img_per_s']:.1f} img/s")
    ref, scaled = counts
    med = {n: statistics.median(x["img_per_s"] for x in rounds[n]) for n in counts}
    result = {"model": a.model, "resolution": a.resolution, "batch": a.batch,
              "device": rounds[ref][0]["device"], "precision": rounds[ref][0]["precision"],
              "cpu_count": os.cpu_count(), "steps": a.steps, "rounds": a.rounds,
              **{f"img_per_s_{n}": round(med[n], 2) for n in counts},
              **{f"sec_per_kimg_{n}": round(1000 / med[n], 2) for n in counts},
              "ratio": round(med[scaled] / med[ref], 3),
              "ratio_per_round": [round(s["img_per_s"] / r["img_per_s"], 3)
                                  for r, s in zip(rounds[ref], rounds[scaled])]}
    if a.model == "stylegan2" and a.resolution == 256:
        result["published_v100_sec_per_kimg"] = {
            n: PUBLISHED_V100_S_PER_KIMG[n] for n in counts if n in PUBLISHED_V100_S_PER_KIMG}
    log(f"{a.model} {a.resolution}px, global batch {a.batch}, {result['device']}:")
    for n in counts:
        log(f"  {n} process(es): {med[n]:8.1f} img/s  {1000 / med[n]:8.2f} s/kimg")
    log(f"  ratio {scaled}:{ref} = {result['ratio']} (per round {result['ratio_per_round']})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
