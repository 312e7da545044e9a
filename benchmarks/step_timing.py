"""Seconds per training step, the same way for every speed benchmark (gpu_speed.py,
stylegan2_speed.py): warm-up steps first, then each timed step ended by a CUDA synchronise so
the clock sees the kernels, not their launch."""

from __future__ import annotations

import time


def sync(device) -> None:
    """Wait for the device's queued work (CUDA); a no-op elsewhere."""
    if device.type == "cuda":
        import torch
        torch.cuda.synchronize(device)


def time_steps(trainer, device, warmup: int, steps: int) -> list[float]:
    """`warmup` untimed train steps, then the seconds of each of `steps` timed ones."""
    for _ in range(warmup):
        trainer.train_step()
    sync(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        trainer.train_step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times
