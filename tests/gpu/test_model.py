"""A trained model loaded onto CUDA (ganvas.load(run, device=...)): generate, interpolate,
project and ONNX export."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import ganvas

from .helpers import (GPU, IMAGE_LEVEL_TOL, ONNX_DEVICE_TOL, patched, random_weights,
                      tiny_presets, trained_run)

pytestmark = GPU


@pytest.mark.parametrize("preset", tiny_presets())
def test_generate(ctx, preset):
    """Pictures of a model loaded onto the device: the right shape, the same twice, close to
    the same model's pictures on the CPU (TF32 and float16 blocks make them differ a little:
    mean difference at most IMAGE_LEVEL_TOL uint8 levels)."""
    run = trained_run(ctx, preset)
    m = ganvas.load(run, device=str(ctx.device))
    assert m.device.type == ctx.device.type
    seeds = range(ctx.steps(32, 4))
    images = m.generate(seeds, truncation=0.7)
    again = m.generate(seeds, truncation=0.7)
    cpu = ganvas.load(run, device="cpu").generate(seeds, truncation=0.7)
    assert images.shape == (len(seeds), m.resolution, m.resolution, m.channels)
    assert np.array_equal(images, again), "device pictures differ between two calls"
    diff = np.abs(images.astype(np.int16) - cpu.astype(np.int16))
    figures = {"vs_cpu_mean_levels": round(float(diff.mean()), 3),
               "vs_cpu_max_levels": int(diff.max())}
    assert figures["vs_cpu_mean_levels"] <= IMAGE_LEVEL_TOL, figures
    if ctx.device.type == "cpu":
        assert figures["vs_cpu_max_levels"] == 0, figures     # the CPU against itself


@pytest.mark.parametrize("preset", tiny_presets())
def test_interpolate(ctx, preset):
    """A GIF walk in every latent space the family has, and a walk's frames in memory."""
    m = ganvas.load(trained_run(ctx, preset), device=str(ctx.device))
    frames_per_step = ctx.steps(8, 2)
    sizes = {}
    for space in m.capabilities.latent_spaces():
        path = m.interpolate(ctx.tmp / f"walk-{preset}-{space}.gif", seeds=[0, 1, 2],
                             space=space, frames_per_step=frames_per_step, progress=False)
        sizes[space] = path.stat().st_size
    assert sizes and all(sizes.values()), ("empty GIF", sizes)
    walk = m.walk(seeds=[0, 1], frames_per_step=frames_per_step)
    frames = walk.frames(0, len(walk))
    assert frames.shape[0] == len(walk) and frames.dtype == np.uint8, frames.shape


@pytest.mark.parametrize("preset", tiny_presets())
def test_project(ctx, preset):
    """Projection of one of the model's own pictures on the device, with the VGG-16 distance
    (random weights) and with the pixel fallback (no weights, no download): distances finite
    and, with a full run's steps, no worse than where they started."""
    from PIL import Image

    from ganvas.latent import perceptual
    from ganvas.latent import project as projection
    m = ganvas.load(trained_run(ctx, preset), device=str(ctx.device))
    target = ctx.tmp / f"target-{preset}.png"
    Image.fromarray(m.generate([7])[0].squeeze()).save(target)
    steps = ctx.steps(60, 3)
    rows = {}
    vgg = m.project(target, out=ctx.tmp / f"proj-{preset}-vgg", steps=steps, progress=False,
                    feature_weights=str(random_weights(ctx, "vgg16")))
    rows[vgg["distance"]["name"]] = vgg["targets"][0]
    # The pixel fallback: build_distance without downloading (its cache is this test's own).
    offline = functools.partial(perceptual.build_distance, download=False)
    with patched(projection, "build_distance", offline):
        pixel = m.project(target, out=ctx.tmp / f"proj-{preset}-pixel", steps=steps,
                          progress=False)
    rows[pixel["distance"]["name"]] = pixel["targets"][0]
    distances = {k: {f: r[f] for f in ("start_distance", "distance", "psnr_db")}
                 for k, r in rows.items()}
    assert len(rows) == 2, ("the VGG-16 and the pixel distance", distances)
    assert all(math.isfinite(r["distance"]) for r in rows.values()), distances
    # A quick Context's 3 steps are too few to promise progress; 60 are not.
    if not ctx.quick:
        assert all(r["distance"] <= r["start_distance"] for r in rows.values()), distances


@pytest.mark.parametrize("preset", tiny_presets())
def test_onnx(ctx, preset):
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
    assert err <= ONNX_DEVICE_TOL, ("onnxruntime differs from the device's pictures", err)
