"""StyleGAN2-ADA training speed: seconds per kimg of the stylegan2-tiny and stylegan2 presets at
64x64 on demo:emoji, with everything the presets switch on (ADA, lazy R1, path length every 4th
G step, style mixing, G_ema). Prints one JSON line on stdout and a table on stderr.

    python benchmarks/stylegan2_speed.py                      # both presets, CPU
    python benchmarks/stylegan2_speed.py --device cuda --steps 50
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

from ganvas.config import preset_config
from ganvas.data.dataset import ImageBank, load_archive, resolve_dataset
from ganvas.training.trainer import Trainer

RESOLUTION = 64


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(preset: str, steps: int, warmup: int, device: torch.device,
            precision: str) -> dict:
    """Seconds per training step (D step + G step). The mean over the timed steps includes the
    lazy regularisers (R1 every 16th D step, path length every 4th G step) at their rates when
    `steps` is a multiple of 16; s/kimg comes from the mean."""
    cfg = preset_config(preset, model={"resolution": RESOLUTION},
                        train={"data": "demo:emoji", "device": str(device),
                               "precision": precision})
    bank = ImageBank(load_archive(resolve_dataset("demo:emoji")), resolution=RESOLUTION)
    trainer = Trainer(cfg, bank, device)
    for _ in range(warmup):
        trainer.train_step()
    sync(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        trainer.train_step()
        sync(device)
        times.append(time.perf_counter() - t0)
    mean = statistics.fmean(times)             # the mean includes the lazy R1 / path length
    batch = cfg.train.batch
    params = {n: sum(p.numel() for p in getattr(trainer, n).parameters()) for n in ("G", "D")}
    return {"batch": batch, "steps": steps, "step_s_mean": round(mean, 4),
            "step_s_median": round(statistics.median(times), 4),
            "img_per_s": round(batch / mean, 2), "sec_per_kimg": round(1000 * mean / batch, 1),
            "g_params": params["G"], "d_params": params["D"],
            "g_width": cfg.model.g_width, "r1_gamma": cfg.train.r1_gamma}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=16, help="timed steps of stylegan2-tiny (16)")
    p.add_argument("--steps-full", type=int, default=4,
                   help="timed steps of the other presets (4: a step of the full 64px preset "
                        "takes about a minute on 2 CPU cores)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--presets", default="stylegan2-tiny,stylegan2")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    result = {"benchmark": "stylegan2_speed", "device": device.type,
              "threads": torch.get_num_threads(), "resolution": RESOLUTION,
              "precision": args.precision, "load_avg_1m": [round(os.getloadavg()[0], 2)]}
    for name in args.presets.split(","):
        steps = args.steps if name.endswith("-tiny") else args.steps_full
        print(f"[{name}] {steps} timed steps ...", file=sys.stderr)
        result[name] = measure(name, steps, args.warmup, device, args.precision)
        print(f"[{name}] {json.dumps(result[name])}", file=sys.stderr)
    result["load_avg_1m"].append(round(os.getloadavg()[0], 2))
    print(f"{'preset':16} {'batch':>5} {'s/step':>8} {'img/s':>7} {'s/kimg':>8}", file=sys.stderr)
    for name in args.presets.split(","):
        r = result[name]
        print(f"{name:16} {r['batch']:5d} {r['step_s_mean']:8.3f} {r['img_per_s']:7.1f} "
              f"{r['sec_per_kimg']:8.1f}", file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
