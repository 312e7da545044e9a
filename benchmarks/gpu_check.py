"""gpu_check.py - one short run that exercises every CUDA code path of ganvas and says, per
path, whether it works: one JSON line per check on stdout ({"check", "ok", "seconds", figures
...}, or "error" when it raised), an "env" line first and a "summary" line last; exit code 1
when any check failed. Needs no network: data is the bundled demo:emoji (or pictures made
from it), feature networks get random weights saved to a temporary folder.

    PYTHONPATH=src python benchmarks/gpu_check.py                 # one GPU, ~5 minutes
    python benchmarks/gpu_check.py --device cpu --quick           # the script itself, on a CPU
    python benchmarks/gpu_check.py --only train,fp16              # checks whose name starts so

Checks: train/<preset>/<precision> (each family's -tiny preset at 64 px: finite losses and
weights, no rollback), fp16_layers (StyleGAN2's float16 blocks against float32 on the same
weights and input), resume/<preset> (N steps in one go against N/2, stop, resume: bit-equal),
generate/interpolate/project/<preset> (ganvas.load onto the device), features/<network>
(Inception-v3 and VGG-16 on the device against the CPU), evaluate (every metric on the
device), onnx/<preset> (export of a model loaded on the device, onnxruntime against the
device's images), speed/<preset>-<res>px-b<batch> (s/kimg after warm-up, beside the published
figure where there is one).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Deterministic cuBLAS must be configured before CUDA starts (used by the resume check's
# deterministic retry only); harmless otherwise.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ganvas  # noqa: E402
from ganvas.config import preset_config  # noqa: E402
from ganvas.data.archive import ArchiveWriter, read_archive  # noqa: E402
from ganvas.data.demo import demo_archive  # noqa: E402
from ganvas.device import fast_precision, pick_device  # noqa: E402
from ganvas.metrics.features import EXTRACTORS  # noqa: E402
from ganvas.metrics.inception import random_state  # noqa: E402
from ganvas.models import MODELS, build_discriminator, build_generator  # noqa: E402
from ganvas.models.stylegan2_layers import compute_dtype  # noqa: E402
from ganvas.presets import PRESETS  # noqa: E402
from ganvas.runfolder import snapshots  # noqa: E402
from ganvas.training import runs  # noqa: E402

RESOLUTION = 64
# Published reference (stylegan2-ada-pytorch README, "Expected training time", --cfg=auto,
# i.e. batch 16 at 256 px on one GPU): measured on NVIDIA Tesla V100; the table has no A100.
REFERENCE = {"stylegan2": {"resolution": 256, "gpus": 1, "sec_per_kimg": [21.6, 24.2],
                           "gpu": "Tesla V100",
                           "source": "NVlabs/stylegan2-ada-pytorch README, Expected training "
                                     "time"}}
# Tolerances. CUDA convolutions use TF32 by default on Ampere and later (10-bit mantissa), so
# GPU-vs-CPU comparisons are relative to the output's scale, not bit-level.
FP16_REL_TOL = 0.05           # max |fp16 - fp32| / max |fp32| of StyleGAN2's G and D outputs
FEATURE_REL_TOL = 0.02        # max |device - cpu| / max |cpu| of the feature networks
IMAGE_LEVEL_TOL = 3.0         # mean |device - cpu| in uint8 levels of generated pictures
ONNX_DEVICE_TOL = 0.1         # max |onnxruntime - device| on float images in [-1, 1]


class CheckFailed(Exception):
    """A check ran but a figure is outside its tolerance (the figures go with it)."""

    def __init__(self, message: str, figures: dict):
        super().__init__(message)
        self.figures = figures


@dataclasses.dataclass
class Context:
    """What the checks share: the device, the size knobs and memoised expensive results."""

    device: torch.device
    quick: bool
    tmp: Path
    cache: dict = dataclasses.field(default_factory=dict)

    def steps(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def memo(self, key, make):
        """make() once per key; a failure is remembered too, so dependent checks fail fast
        with the same error instead of repeating the work."""
        if key not in self.cache:
            try:
                self.cache[key] = ("ok", make())
            except Exception as e:  # noqa: BLE001 (re-raised to every dependent check)
                self.cache[key] = ("error", e)
        kind, value = self.cache[key]
        if kind == "error":
            raise value
        return value

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


# ---- shared helpers ------------------------------------------------------------------------
def tiny_presets() -> list[str]:
    """Each registered family's default preset, in its -tiny twin (presets are named after
    the family they default to)."""
    return [f"{name}-tiny" for name in MODELS.names() if f"{name}-tiny" in PRESETS.names()]


def train_options(preset: str, steps: int, ticks: int = 4) -> dict:
    """ganvas.train options for `steps` training steps of `preset` at RESOLUTION: kimg,
    ticks and one snapshot at the end (kimg counts every image D saw: batch x n_critic)."""
    t = preset_config(preset, model={"resolution": RESOLUTION}).train
    images = steps * t.batch * t.n_critic
    return dict(model=preset, resolution=RESOLUTION, kimg=images / 1000,
                tick_kimg=images / 1000 / ticks, snap_kimg=images / 1000, progress=False)


def trained_run(ctx: Context, preset: str, precision: str = "fp32") -> Path:
    """The run of train/<preset>/<precision> (trained once, reused by the later checks);
    bf16 gets a third of fp32's steps: it is the second precision, checked for NaNs only."""
    steps = ctx.steps(300 if precision == "fp32" else 100, 4)
    return ctx.memo(("run", preset, precision), lambda: ganvas.train(
        "demo:emoji", out=ctx.tmp / "runs", device=str(ctx.device), precision=precision,
        **train_options(preset, steps)))


def stats(run: Path) -> list[dict]:
    return [json.loads(s) for s in (run / "stats.jsonl").read_text().splitlines() if s]


def snapshot_weights(snapshot: Path) -> dict[str, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file
    return {n: load_file(str(snapshot / f"{n}.safetensors")) for n in ("G", "G_ema", "D")}


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def rel_err(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


def demo_images(n: int, size: int) -> np.ndarray:
    """n demo emoji (uint8 NHWC), resized to size x size."""
    from PIL import Image
    images = read_archive(demo_archive("emoji")).images[:n]
    if images.shape[1] == size:
        return np.ascontiguousarray(images)
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC))
                     for im in images])


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


def need(ok: bool, message: str, figures: dict) -> dict:
    """figures with ok=True, or a CheckFailed carrying them."""
    if not ok:
        raise CheckFailed(message, figures)
    return figures


# ---- the checks ----------------------------------------------------------------------------
def check_train(ctx: Context, preset: str, precision: str) -> dict:
    """Train `preset` on the device: losses and stats finite in every tick, no rollback, no
    nonfinite flag, every weight of the last snapshot finite."""
    run = trained_run(ctx, preset, precision)
    entries = stats(run)
    ticks = [e for e in entries if "rollback" not in e]
    numbers = {k: v for e in ticks for k, v in e.items() if isinstance(v, float)}
    finite_stats = all(math.isfinite(v) for e in ticks for v in e.values()
                       if isinstance(v, (int, float)))
    flags = sorted({f for e in ticks for f in e.get("flags", [])})
    weights = snapshot_weights(snapshots.list_snapshots(run)[-1])
    finite_weights = all(torch.isfinite(t.float()).all() for w in weights.values()
                         for t in w.values())
    last = ticks[-1]
    figures = {"preset": preset, "precision": precision, "steps": last["step"],
               "kimg": last["kimg"], "ticks": len(ticks),
               "rollbacks": len(entries) - len(ticks), "flags": flags,
               "loss_d": last.get("loss_d"), "loss_g": last.get("loss_g"),
               "sec_per_kimg_last_tick": last.get("sec_per_kimg"),
               "finite_stats": finite_stats, "finite_weights": bool(finite_weights),
               "stat_keys": sorted(numbers)[:12]}
    good = (finite_stats and finite_weights and "nonfinite" not in flags
            and len(entries) == len(ticks))
    return need(good, "non-finite losses/weights or a rollback", figures)


def check_fp16_layers(ctx: Context) -> dict:
    """StyleGAN2 with num_fp16_res (its preset's float16 blocks) against the same weights with
    num_fp16_res 0, on the same input: G's images and D's logits."""
    cfg = preset_config("stylegan2-tiny", model={"resolution": RESOLUTION}).model
    cfg32 = dataclasses.replace(cfg, num_fp16_res=0)
    torch.manual_seed(0)
    G16, D16 = build_generator(cfg), build_discriminator(cfg)
    G32, D32 = build_generator(cfg32), build_discriminator(cfg32)
    G32.load_state_dict(G16.state_dict())
    D32.load_state_dict(D16.state_dict())
    nets = [n.to(ctx.device).eval() for n in (G16, D16, G32, D32)]
    G16, D16, G32, D32 = nets
    z = torch.randn(8, cfg.z_dim, generator=torch.Generator().manual_seed(1)).to(ctx.device)
    with torch.no_grad():
        img16, img32 = G16.synthesize(z), G32.synthesize(z)
        logit16, logit32 = D16(img32), D32(img32)
    fp16_blocks = [b.resolution for b in G16.synthesis.blocks if b.use_fp16]
    taken = compute_dtype(True, ctx.device) == torch.float16
    figures = {"num_fp16_res": cfg.num_fp16_res, "fp16_blocks_g": fp16_blocks,
               "fp16_taken": taken,
               "compared": ("float16 blocks vs float32" if taken else
                            f"float32 vs float32 ({ctx.device.type}: the float16 blocks "
                            f"compute in float32 off CUDA)"),
               "image_dtype": str(img16.dtype),
               "g_max_abs": float((img16.float() - img32).abs().max()),
               "g_rel": rel_err(img16.float().cpu(), img32.cpu()),
               "d_max_abs": float((logit16.float() - logit32).abs().max()),
               "d_rel": rel_err(logit16.float().cpu(), logit32.cpu()),
               "tolerance_rel": FP16_REL_TOL,
               "finite": bool(torch.isfinite(img16).all() and torch.isfinite(logit16).all())}
    good = figures["finite"] and figures["g_rel"] <= FP16_REL_TOL and \
        figures["d_rel"] <= FP16_REL_TOL
    return need(good, "float16 differs from float32 beyond the tolerance", figures)


def resume_pair(ctx: Context, preset: str, steps: int, tag: str) -> tuple[dict, dict]:
    """Final weights of `steps` steps in one go and of steps/2, stop, resume to `steps`."""
    opts = train_options(preset, steps)
    out = ctx.tmp / f"resume-{tag}"
    common = dict(out=out, device=str(ctx.device), seed=3, **opts)
    full = ganvas.train("demo:emoji", **common)
    part = ganvas.train("demo:emoji", **{**common, "kimg": opts["kimg"] / 2})
    ganvas.resume(part, kimg=opts["kimg"], progress=False)
    a, b = snapshots.list_snapshots(full)[-1], snapshots.list_snapshots(part)[-1]
    if a.name != b.name:
        raise CheckFailed(f"resumed run ended at {b.name}, the full one at {a.name}", {})
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


def check_resume(ctx: Context, preset: str) -> dict:
    """Stop-and-resume gives the bit-identical weights of an uninterrupted run. When it does
    not, two uninterrupted runs are compared too (is the device itself deterministic?) and
    the pair is retried with deterministic algorithms, so the report says which it is."""
    steps = ctx.steps(64, 4)       # 64: a multiple of R1's 16 and path length's 4
    full, resumed = resume_pair(ctx, preset, steps, f"{preset}-a")
    equal = all(checkpoint_equal(full[n], resumed[n]) for n in full)
    figures = {"preset": preset, "steps": steps, "resume_equal": equal}
    if not equal:
        figures["max_abs_diff"] = {n: max_diff(full[n], resumed[n]) for n in full}
        again, _ = resume_pair(ctx, preset, steps, f"{preset}-b")
        figures["repeat_equal"] = all(checkpoint_equal(full[n], again[n]) for n in full)
        with deterministic_algorithms():
            d_full, d_resumed = resume_pair(ctx, preset, steps, f"{preset}-det")
        figures["deterministic_resume_equal"] = all(
            checkpoint_equal(d_full[n], d_resumed[n]) for n in d_full)
    return need(equal, "resumed weights differ from the uninterrupted run's", figures)


def checkpoint_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def check_generate(ctx: Context, preset: str) -> dict:
    """Pictures of a model loaded onto the device: the right shape, the same twice, close to
    the same model's pictures on the CPU (TF32 and float16 blocks make them differ a little)."""
    run = trained_run(ctx, preset)
    m = ganvas.load(run, device=str(ctx.device))
    seeds = range(ctx.steps(32, 4))
    images = m.generate(seeds, truncation=0.7)
    again = m.generate(seeds, truncation=0.7)
    cpu = ganvas.load(run, device="cpu").generate(seeds, truncation=0.7)
    diff = np.abs(images.astype(np.int16) - cpu.astype(np.int16))
    figures = {"preset": preset, "model_device": str(m.device), "shape": list(images.shape),
               "repeatable": bool(np.array_equal(images, again)),
               "vs_cpu_mean_levels": round(float(diff.mean()), 3),
               "vs_cpu_max_levels": int(diff.max()), "tolerance_mean_levels": IMAGE_LEVEL_TOL}
    good = (images.shape == (len(seeds), m.resolution, m.resolution, m.channels)
            and figures["repeatable"] and figures["vs_cpu_mean_levels"] <= IMAGE_LEVEL_TOL)
    return need(good, "device pictures wrong, unrepeatable or far from the CPU's", figures)


def check_interpolate(ctx: Context, preset: str) -> dict:
    """A GIF walk in every latent space the family has, and a walk's frames in memory."""
    m = ganvas.load(trained_run(ctx, preset), device=str(ctx.device))
    frames_per_step = ctx.steps(8, 2)
    sizes = {}
    for space in m.capabilities.latent_spaces():
        path = m.interpolate(ctx.tmp / f"walk-{preset}-{space}.gif", seeds=[0, 1, 2],
                             space=space, frames_per_step=frames_per_step, progress=False)
        sizes[space] = path.stat().st_size
    walk = m.walk(seeds=[0, 1], frames_per_step=frames_per_step)
    frames = walk.frames(0, len(walk))
    figures = {"preset": preset, "spaces": list(sizes), "gif_bytes": sizes,
               "frames": list(frames.shape)}
    good = all(sizes.values()) and frames.shape[0] == len(walk) and frames.dtype == np.uint8
    return need(good, "empty GIF or wrong frames", figures)


def check_project(ctx: Context, preset: str) -> dict:
    """Projection of one of the model's own pictures on the device, with the VGG-16 distance
    (random weights) and with the pixel fallback (no weights, no download)."""
    from PIL import Image
    from ganvas.latent import perceptual, project as projection
    m = ganvas.load(trained_run(ctx, preset), device=str(ctx.device))
    target = ctx.tmp / f"target-{preset}.png"
    Image.fromarray(m.generate([7])[0].squeeze()).save(target)
    steps = ctx.steps(60, 3)
    rows = {}
    vgg = m.project(target, out=ctx.tmp / f"proj-{preset}-vgg", steps=steps, progress=False,
                    feature_weights=str(random_weights(ctx, "vgg16")))
    rows[vgg["distance"]["name"]] = vgg["targets"][0]
    # The pixel fallback: build_distance without downloading (its cache is this run's own).
    offline = functools.partial(perceptual.build_distance, download=False)
    with patched(projection, "build_distance", offline):
        pixel = m.project(target, out=ctx.tmp / f"proj-{preset}-pixel", steps=steps,
                          progress=False)
    rows[pixel["distance"]["name"]] = pixel["targets"][0]
    figures = {"preset": preset, "space": vgg["space"], "steps": steps,
               "distances": {k: {f: r[f] for f in ("start_distance", "distance", "psnr_db")}
                             for k, r in rows.items()}}
    finite = all(math.isfinite(r["distance"]) for r in rows.values())
    improved = all(r["distance"] <= r["start_distance"] for r in rows.values())
    figures["improved"] = improved
    good = finite and len(rows) == 2 and (improved or ctx.quick)
    return need(good, "projection distances not finite or not improved", figures)


@contextlib.contextmanager
def patched(module, name: str, value):
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def check_features(ctx: Context, name: str) -> dict:
    """The feature network on the device against the same pass on the CPU (random weights)."""
    extractor = EXTRACTORS.get(name)(weights=str(random_weights(ctx, name)))
    images = demo_images(ctx.steps(32, 3), RESOLUTION)
    t0 = time.perf_counter()
    got = extractor.extract(images, batch=16, device=ctx.device)
    ctx.sync()
    seconds = time.perf_counter() - t0
    want = extractor.extract(images, batch=16, device="cpu")
    errors = {k: rel_err(got[k], want[k]) for k in got}
    figures = {"network": name, "images": len(images), "outputs": {k: list(v.shape)
                                                                   for k, v in got.items()},
               "rel_err_vs_cpu": errors, "tolerance_rel": FEATURE_REL_TOL,
               "device_img_per_s": round(len(images) / seconds, 1),
               "feature_std": float(np.std(got["features"]))}
    good = all(np.isfinite(v).all() for v in got.values()) and \
        max(errors.values()) <= FEATURE_REL_TOL and figures["feature_std"] > 0
    return need(good, "device features differ from the CPU's", figures)


def check_evaluate(ctx: Context) -> dict:
    """Every metric (fid, kid, is, pr, swd) of a model on the device, random feature weights."""
    m = ganvas.load(trained_run(ctx, "dcgan-tiny"), device=str(ctx.device))
    weights = {n: str(random_weights(ctx, n)) for n in ("inception-v3", "vgg16")}
    result = ganvas.evaluate(m, metrics="fid,kid,is,pr,swd", num=ctx.steps(128, 8),
                             feature_weights=weights, device=str(ctx.device))
    metrics = {k: v for k, v in result["metrics"].items() if isinstance(v, (int, float))}
    figures = {"num": result["num"], "metrics": {k: round(float(v), 6)
                                                 for k, v in metrics.items()}}
    good = bool(metrics) and all(math.isfinite(v) for v in metrics.values())
    return need(good, "non-finite metrics", figures)


def check_onnx(ctx: Context, preset: str) -> dict:
    """ONNX export of a model loaded on the device (export checks onnxruntime against
    PyTorch on the CPU itself), then onnxruntime against the device's own pictures."""
    import onnxruntime as ort
    from ganvas.export import example_inputs
    m = ganvas.load(trained_run(ctx, preset), device=str(ctx.device))
    path = m.export(ctx.tmp / f"onnx-{preset}", format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = example_inputs(m, range(4), truncation=0.7)
    got = session.run(None, {n: x.cpu().numpy() for n, x in inputs.items()})[0]
    want = m.sampler.images(inputs["z"], inputs.get("labels"), 0.7).float().cpu().numpy()
    err = float(np.abs(got - want).max())
    figures = {"preset": preset, "model_device": str(m.device), "onnx_bytes": path.stat().st_size,
               "max_abs_vs_device": err, "tolerance": ONNX_DEVICE_TOL}
    return need(err <= ONNX_DEVICE_TOL, "onnxruntime differs from the device's pictures",
                figures)


def speed_archive(ctx: Context, resolution: int) -> Path:
    """A demo:emoji archive enlarged to `resolution` (64 pictures: only speed is measured)."""
    def make() -> Path:
        path = ctx.tmp / f"emoji-{resolution}.zip"
        with ArchiveWriter(path, resolution, 3) as w:
            for img in demo_images(64, resolution):
                w.add(img, upscaled=resolution > 64)
            w.close()
        return path
    return ctx.memo(("archive", resolution), make)


def check_speed(ctx: Context, preset: str, resolution: int, batch: int | None) -> dict:
    """Seconds per kimg of `preset` as training runs it (data opened as runs.start does, so
    --aug auto is settled), timed after warm-up; one step = n_critic D steps + one G step."""
    data = "demo:emoji" if resolution == 64 else str(speed_archive(ctx, resolution))
    cfg = preset_config(preset, model={"resolution": resolution},
                        train={"data": data, "device": str(ctx.device), "batch": batch})
    cfg, bank, _ = runs.open_data(cfg.resolved())
    trainer = runs.make_trainer(cfg, bank)
    warmup, steps = ctx.steps(4, 1), ctx.steps(32, 2)    # 32: R1 and path length at their rates
    for _ in range(warmup):
        trainer.train_step()
    ctx.sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        trainer.train_step()
        ctx.sync()
        times.append(time.perf_counter() - t0)
    mean = statistics.fmean(times)
    images = cfg.train.batch * cfg.train.n_critic
    figures = {"preset": preset, "resolution": resolution, "batch": cfg.train.batch,
               "precision": cfg.train.precision, "num_fp16_res": cfg.model.num_fp16_res,
               "augment": cfg.augment.mode, "timed_steps": steps, "warmup_steps": warmup,
               "step_s_mean": round(mean, 4), "step_s_median": round(statistics.median(times), 4),
               "sec_per_kimg": round(1000 * mean / images, 2),
               "img_per_s": round(images / mean, 1)}
    if ctx.device.type == "cuda":
        figures["max_memory_gib"] = round(torch.cuda.max_memory_allocated(ctx.device) / 2**30, 2)
    family = cfg.model.family
    reference = REFERENCE.get(family) if preset == family else None
    if reference and reference["resolution"] == resolution:
        figures["reference"] = reference
    return figures


# ---- running them --------------------------------------------------------------------------
def all_checks(ctx: Context) -> list[tuple[str, callable]]:
    """(name, thunk) in the order they run."""
    presets = tiny_presets()
    checks = [(f"train/{p}/fp32", functools.partial(check_train, ctx, p, "fp32"))
              for p in presets]
    # bf16 autocast without native bf16 (fast_precision says fp32) is emulated and far too
    # slow for StyleGAN2's double backward on a CPU: there one family shows the check works.
    bf16 = presets if fast_precision(ctx.device) == "bf16" or ctx.device.type != "cpu" \
        else presets[:1]
    checks += [(f"train/{p}/bf16", functools.partial(check_train, ctx, p, "bf16"))
               for p in bf16]
    checks.append(("fp16_layers", functools.partial(check_fp16_layers, ctx)))
    checks += [(f"resume/{p}", functools.partial(check_resume, ctx, p)) for p in presets]
    for verb, fn in (("generate", check_generate), ("interpolate", check_interpolate),
                     ("project", check_project)):
        checks += [(f"{verb}/{p}", functools.partial(fn, ctx, p)) for p in presets]
    checks += [(f"features/{n}", functools.partial(check_features, ctx, n))
               for n in ("inception-v3", "vgg16")]
    checks.append(("evaluate", functools.partial(check_evaluate, ctx)))
    checks += [(f"onnx/{p}", functools.partial(check_onnx, ctx, p)) for p in presets]
    if ctx.quick:        # the 256 px presets do not fit a CPU: 2 steps of the tiny ones
        speeds = [(p, RESOLUTION, None) for p in ("stylegan2-tiny", "fastgan-tiny")]
    else:
        speeds = [("stylegan2", 256, 32), ("stylegan2", 256, None), ("fastgan", 256, None)]
    for preset, res, batch in speeds:
        name = f"speed/{preset}-{res}px" + (f"-b{batch}" if batch else "")
        checks.append((name, functools.partial(check_speed, ctx, preset, res, batch)))
    return checks


def run_check(name: str, fn) -> dict:
    """Run one check; whatever it prints goes to stderr (stdout carries only JSON lines)."""
    t0 = time.perf_counter()
    record = {"check": name}
    try:
        with contextlib.redirect_stdout(sys.stderr):
            figures = fn()
        record.update(ok=True, **figures)
    except CheckFailed as e:
        record.update(ok=False, error=str(e), **e.figures)
    except Exception as e:  # noqa: BLE001 (one failing check must not stop the others)
        traceback.print_exc(file=sys.stderr)
        record.update(ok=False, error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record


def env_record(device: torch.device) -> dict:
    record = {"check": "env", "ok": True, "device": str(device),
              "torch": torch.__version__, "ganvas": getattr(ganvas, "__version__", None),
              "python": sys.version.split()[0], "precision": "fp32 (default) and bf16",
              "stylegan2_fp16": "num_fp16_res 4 on CUDA (stylegan2 presets)",
              "families": list(MODELS.names()), "presets": tiny_presets(),
              "threads": torch.get_num_threads()}
    if device.type == "cuda":
        record.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version(),
                      tf32_conv=torch.backends.cudnn.allow_tf32,
                      tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    return record


def select(checks: list, only: str | None) -> list:
    """The checks whose name starts with one of the comma-separated prefixes in `only`."""
    if not only:
        return checks
    prefixes = [p.strip() for p in only.split(",") if p.strip()]
    return [(n, f) for n, f in checks if any(n.startswith(p) for p in prefixes)]


@contextlib.contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def emit(record: dict) -> None:
    print(json.dumps(record, default=str), flush=True)


def main(argv=None, extra_checks=()) -> int:
    """Run the checks; returns the exit code (1 when any failed). extra_checks: more (name,
    thunk) pairs appended after the selected ones (tests use it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--quick", action="store_true",
                   help="a few steps and tiny sizes, 64 px timing of 2 steps (a CPU run)")
    p.add_argument("--only", help="comma-separated name prefixes, e.g. train,fp16,resume")
    p.add_argument("--list", action="store_true", help="print the check names and exit")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganvas-gpu-check-") as tmp:
        ctx = Context(device=device, quick=args.quick, tmp=Path(tmp))
        checks = select(all_checks(ctx), args.only) + list(extra_checks)
        if args.list:
            print("\n".join(n for n, _ in checks))
            return 0
        emit(env_record(device))
        records = []
        # A private cache: nothing of the user's is read, nothing is downloaded into it.
        with environment(GANVAS_CACHE=str(Path(tmp) / "cache")):
            for name, fn in checks:
                records.append(run_check(name, fn))
                emit(records[-1])
    failed = [r["check"] for r in records if not r["ok"]]
    emit({"check": "summary", "ok": not failed, "passed": len(records) - len(failed),
          "failed": failed, "total": len(records), "device": str(device), "quick": args.quick,
          "seconds": round(time.perf_counter() - started, 1)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
