"""`ganvas eval`: a model's samples against its training images, as a metrics JSON.

Metrics are registered by name. SWD needs no weights. FID, KID and precision/recall run on the
features of a registered extractor (`--extractor`); the standard Inception-v3 / VGG-16 ones of
the papers are not in ganvas yet, so today these numbers are only comparable between ganvas
runs that use the same extractor, and the JSON names the extractor next to every value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.dataset import ImageBank, load_archive, resolve_dataset
from ..errors import GanvasError
from ..imaging import atomic_save, to_uint8
from ..registry import Registry
from .distances import frechet_distance, kernel_inception_distance, precision_recall, statistics
from .features import EXTRACTORS
from .swd import swd

REAL_SEED = 0                 # which training images are compared: a fixed random subset


def fid(reals, fakes) -> dict:
    return {"fid": frechet_distance(*statistics(reals), *statistics(fakes))}


def kid(reals, fakes) -> dict:
    mean, std = kernel_inception_distance(reals, fakes, subset_size=min(1000, len(reals)))
    return {"kid": mean, "kid_std": std}


def pr(reals, fakes) -> dict:
    precision, recall = precision_recall(reals, fakes, k=3)
    return {"precision": precision, "recall": recall}


def swd_metric(reals, fakes) -> dict:
    result = swd(reals, fakes)
    return {"swd": result["mean"], "swd_levels": result["levels"]}


# name -> (function of (reals, fakes), whether it works on features rather than pixels)
METRICS: Registry[tuple[Callable[..., dict], bool]] = Registry("metric")
METRICS.register("fid")((fid, True))
METRICS.register("kid")((kid, True))
METRICS.register("pr")((pr, True))
METRICS.register("swd")((swd_metric, False))


def parse_metrics(text: str) -> list[str]:
    """'fid,swd' -> ['fid', 'swd'], each checked against the registry."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise GanvasError(f"no metrics given; choose from {', '.join(METRICS.names())}")
    for name in names:
        METRICS.get(name)
    return names


def real_images(dataset: str, resolution: int, num: int) -> np.ndarray:
    """`num` training images (a fixed random subset) as uint8 (N, res, res, C)."""
    bank = ImageBank(load_archive(resolve_dataset(dataset, resolution=resolution)),
                     resolution=resolution)
    gen = torch.Generator().manual_seed(REAL_SEED)
    idx = torch.randperm(len(bank), generator=gen)[:num].sort().values
    return to_uint8(bank.images_at(idx))


def evaluate(model, metrics: list[str], num: int, extractor: str = "random-conv") -> dict:
    """Generate `num` images (seeds 0..num-1) from a loaded ganvas Model and compare them with
    as many of its training images (fewer if the dataset is smaller)."""
    if num < 2:
        raise GanvasError("--num must be at least 2")
    dataset = model.info.get("dataset", {}).get("name")
    if not dataset:
        raise GanvasError(f"{model.path} does not say which dataset it was trained on")
    reals = real_images(dataset, model.resolution, num)
    fakes = model.generate(range(len(reals)))
    result = {"model": str(model.path), "kimg": model.kimg, "dataset": dataset,
              "num": len(reals), "metrics": {}}
    features = None
    if any(METRICS.get(m)[1] for m in metrics):
        ex = EXTRACTORS.get(extractor)()
        features = ex.features(reals), ex.features(fakes)
        result["extractor"] = extractor
    for name in metrics:
        fn, on_features = METRICS.get(name)
        result["metrics"].update(fn(*features) if on_features else fn(reals, fakes))
    return result


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """The result as pretty JSON, written atomically."""
    text = json.dumps(result, indent=1, default=float)
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text))


def table(result: dict) -> str:
    """A small text table of the scalar metrics."""
    rows = [(k, v) for k, v in result["metrics"].items() if isinstance(v, (int, float))]
    width = max(len(k) for k, _ in rows)
    suffix = f"  ({result['extractor']} features)" if "extractor" in result else ""
    lines = [f"{result['num']} samples vs {result['num']} training images of "
             f"{result['dataset']} at {result['kimg']:g} kimg{suffix}"]
    lines += [f"{k:<{width}}  {v:.6g}" for k, v in rows]
    return "\n".join(lines)
