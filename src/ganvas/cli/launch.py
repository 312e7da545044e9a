"""`ganvas train --gpus N`: the same command in N processes on this machine, started by
torchrun (torch.distributed.run), which is also how many machines are used (README)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ..errors import GanvasError


def check_launch(n: int, device: str | None) -> None:
    """--gpus N asks for N CUDA GPUs here, or N CPU processes with --device cpu."""
    if n < 1:
        raise GanvasError(f"--gpus {n}: give a number of processes of at least 1")
    device = (device or "auto").strip().lower()
    if device == "cpu":
        return
    if device not in ("auto", "cuda"):
        raise GanvasError(f"--gpus {n} --device {device}: each process takes its own GPU "
                          f"(cuda:0 to cuda:{n - 1}); give --device cuda, auto or cpu")
    import torch
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < n:
        raise GanvasError(f"--gpus {n}: this machine has {count} CUDA GPU(s)"
                          + ("" if count else "; --device cpu starts the processes on the CPU"))


def without_gpus(argv: list[str]) -> list[str]:
    """The command line with its --gpus N (or --gpus=N) taken out."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--gpus":
            skip = True
        elif not arg.startswith("--gpus="):
            out.append(arg)
    return out


def launch(n: int, argv: list[str]) -> int:
    """Run `ganvas ARGV` (without --gpus) in n processes under torchrun on this machine;
    returns torchrun's exit code. Ctrl-C reaches every process from the terminal; a SIGTERM
    sent to this launcher is passed on (each process then snapshots and stops)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={n}", "-m", "ganvas", *without_gpus(argv)]
    env = dict(os.environ)
    # torchrun would set 1 (with a warning); the machine's cores shared out is what we want.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
    proc = subprocess.Popen(cmd, env=env)
    old_term = signal.signal(signal.SIGTERM, lambda s, f: proc.send_signal(signal.SIGTERM))
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)     # the processes get it too
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
