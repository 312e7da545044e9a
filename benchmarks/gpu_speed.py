"""gpu_speed.py - seconds per kimg of StyleGAN2 and FastGAN training steps on one GPU, timed
after warm-up, beside the published figure where there is one: one JSON line per timing
({"check": "speed/...", "ok", "seconds", figures ...}, or "error" when it raised), an "env"
line first and a "summary" line last; exit code 1 when a timing failed. Needs no network:
the data is the bundled demo:emoji, enlarged to the timed resolution.

    PYTHONPATH=src python benchmarks/gpu_speed.py                 # one GPU, ~1 minute
    python benchmarks/gpu_speed.py --device cpu --quick           # the script itself, on a CPU

The correctness checks of every CUDA code path are tests: `python -m pytest -m gpu tests/gpu`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

import ganvas  # noqa: E402
from ganvas.config.resolve import plan  # noqa: E402
from ganvas.data.archive import ArchiveWriter  # noqa: E402
from ganvas.data.demo import demo_pictures  # noqa: E402
from ganvas.device import pick_device  # noqa: E402
from ganvas.training import runs  # noqa: E402
from step_timing import time_steps  # noqa: E402

# Published reference (stylegan2-ada-pytorch README, "Expected training time", --cfg=auto,
# i.e. batch 16 at 256 px on one GPU): measured on NVIDIA Tesla V100; the table has no A100.
REFERENCE = {"stylegan2": {"resolution": 256, "gpus": 1, "sec_per_kimg": [21.6, 24.2],
                           "gpu": "Tesla V100",
                           "source": "NVlabs/stylegan2-ada-pytorch README, Expected training "
                                     "time"}}
# (preset, resolution, batch or None for the preset's): a GPU run, and a CPU's quick run
# (the 256 px presets do not fit a CPU: 2 steps of the tiny ones at 64 px).
TIMINGS = [("stylegan2", 256, 32), ("stylegan2", 256, None), ("fastgan", 256, None)]
QUICK_TIMINGS = [("stylegan2-tiny", 64, None), ("fastgan-tiny", 64, None)]


def speed_archive(tmp: Path, resolution: int) -> Path:
    """A demo:emoji archive enlarged to `resolution` (64 pictures: only speed is measured)."""
    path = tmp / f"emoji-{resolution}.zip"
    if not path.exists():
        with ArchiveWriter(path, resolution, 3) as w:
            for img in demo_pictures("emoji", 64, resolution):
                w.add(img, upscaled=resolution > 64)
            w.close()
    return path


def time_training(device: torch.device, tmp: Path, quick: bool, preset: str, resolution: int,
                  batch: int | None) -> dict:
    """Seconds per kimg of `preset` as training runs it (data opened as runs.start does, so
    --aug auto is settled), timed after warm-up; one step = n_critic D steps + one G step."""
    data = "demo:emoji" if resolution == 64 else str(speed_archive(tmp, resolution))
    options = {"resolution": resolution, "device": str(device), "batch": batch}
    cfg, bank, _ = runs.open_data(plan(data, preset, None, options).config)
    trainer = runs.make_trainer(cfg, bank)
    # 32: R1 and path length at their rates (every 16th and 4th step)
    warmup, steps = (1, 2) if quick else (4, 32)
    times = time_steps(trainer, device, warmup, steps)
    mean = statistics.fmean(times)
    images = cfg.train.batch * cfg.train.n_critic
    figures = {"preset": preset, "resolution": resolution, "batch": cfg.train.batch,
               "precision": cfg.train.precision, "num_fp16_res": cfg.model.num_fp16_res,
               "augment": cfg.augment.mode, "timed_steps": steps, "warmup_steps": warmup,
               "step_s_mean": round(mean, 4), "step_s_median": round(statistics.median(times), 4),
               "sec_per_kimg": round(1000 * mean / images, 2),
               "img_per_s": round(images / mean, 1)}
    if device.type == "cuda":
        figures["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    family = cfg.model.family
    reference = REFERENCE.get(family) if preset == family else None
    if reference and reference["resolution"] == resolution:
        figures["reference"] = reference
    return figures


def run_timing(name: str, fn) -> dict:
    """Run one timing; whatever it prints goes to stderr (stdout carries only JSON lines)."""
    t0 = time.perf_counter()
    record = {"check": name}
    try:
        with contextlib.redirect_stdout(sys.stderr):
            figures = fn()
        record.update(ok=True, **figures)
    except Exception as e:  # noqa: BLE001 (one failing timing must not stop the others)
        traceback.print_exc(file=sys.stderr)
        record.update(ok=False, error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record


def env_record(device: torch.device) -> dict:
    record = {"check": "env", "ok": True, "device": str(device),
              "torch": torch.__version__, "ganvas": getattr(ganvas, "__version__", None),
              "python": sys.version.split()[0], "threads": torch.get_num_threads()}
    if device.type == "cuda":
        record.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version(),
                      tf32_conv=torch.backends.cudnn.allow_tf32,
                      tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    return record


def emit(record: dict) -> None:
    print(json.dumps(record, default=str), flush=True)


def main(argv=None) -> int:
    """Run the timings; returns the exit code (1 when any failed)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--quick", action="store_true",
                   help="2 timed steps of stylegan2-tiny and fastgan-tiny at 64 px (a CPU run)")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    started = time.perf_counter()
    records = []
    emit(env_record(device))
    with tempfile.TemporaryDirectory(prefix="ganvas-gpu-speed-") as tmp:
        saved = os.environ.get("GANVAS_CACHE")
        # A private cache: nothing of the user's is read, nothing is downloaded into it.
        os.environ["GANVAS_CACHE"] = str(Path(tmp) / "cache")
        try:
            for preset, res, batch in QUICK_TIMINGS if args.quick else TIMINGS:
                name = f"speed/{preset}-{res}px" + (f"-b{batch}" if batch else "")
                records.append(run_timing(name, functools.partial(
                    time_training, device, Path(tmp), args.quick, preset, res, batch)))
                emit(records[-1])
        finally:
            if saved is None:
                os.environ.pop("GANVAS_CACHE", None)
            else:
                os.environ["GANVAS_CACHE"] = saved
    failed = [r["check"] for r in records if not r["ok"]]
    emit({"check": "summary", "ok": not failed, "passed": len(records) - len(failed),
          "failed": failed, "total": len(records), "device": str(device), "quick": args.quick,
          "seconds": round(time.perf_counter() - started, 1)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
