"""Inception feature extraction: ganvas's pass against torch-fidelity's on the same pictures
and machine, and what the reference-feature cache saves on a second evaluation.

Both networks get the same weight file (--weights, default: a random state dict written to a
temporary file, since speed does not depend on the values). Rounds alternate between the two
so a noisy neighbour slows both alike; the figure is the median of the rounds. Prints one JSON
line on stdout and a table on stderr.

    python benchmarks/feature_speed.py                       # CPU, 64 pictures of 64x64
    python benchmarks/feature_speed.py --device cuda --num 2048 --batch 128
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

from ganvas.metrics.evaluate import build_extractors, extractor_plan, measure
from ganvas.metrics.inception import InceptionV3


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def fidelity_pass(net, images: np.ndarray, batch: int, device: str) -> None:
    """torch-fidelity's own extractor, fed the way its calculate_metrics feeds it."""
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).contiguous()
            net(x.to(device))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=64, help="pictures per pass")
    ap.add_argument("--size", type=int, default=64, help="their side in pixels")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--weights", help="an Inception weight file (default: random weights)")
    a = ap.parse_args()
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    weights = a.weights
    if weights is None:
        fd, weights = tempfile.mkstemp(suffix=".pth")
        os.close(fd)
        torch.save(InceptionV3().state_dict(), weights)
    images = np.random.default_rng(0).integers(0, 256, (a.num, a.size, a.size, 3), np.uint8)
    plan = extractor_plan(["fid"], None)
    ours = build_extractors(plan, {None: weights})["inception-v3"]
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=weights).to(a.device)
    ours.extract(images[:a.batch], a.batch, a.device)                  # warm-up both
    fidelity_pass(theirs, images[:a.batch], a.batch, a.device)
    rounds = {"ganvas": [], "torch-fidelity": []}
    for _ in range(a.rounds):
        rounds["ganvas"].append(a.num / timed(
            lambda: ours.extract(images, a.batch, a.device), a.device))
        rounds["torch-fidelity"].append(a.num / timed(
            lambda: fidelity_pass(theirs, images, a.batch, a.device), a.device))
    speed = {k: statistics.median(v) for k, v in rounds.items()}

    # A second evaluation of the same real images: the cache skips their feature pass.
    os.environ["GANVAS_CACHE"] = tempfile.mkdtemp()
    key = {"dataset": "benchmark", "resolution": a.size, "num": a.num, "seed": 0}
    fakes = images[::-1].copy()
    first = timed(lambda: measure(["fid"], images, fakes, {"inception-v3": ours}, plan,
                                  real_key=key), a.device)
    second = timed(lambda: measure(["fid"], images, fakes, {"inception-v3": ours}, plan,
                                   real_key=key), a.device)
    result = {"device": a.device, "num": a.num, "size": a.size, "batch": a.batch,
              "img_per_s": {k: round(v, 2) for k, v in speed.items()},
              "rounds": {k: [round(x, 2) for x in v] for k, v in rounds.items()},
              "ratio": round(speed["ganvas"] / speed["torch-fidelity"], 3),
              "fid_first_s": round(first, 2), "fid_cached_s": round(second, 2),
              "cache_saving": round(first / second, 2)}
    print(json.dumps(result))
    print(f"inception pass on {a.device}: ganvas {speed['ganvas']:.1f} img/s, torch-fidelity "
          f"{speed['torch-fidelity']:.1f} img/s, ratio {result['ratio']:.2f}\n"
          f"fid of {a.num} vs {a.num}: {first:.1f} s, then {second:.1f} s with cached "
          f"reference features", file=sys.stderr)


if __name__ == "__main__":
    main()
