"""Opening an NVlabs network pickle: ganvas's safe reader and conversion against a plain
`pickle.loads` of the same bytes (what every other tool does: NVlabs' own loader unpickles and
then also runs the embedded class source and builds modules, so the reference is a lower
bound of its time), and the speed of generate on the imported model. Prints one JSON line on
stdout and a table on stderr.

    python benchmarks/import_speed.py                         # StyleGAN2 at 256 px
    python benchmarks/import_speed.py --resolution 512 --rounds 5
    python benchmarks/import_speed.py --family stylegan3-t    # generate speed of StyleGAN3
    python benchmarks/import_speed.py --pickle network-snapshot-000480.pkl   # a file you have

The pickle is a stylegan2-ada-pytorch snapshot (G, G_ema, D, augment pipe) of the StyleGAN2
its `auto` configuration builds at that resolution, with random weights, written in NVlabs'
layout by the tests' writer (tests/nvlabs/from_ganvas.py) into ./bench-data/, or the file
given with --pickle (any NVlabs snapshot: StyleGAN2, StyleGAN3 T or R, TensorFlow). Generate
runs G_ema on 16 seeds at truncation 0.7 (`Model.generate`), fp32 and bf16 autocast.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def make_pickle(resolution: int, out: Path) -> Path:
    import torch

    from ganvas.config import resolve
    from ganvas.models import build_discriminator, build_generator
    from tests.nvlabs.from_ganvas import stylegan2_pickle

    path = out / f"stylegan2-{resolution}.pkl"
    if not path.is_file():
        cfg = resolve.preset("stylegan2", resolution=resolution, num_fp16_res=0).config.model
        torch.manual_seed(0)
        G, D = build_generator(cfg).eval(), build_discriminator(cfg).eval()
        out.mkdir(parents=True, exist_ok=True)
        path.write_bytes(stylegan2_pickle(cfg, G, D, p=0.2))
    return path


def plain_unpickle_s(data: bytes) -> float:
    """pickle.loads with stand-ins that return the persistent objects' data unbuilt."""
    from tests.nvlabs import layouts

    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "_reconstruct_persistent_obj":
                return lambda meta: meta
            if name == "EasyDict":
                return dict
            return super().find_class(module, name)
    import io
    start = time.perf_counter()
    Plain(io.BytesIO(data)).load()
    assert layouts                                 # the layout's names are NVlabs'
    return time.perf_counter() - start


def ganvas_import_s(path: Path) -> float:
    from ganvas.runfolder import imported
    imported._read.cache_clear()
    start = time.perf_counter()
    imported.read_imported(path).generator()
    return time.perf_counter() - start


def generate_s(model, precision: str, n: int = 16) -> float:
    import torch
    ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
           else nullcontext())
    with ctx:
        model.generate(range(2), truncation=0.7)           # warm-up
        start = time.perf_counter()
        model.generate(range(n), truncation=0.7)
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--family", default="stylegan2",
                    help="generate speed of this preset's model at the imported model's "
                         "resolution too, beside the imported one (e.g. stylegan3-t)")
    ap.add_argument("--data", default=str(REPO / "bench-data" / "nvlabs"))
    ap.add_argument("--pickle", help="time this NVlabs pickle instead of a generated one")
    args = ap.parse_args()

    import torch

    import ganvas
    from ganvas.api import Model
    from ganvas.config import resolve
    from ganvas.models import build_generator

    path = Path(args.pickle) if args.pickle else make_pickle(args.resolution, Path(args.data))
    data = path.read_bytes()
    plain, ours = [], []
    for _ in range(args.rounds):                  # alternate, so machine load hits both
        plain.append(plain_unpickle_s(data))
        ours.append(ganvas_import_s(path))
    model = ganvas.load(path, device="cpu")
    result = {"bench": "import_speed", "file": path.name, "network": model.family,
              "resolution": model.resolution,
              "file_mb": round(len(data) / 2 ** 20, 1),
              "plain_unpickle_s": round(statistics.median(plain), 3),
              "ganvas_import_s": round(statistics.median(ours), 3),
              "import_ratio": round(statistics.median(ours) / statistics.median(plain), 2),
              "threads": torch.get_num_threads()}
    for precision in ("fp32", "bf16"):
        result[f"imported_generate_s_per_image_{precision}"] = round(
            generate_s(model, precision), 4)
    if args.family != model.family:
        cfg = resolve.preset(args.family, resolution=model.resolution).config.model
        other = Model(build_generator(cfg).eval().requires_grad_(False),
                      {"model": {}}, args.family)
        for precision in ("fp32", "bf16"):
            result[f"{args.family}_generate_s_per_image_{precision}"] = round(
                generate_s(other, precision), 4)
            result[f"{args.family}_vs_imported_{precision}"] = round(
                result[f"{args.family}_generate_s_per_image_{precision}"]
                / result[f"imported_generate_s_per_image_{precision}"], 2)
    print(json.dumps(result))
    for key, value in result.items():
        print(f"{key:45s} {value}", file=sys.stderr)


if __name__ == "__main__":
    main()
