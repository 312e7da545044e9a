"""The web page's speed goal: a 4x4 grid at 64x64 renders in well under a second on a CPU.

Times what the gallery does for 16 seeds (Model.generate + ganvas.make_grid) for an untrained
generator of each preset at 64 px (speed does not depend on the weights), best of --rounds.
Prints one JSON line on stdout and a table on stderr.

    python benchmarks/app_render.py
    python benchmarks/app_render.py --presets dcgan,stylegan2-tiny,stylegan2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import ganvas
from ganvas.checkpoint import model_info
from ganvas.config.resolve import preset as resolve_preset
from ganvas.models import build_generator
from ganvas.runfolder.snapshots import write_snapshot

RESOLUTION = 64
GOAL_S = 1.0


def saved_model(preset: str, folder: Path) -> Path:
    """An untrained G of `preset` at 64 px, saved as an exported model."""
    cfg = resolve_preset(preset, resolution=RESOLUTION).config
    torch.manual_seed(0)
    G = build_generator(cfg.model).eval()
    return write_snapshot(folder / preset, {"G_ema": G},
                          model_info(cfg.model, 0, {"class_names": []}, preset=preset))


def render_seconds(model: ganvas.Model, rounds: int) -> float:
    """Best time of one 4x4 gallery render."""
    times = []
    for r in range(rounds + 1):                      # the first round warms up
        start = time.perf_counter()
        ganvas.make_grid(model.generate(range(16 * r, 16 * r + 16)), cols=4, pad=2)
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="dcgan,stylegan2-tiny")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    result = {"benchmark": "app_render", "resolution": RESOLUTION, "grid": "4x4",
              "threads": torch.get_num_threads(), "seconds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in a.presets.split(","):
            model = ganvas.load(saved_model(preset, Path(tmp)))
            result["seconds"][preset] = round(render_seconds(model, a.rounds), 4)
    print(json.dumps(result))
    for preset, s in result["seconds"].items():
        verdict = "met" if s < GOAL_S else "missed"
        print(f"{preset:>16}: 4x4 at 64 px in {s * 1000:.0f} ms (goal < {GOAL_S:g} s: {verdict})",
              file=sys.stderr)


if __name__ == "__main__":
    main()
