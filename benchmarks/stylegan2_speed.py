"""StyleGAN2-ADA training speed: seconds per kimg of the stylegan2-tiny and stylegan2 presets at
64x64 on demo:emoji, with everything the presets switch on (ADA, lazy R1, path length every 4th
G step, style mixing, G_ema), side by side with the same measurement of an older revision of
ganvas (`--against`, the tree before the CPU speed work by default). Prints one JSON line on
stdout and a table on stderr.

    python benchmarks/stylegan2_speed.py                      # tiny preset, this tree vs 416c27f
    python benchmarks/stylegan2_speed.py --presets stylegan2-tiny,stylegan2 --against none
    python benchmarks/stylegan2_speed.py --device cuda --steps 64

The data is opened as training opens it (`--aug auto` settled by the image count, so the
presets' ADA is on), at the run's default precision unless --precision is given. ADA's p starts
at 0 as in training, where the pipe costs nothing; `--ada-p` fixes it at a later value.
Each side runs in its own process, importing its own `src/`, and the rounds alternate (this
tree, the reference, this tree, ...) so a change of machine load hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESOLUTION = 64
REPO = Path(__file__).resolve().parent.parent
# The tree before the CPU speed work (2026-12-02): what "today" means in benchmarks/README.md.
DEFAULT_AGAINST = "416c27f"


def measure(preset: str, steps: int, warmup: int, device_name: str, precision: str | None,
            ada_p: float | None) -> dict:
    """Seconds per training step (D step + G step). The mean over the timed steps includes the
    lazy regularisers (R1 every 16th D step, path length every 4th G step) at their rates when
    `steps` is a multiple of 16; s/kimg comes from the mean."""
    import torch

    from ganvas.config.resolve import plan
    from ganvas.training.runs import open_data
    from ganvas.training.trainer import Trainer
    from step_timing import time_steps

    options = {"resolution": RESOLUTION, "device": device_name, "precision": precision}
    cfg, bank, _ = open_data(plan("demo:emoji", preset, None, options).config)
    device = torch.device(device_name)
    trainer = Trainer(cfg, bank, device)
    if ada_p is not None and trainer.pipe is not None:
        trainer.pipe.p = ada_p
    times = time_steps(trainer, device, warmup, steps)
    mean = statistics.fmean(times)             # the mean includes the lazy R1 / path length
    batch = cfg.train.batch
    params = {n: sum(p.numel() for p in getattr(trainer, n).parameters()) for n in ("G", "D")}
    return {"batch": batch, "steps": steps, "step_s_mean": round(mean, 4),
            "step_s_median": round(statistics.median(times), 4),
            "img_per_s": round(batch / mean, 2), "sec_per_kimg": round(1000 * mean / batch, 1),
            "g_params": params["G"], "d_params": params["D"],
            "g_width": cfg.model.g_width, "r1_gamma": cfg.train.r1_gamma,
            "aug": cfg.augment.mode, "ada_p": trainer.pipe.p if trainer.pipe else None,
            "precision": trainer.cfg.train.precision, "threads": torch.get_num_threads()}


def run_side(src: Path, args, preset: str, steps: int) -> dict:
    """`measure` in a fresh process that imports ganvas from `src`."""
    cmd = [sys.executable, __file__, "--worker", preset, "--steps", str(steps),
           "--warmup", str(args.warmup), "--device", args.device]
    if args.precision:
        cmd += ["--precision", args.precision]
    if args.ada_p is not None:
        cmd += ["--ada-p", str(args.ada_p)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def export_revision(rev: str, into: Path) -> Path:
    """`src/` of git revision `rev` of this repository, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def combine(runs: list[dict]) -> dict:
    """Rounds of one side -> one record: the step time is the mean over all timed steps."""
    steps = sum(r["steps"] for r in runs)
    mean = sum(r["step_s_mean"] * r["steps"] for r in runs) / steps
    out = {**runs[0], "steps": steps, "rounds": len(runs), "step_s_mean": round(mean, 4),
           "sec_per_kimg_rounds": [r["sec_per_kimg"] for r in runs]}
    out.update(img_per_s=round(out["batch"] / mean, 2),
               sec_per_kimg=round(1000 * mean / out["batch"], 1))
    del out["step_s_median"]
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=16, help="timed steps per round of "
                   "stylegan2-tiny (16: one R1 step, as in training)")
    p.add_argument("--steps-full", type=int, default=4,
                   help="timed steps of the other presets (4: a step of the full 64px preset "
                        "takes about a minute on 2 CPU cores)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds per side (2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default=None,
                   help="fp32, bf16, ... (default: the run's default precision)")
    p.add_argument("--ada-p", type=float, default=None,
                   help="fix ADA's p (default: 0, where training starts)")
    p.add_argument("--presets", default="stylegan2-tiny")
    p.add_argument("--against", default=DEFAULT_AGAINST,
                   help=f"git revision to measure beside this tree ({DEFAULT_AGAINST}), or none")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        result = measure(args.worker, args.steps, args.warmup, args.device, args.precision,
                         args.ada_p)
        print(json.dumps(result))
        return result

    presets = args.presets.split(",")
    result = {"benchmark": "stylegan2_speed", "device": args.device, "resolution": RESOLUTION,
              "against": None if args.against == "none" else args.against,
              "load_avg_1m": [round(os.getloadavg()[0], 2)]}
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"this": REPO / "src"}
        if args.against != "none":
            sides["against"] = export_revision(args.against, Path(tmp))
        for name in presets:
            steps = args.steps if name.endswith("-tiny") else args.steps_full
            runs: dict[str, list[dict]] = {side: [] for side in sides}
            for k in range(args.rounds):
                for side, src in sides.items():
                    print(f"[{name}] {side} round {k + 1}: {steps} timed steps ...",
                          file=sys.stderr)
                    runs[side].append(run_side(src, args, name, steps))
                    print(f"[{name}] {side} {json.dumps(runs[side][-1])}", file=sys.stderr)
            result[name] = {side: combine(r) for side, r in runs.items()}
            if "against" in sides:
                result[name]["speedup"] = round(result[name]["against"]["step_s_mean"]
                                                / result[name]["this"]["step_s_mean"], 2)
    result["load_avg_1m"].append(round(os.getloadavg()[0], 2))
    print(f"{'preset':16} {'side':8} {'batch':>5} {'s/step':>8} {'img/s':>7} {'s/kimg':>8}",
          file=sys.stderr)
    for name in presets:
        for side in sides:
            r = result[name][side]
            print(f"{name:16} {side:8} {r['batch']:5d} {r['step_s_mean']:8.3f} "
                  f"{r['img_per_s']:7.1f} {r['sec_per_kimg']:8.1f}", file=sys.stderr)
        if "speedup" in result[name]:
            print(f"{name:16} speedup x{result[name]['speedup']}", file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
