"""Feature networks and metrics on CUDA (random feature weights: the code paths, not
numbers comparable with papers)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import ganvas
from ganvas.data.demo import demo_pictures
from ganvas.metrics.extractors import EXTRACTORS

from .helpers import (FEATURE_REL_TOL, GPU, RESOLUTION, random_weights, rel_err,
                      trained_run)

pytestmark = GPU


@pytest.mark.parametrize("name", ["inception-v3", "vgg16"])
def test_features(ctx, name, record_property):
    """The feature network on the device against the same pass on the CPU (random weights):
    every output finite, within FEATURE_REL_TOL, and not constant."""
    extractor = EXTRACTORS.get(name)(weights=str(random_weights(ctx, name)))
    images = demo_pictures("emoji", ctx.steps(32, 3), RESOLUTION)
    t0 = time.perf_counter()
    got = extractor.extract(images, batch=16, device=ctx.device)
    ctx.sync()
    # Shown with -rA or in --junitxml: the device's speed, a figure, not a pass condition.
    record_property("device_img_per_s", round(len(images) / (time.perf_counter() - t0), 1))
    want = extractor.extract(images, batch=16, device="cpu")
    assert all(np.isfinite(v).all() for v in got.values())
    errors = {k: rel_err(got[k], want[k]) for k in got}
    assert max(errors.values()) <= FEATURE_REL_TOL, ("device features differ from the CPU's",
                                                     errors)
    assert float(np.std(got["features"])) > 0


def test_evaluate(ctx):
    """Every metric (fid, kid, is, pr, swd) of a model on the device, random feature weights:
    all finite."""
    m = ganvas.load(trained_run(ctx, "dcgan-tiny"), device=str(ctx.device))
    weights = {n: str(random_weights(ctx, n)) for n in ("inception-v3", "vgg16")}
    result = ganvas.evaluate(m, metrics="fid,kid,is,pr,swd", num=ctx.steps(128, 8),
                             feature_weights=weights, device=str(ctx.device))
    metrics = {k: v for k, v in result["metrics"].items() if isinstance(v, (int, float))}
    assert metrics, result
    assert all(math.isfinite(v) for v in metrics.values()), metrics
