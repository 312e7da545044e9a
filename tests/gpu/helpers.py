"""What the GPU tests (tests/gpu) share: the Context of the device under test, with its
memoised trained runs, and the helpers and tolerances of the checks.

No network: the data is the bundled demo:emoji, feature networks get random weights saved
to the Context's temporary folder, and every test has its own ganvas cache (the autouse
fixture of tests/conftest.py), so nothing of the user's is read and nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path

# Deterministic cuBLAS must be configured before CUDA starts (used by the resume test's
# deterministic retry only); harmless otherwise. This module is imported at collection,
# before any test touches CUDA.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import ganvas  # noqa: E402
from ganvas.runfolder.snapshots import list_snapshots  # noqa: E402
from ganvas.config.resolve import preset as resolve_preset  # noqa: E402
from ganvas.metrics.inception import random_state  # noqa: E402
from ganvas.models import MODELS  # noqa: E402
from ganvas.config.presets import PRESETS  # noqa: E402

RESOLUTION = 64
# Tolerances. CUDA convolutions use TF32 by default on Ampere and later (10-bit mantissa), so
# GPU-vs-CPU comparisons are relative to the output's scale, not bit-level.
FP16_REL_TOL = 0.05           # max |fp16 - fp32| / max |fp32| of StyleGAN2's G and D outputs
FEATURE_REL_TOL = 0.02        # max |device - cpu| / max |cpu| of the feature networks
IMAGE_LEVEL_TOL = 3.0         # mean |device - cpu| in uint8 levels of generated pictures
ONNX_DEVICE_TOL = 0.1         # max |onnxruntime - device| on float images in [-1, 1]

# Every test module of tests/gpu sets `pytestmark = GPU`: marked `gpu` (pytest -m gpu picks
# them) and skipped, with the reason, where CUDA is missing.
GPU = [pytest.mark.gpu,
       pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="needs a CUDA GPU (torch.cuda.is_available() is False)")]


@dataclasses.dataclass
class Context:
    """What the checks share: the device, the size knobs and memoised expensive results.
    quick: a few steps and tiny sizes, for running the tests' own code on a CPU."""

    device: torch.device
    quick: bool
    tmp: Path
    cache: dict = dataclasses.field(default_factory=dict)

    def steps(self, full: int, quick: int) -> int:
        """`quick` in a quick Context, else `full`."""
        return quick if self.quick else full

    def memo(self, key, make):
        """make() once per key; a failure is remembered too, so dependent tests fail fast
        with the same error instead of repeating the work."""
        if key not in self.cache:
            try:
                self.cache[key] = ("ok", make())
            except Exception as e:  # noqa: BLE001 (re-raised to every dependent test)
                self.cache[key] = ("error", e)
        kind, value = self.cache[key]
        if kind == "error":
            raise value
        return value

    def sync(self) -> None:
        """Wait for the device's queued work (timings and errors land where they belong)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def tiny_presets() -> list[str]:
    """Each registered family's default preset, in its -tiny twin (presets are named after
    the family they default to)."""
    return [f"{name}-tiny" for name in MODELS.names() if f"{name}-tiny" in PRESETS.names()]


def train_options(preset: str, steps: int, ticks: int = 4) -> dict:
    """ganvas.train options for `steps` training steps of `preset` at RESOLUTION: kimg,
    ticks and one snapshot at the end (kimg counts every image D saw: batch x n_critic)."""
    t = resolve_preset(preset, resolution=RESOLUTION).config.train
    images = steps * t.batch * t.n_critic
    return dict(model=preset, resolution=RESOLUTION, kimg=images / 1000,
                tick_kimg=images / 1000 / ticks, snap_kimg=images / 1000, progress=False)


def trained_run(ctx: Context, preset: str, precision: str = "fp32") -> Path:
    """The run of test_train[preset-precision] (trained once, reused by the later tests);
    bf16 gets a third of fp32's steps: it is the second precision, checked for NaNs only."""
    steps = ctx.steps(300 if precision == "fp32" else 100, 4)
    return ctx.memo(("run", preset, precision), lambda: ganvas.train(
        "demo:emoji", out=ctx.tmp / "runs", device=str(ctx.device), precision=precision,
        **train_options(preset, steps)))


def stats(run: Path) -> list[dict]:
    """The entries of a run's stats.jsonl."""
    return [json.loads(s) for s in (run / "stats.jsonl").read_text().splitlines() if s]


def snapshot_weights(snapshot: Path) -> dict[str, dict[str, torch.Tensor]]:
    """G, G_ema and D of a snapshot, each a dict of tensors."""
    from safetensors.torch import load_file
    return {n: load_file(str(snapshot / f"{n}.safetensors")) for n in ("G", "G_ema", "D")}


def checkpoint_equal(a: dict, b: dict) -> bool:
    """Two weight dicts with the same names and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The largest absolute difference between two weight dicts' tensors."""
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def rel_err(got, want) -> float:
    """max |got - want| relative to the largest |want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


def random_weights(ctx: Context, name: str) -> Path:
    """A weight file of random values for feature network `name`: inception.random_state
    (O(1) activations through its 94 layers); torchvision's initialisation for VGG-16."""
    def make() -> Path:
        if name == "vgg16":
            import torchvision
            torch.manual_seed(0)
            state = torchvision.models.vgg16(weights=None).state_dict()
        else:
            state = random_state(1)
        path = ctx.tmp / "weights" / f"{name}-random.pth"
        path.parent.mkdir(exist_ok=True)
        torch.save(state, path)
        return path
    return ctx.memo(("weights", name), make)


def resume_pair(ctx: Context, preset: str, steps: int, tag: str) -> tuple[dict, dict]:
    """Final weights of `steps` steps in one go and of steps/2, stop, resume to `steps`."""
    opts = train_options(preset, steps)
    out = ctx.tmp / f"resume-{tag}"
    common = dict(out=out, device=str(ctx.device), seed=3, **opts)
    full = ganvas.train("demo:emoji", **common)
    part = ganvas.train("demo:emoji", **{**common, "kimg": opts["kimg"] / 2})
    ganvas.resume(part, kimg=opts["kimg"], progress=False)
    a, b = list_snapshots(full)[-1], list_snapshots(part)[-1]
    assert a.name == b.name, f"resumed run ended at {b.name}, the full one at {a.name}"
    return snapshot_weights(a), snapshot_weights(b)


@contextlib.contextmanager
def deterministic_algorithms():
    """cuDNN and PyTorch in their deterministic modes (warnings only where none exists)."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1:]


@contextlib.contextmanager
def patched(module, name: str, value):
    """module.name = value for the duration of the block."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)
