"""Measuring samples against real images: `measure` (any two sets) and `evaluate` (a model).

Metrics are registered by name with what they need: pixels (SWD), features or class logits
of a feature extractor. Each feature metric has the extractor the papers use (Inception-v3
for FID/KID/IS, VGG-16 for precision/recall, as torch-fidelity); `extractor=` replaces it
for all of them (e.g. "random-conv" offline). The result names the extractor and weight file
behind every number, because numbers on other features are not comparable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.dataset import ImageBank, open_training_images, recorded_dataset, subset_indices
from ..device import pick_device
from ..errors import GanvasError
from ..durable import atomic_save
from ..imaging import to_uint8
from ..limits import MAX_REALS, check_generated
from ..registry import Registry
from .distances import (frechet_distance, inception_score, kernel_inception_distance,
                        precision_recall, statistics)
from .extractors import EXTRACTORS
from .features import FeatureExtractor
from .reference import cached_outputs, cached_values, reference_key
from .swd import swd

REAL_SEED = 0                 # which training images are compared above MAX_REALS: a subset
FLOOR_SEED = 1                # which reals form the two halves of the real-vs-real reference
FIDELITY_SEED = 2020          # torch-fidelity's seed for KID subsets and the IS shuffle
# `ganvas eval`'s generated images by default (README: how samples are counted): 5,000 on a GPU,
# as FastGAN and DiffAugment report; 1,000 where the features are computed on a CPU, which
# stays practical there: on a 2-core CPU SWD took 51 s for 300 reals vs 1,000 generated and
# 246 s vs 5,000 (64 px) before issue 30's faster sort (about 5x less since:
# benchmarks/swd_speed.py), and Inception-v3 embeds about 12 images/s (benchmarks/README.md).
GPU_EVAL_NUM = 5_000
CPU_EVAL_NUM = 1_000


def default_num(device: torch.device) -> int:
    """The generated count `ganvas eval` uses when none is given, for the feature device."""
    return CPU_EVAL_NUM if device.type == "cpu" else GPU_EVAL_NUM

# Below this many reals FID, IS and precision/recall are dominated by small-sample bias: FID's
# bias grows as the sample shrinks (Chong & Forsyth 2020, "Effectively Unbiased FID and
# Inception Score and where to find them"), and with a few hundred reals the real side's
# 2048x2048 covariance is rank-deficient; KID is unbiased at any size (Binkowski et al. 2018,
# "Demystifying MMD GANs"), which is why the few-shot papers (ADA's and DiffAugment's 100-shot
# and AnimalFace sets, FastGAN) report KID.
BIAS_REALS = 2_000
BIASED = ("fid", "is", "precision", "recall")    # result keys that small samples bias


def fid(reals, fakes) -> dict:
    return {"fid": frechet_distance(*statistics(reals), *statistics(fakes))}


def kid(reals, fakes) -> dict:
    # fakes first: torch-fidelity draws the generated subset before the real one
    # torch-fidelity's subset size (1000) when both sets have that many, else the smaller set
    mean, std = kernel_inception_distance(
        fakes, reals, subset_size=min(1000, len(reals), len(fakes)), seed=FIDELITY_SEED)
    return {"kid": mean, "kid_std": std}


def inception_score_metric(reals, fakes) -> dict:
    mean, std = inception_score(fakes, splits=min(10, len(fakes)), probs=False,
                                seed=FIDELITY_SEED)
    return {"is": mean, "is_std": std}


def pr(reals, fakes) -> dict:
    precision, recall = precision_recall(reals, fakes, k=3)
    return {"precision": precision, "recall": recall}


def swd_metric(reals, fakes) -> dict:
    result = swd(reals, fakes)
    return {"swd": result["mean"], "swd_levels": result["levels"]}


@dataclass(frozen=True)
class Metric:
    """A registered metric.

    compute: (reals, fakes) -> {key: value}, on what `needs` names.
    needs: "pixels" (uint8 NHWC), "features" or "logits" (outputs of a feature extractor).
    extractor: the standard extractor for features/logits, None for pixels.
    better: key -> +1 if higher is better, -1 if lower is (for choosing the best snapshot).
    """

    compute: Callable[..., dict]
    needs: str
    extractor: str | None
    better: dict[str, int]


METRICS: Registry[Metric] = Registry("metric")
METRICS.register("fid")(Metric(fid, "features", "inception-v3", {"fid": -1}))
METRICS.register("kid")(Metric(kid, "features", "inception-v3", {"kid": -1}))
METRICS.register("is")(Metric(inception_score_metric, "logits", "inception-v3", {"is": 1}))
METRICS.register("pr")(Metric(pr, "features", "vgg16", {"precision": 1, "recall": 1}))
METRICS.register("swd")(Metric(swd_metric, "pixels", None, {"swd": -1}))
METRIC_KEYS = [k for name in METRICS.names() for k in METRICS.get(name).better]  # headline


def parse_metrics(text: str) -> list[str]:
    """'fid,swd' -> ['fid', 'swd'], each checked against the registry."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise GanvasError(f"no metrics given; choose from {', '.join(METRICS.names())}")
    for name in names:
        METRICS.get(name)
    return names


def parse_feature_weights(text: str | None) -> dict[str | None, str]:
    """'PATH' -> {None: PATH}; 'inception-v3=A,vgg16=B' -> {'inception-v3': A, 'vgg16': B}."""
    if not text:
        return {}
    pairs = {}
    for part in text.split(","):
        name, sep, path = part.partition("=")
        if sep and name.strip() in EXTRACTORS.names():
            pairs[name.strip()] = path.strip()
        else:
            pairs[None] = part.strip()
    return pairs


def as_feature_weights(weights: str | dict | None) -> dict[str | None, str]:
    """Weight files of the feature networks as build_extractors takes them, from the CLI's
    "[NAME=]PATH,..." (parse_feature_weights) or a dict {name: path} (name None: the one
    network in use); None -> {} (each network finds its own: weights.resolve_weights)."""
    if weights is None or isinstance(weights, str):
        return parse_feature_weights(weights)
    if not isinstance(weights, dict):
        raise GanvasError(f"feature_weights: give '[NAME=]PATH,...' or {{name: path}}, not "
                          f"{type(weights).__name__}")
    return {name: os.fspath(path) for name, path in weights.items()}


def extractor_plan(metrics: list[str], extractor: str | None) -> dict[str, str]:
    """metric -> extractor name for the metrics that need one."""
    plan = {}
    for name in metrics:
        m = METRICS.get(name)
        if m.needs != "pixels":
            plan[name] = extractor or m.extractor
            EXTRACTORS.get(plan[name])
    return plan


def build_extractors(plan: dict[str, str], feature_weights: dict[str | None, str]
                     ) -> dict[str, FeatureExtractor]:
    """Each extractor the plan names, with its weights; checks that IS gets logits."""
    names = sorted(set(plan.values()))
    if None in feature_weights and len(names) > 1:
        raise GanvasError(f"--feature-weights: these metrics use {', '.join(names)}; say which "
                          f"file is which: --feature-weights {names[0]}=PATH,...")
    unknown = set(feature_weights) - {None} - set(names)
    if unknown:
        raise GanvasError(f"--feature-weights names {', '.join(sorted(unknown))}, which no "
                          f"requested metric uses ({', '.join(names) or 'none'})")
    built = {n: build_extractor(n, feature_weights) for n in names}
    for metric, name in plan.items():
        needs = METRICS.get(metric).needs
        if needs not in ("features", *built[name].outputs):
            raise GanvasError(f"{metric} needs class logits; the {name} extractor has none "
                              f"(use inception-v3)")
    return built


def build_extractor(name: str, feature_weights: dict[str | None, str]) -> FeatureExtractor:
    """Extractor `name` with its weight file from feature_weights (by name, or the unnamed
    one), else from the environment / cache / download (weights.resolve_weights)."""
    return EXTRACTORS.get(name)(weights=feature_weights.get(name) or feature_weights.get(None))


def measure(metrics: list[str], reals: np.ndarray, fakes: np.ndarray,
            extractors: dict[str, FeatureExtractor], plan: dict[str, str],
            real_key: dict | None = None, device: str | torch.device | None = "auto",
            fake_outputs: dict[str, dict] | None = None,
            real_outputs: dict[str, dict] | None = None) -> dict:
    """Compare uint8 (N, H, W, C) fakes with reals on `metrics`.

    extractors/plan: from build_extractors/extractor_plan. real_key: what identifies `reals`
    (dataset hash, resolution, subset); when given, their extractor outputs are cached.
    device: where the feature passes run (ganvas.device.pick_device; auto: the GPU if any).
    fake_outputs: the fakes' extractor outputs (by extractor name) when they were computed
    elsewhere (by many processes); `fakes` may then be None unless a metric reads pixels.
    real_outputs: the reals' extractor outputs when already computed (`embed`).
    Returns {"metrics": {...}, "extractors": {metric: name}, "weights": {name: file info}}.
    """
    outputs = embed(reals, fakes, extractors, real_key, device, fake_outputs, real_outputs)
    result = {"metrics": {}, "extractors": dict(plan),
              "weights": {n: ex.weights for n, ex in extractors.items() if ex.weights},
              "reference_cached": {n: o[2] for n, o in outputs.items()}}
    for name in metrics:
        m = METRICS.get(name)
        if m.needs == "pixels":
            args = reals, fakes
        else:
            real_out, fake_out, _ = outputs[plan[name]]
            args = real_out.get(m.needs), fake_out[m.needs]
        result["metrics"].update(m.compute(*args))
    return result


def embed(reals: np.ndarray, fakes: np.ndarray | None, extractors: dict[str, FeatureExtractor],
          real_key: dict | None = None, device: str | torch.device | None = "auto",
          fake_outputs: dict[str, dict] | None = None,
          real_outputs: dict[str, dict] | None = None) -> dict[str, tuple[dict, dict, bool]]:
    """Each extractor's outputs: name -> (the reals', the fakes', whether the reals' came from
    the reference cache); the arguments as `measure` takes them."""
    device = pick_device(device)
    outputs = {}
    for name, ex in extractors.items():
        def real_pass(ex=ex):
            return ex.extract(reals, device=device)
        if real_outputs is not None:
            real_out, cached = real_outputs[name], False
        elif real_key is None:
            real_out, cached = real_pass(), False
        else:
            key = reference_key(**real_key, extractor=name, weights=(ex.weights or {}).get(
                "sha256"))
            real_out, cached = cached_outputs(key, real_pass)
        fake_out = (fake_outputs[name] if fake_outputs is not None
                    else ex.extract(fakes, device=device))
        outputs[name] = real_out, fake_out, cached
    return outputs


def real_subset(dataset: str, resolution: int, channels: int = 3,
                conditional: bool = False, *,
                expected_hash: str | None) -> tuple[np.ndarray, dict]:
    """The training images compared (all of them, up to MAX_REALS) as uint8 (N, H, W, C), and
    the key that identifies them for the reference cache; the dataset must still hash to
    `expected_hash` (open_training_images)."""
    archive, bank = open_training_images(dataset, resolution, channels, conditional,
                                         expected_hash=expected_hash)
    return real_subset_of(bank, archive.content_hash)


def real_subset_of(bank: ImageBank, content_hash: str,
                   limit: int | None = None) -> tuple[np.ndarray, dict]:
    """real_subset for an open ImageBank: every image, or a fixed random subset of `limit`
    when there are more (training uses the same images as `ganvas eval`, so both share the
    cached reference features). The key names the count, so another subset is another
    cache entry."""
    idx = subset_indices(len(bank), min(len(bank), limit or MAX_REALS), REAL_SEED)
    key = {"dataset": content_hash, "resolution": bank.resolution, "num": len(idx),
           "seed": REAL_SEED}
    return to_uint8(bank.images_at(idx)), key


def model_real_subset(model) -> tuple[np.ndarray, dict]:
    """real_subset of the data a loaded ganvas Model was trained on."""
    dataset, digest = recorded_dataset(model.info, model.path)
    return real_subset(dataset, model.resolution, model.channels, bool(model.num_classes),
                       expected_hash=digest)


def counts(generated: int, reals: int) -> str:
    """'5,000 generated vs 300 training images': the sample sizes behind a figure."""
    return f"{generated:,} generated vs {reals:,} training image{'s' * (reals != 1)}"


def bias_note(keys, reals: int) -> str | None:
    """One line when a figure among `keys` (result keys or metric names) is dominated by
    small-sample bias because there are fewer than BIAS_REALS reals; None otherwise."""
    biased = [k for k in BIASED if k in keys]
    if reals >= BIAS_REALS or not biased:
        return None
    return (f"note: with {reals:,} training images (under {BIAS_REALS:,}) "
            f"{', '.join(biased)} {'is' if len(biased) == 1 else 'are'} dominated by "
            f"small-sample bias; KID (unbiased) is the figure to compare, as in the few-shot "
            f"papers" + ("" if "kid" in keys else " (add kid to the metrics)"))


def evaluate(model, metrics: list[str], num: int | None = None, extractor: str | None = None,
             feature_weights: dict[str | None, str] | None = None,
             device: str | torch.device | None = "auto") -> dict:
    """Generate `num` images (seeds 0..num-1, at most MAX_GENERATED; None: default_num for
    the device) from a loaded ganvas Model and compare them with all its training images (up
    to MAX_REALS); feature passes on `device` (the model's pictures are made wherever the
    model is)."""
    device = pick_device(device)                 # a device error before any work
    num = check_generated(default_num(device) if num is None else num)   # before any work
    plan = extractor_plan(metrics, extractor)
    extractors = build_extractors(plan, feature_weights or {})   # weight errors come first
    reals, key = model_real_subset(model)
    fakes = model.generate(range(num))
    result = {"model": str(model.path), "kimg": model.kimg,
              "dataset": model.info["dataset"]["name"], "generated": num, "reals": len(reals)}
    outputs = embed(reals, fakes, extractors, key, device)
    result.update(measure(metrics, reals, fakes, extractors, plan, device=device,
                          fake_outputs={n: o[1] for n, o in outputs.items()},
                          real_outputs={n: o[0] for n, o in outputs.items()}))
    result["reference_cached"] = {n: o[2] for n, o in outputs.items()}
    result["better"] = {k: direction(k) for k in result["metrics"] if direction(k)}
    result["real_reference"] = real_reference(metrics, reals, num, outputs, plan, key,
                                              result["weights"])
    note = bias_note(result["metrics"], len(reals))
    if note:
        result["note"] = note
    return result


def metric_of(key: str) -> str | None:
    """The metric a headline result key belongs to ('precision' -> 'pr'), None for others
    (kid_std, swd_levels, ...)."""
    return next((n for n in METRICS.names() if key in METRICS.get(n).better), None)


def direction(key: str) -> str | None:
    """'lower is better' / 'higher is better' for a headline result key, None for others."""
    name = metric_of(key)
    if name is None:
        return None
    return "higher is better" if METRICS.get(name).better[key] > 0 else "lower is better"


def real_halves(reals: int, generated: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of the reals' indices for the real-vs-real reference, each of
    min(generated, reals // 2) images, drawn with FLOOR_SEED (the same halves every time)."""
    half = min(generated, reals // 2)
    perm = np.random.default_rng(FLOOR_SEED).permutation(reals)
    return np.sort(perm[:half]), np.sort(perm[half:2 * half])


def real_reference(metrics: list[str], reals: np.ndarray, generated: int,
                   outputs: dict[str, tuple[dict, dict, bool]], plan: dict[str, str],
                   real_key: dict | None, weights: dict) -> dict:
    """What the real images themselves score, to read each figure against (README: Measuring a
    model), by result key: {"value": float | None, "kind", "images": [counts], "cached"}.

    SWD, FID, KID, precision and recall: the same metric between two disjoint halves of the
    reals ("real vs real"), each as many as the generated images or half the reals when
    there are fewer (real_halves); what a model that draws new images from the training
    distribution would score at this sample size. IS: the IS of as many reals as the
    generated images (all of them when fewer; "real images"). Feature metrics reuse the
    reals' outputs (cached); every value is cached by the reals' key. value None: too few
    images (the reason in "why")."""
    n = len(reals)
    a, b = real_halves(n, generated)
    found = {}
    for name in metrics:
        m = METRICS.get(name)
        if m.needs == "logits":
            count = min(generated, n)
            kind, images = "real images", [count]
        else:
            kind, images = "real vs real", [len(a), len(a)]

        def compute(name=name, m=m, count=images[0]) -> dict[str, float]:
            if m.needs == "pixels":
                return m.compute(reals[a], reals[b])
            out = outputs[plan[name]][0][m.needs]
            if m.needs == "logits":
                return m.compute(None, out[np.sort(np.random.default_rng(FLOOR_SEED)
                                                   .permutation(n)[:count])])
            return m.compute(out[a], out[b])

        values, cached, why = {}, False, None
        if images[0] < 2:
            why = f"needs at least {2 * len(images)} training images, there are {n}"
        else:
            try:
                if real_key is None:
                    values = compute()
                else:
                    ex = plan.get(name)
                    key = reference_key(**real_key, reference=name, images=images,
                                        halves_seed=FLOOR_SEED, extractor=ex,
                                        weights=(weights.get(ex) or {}).get("sha256"))
                    values, cached = cached_values(key, compute)
            except (ValueError, GanvasError) as e:      # e.g. too few for k-NN balls
                why = str(e)
        for key in m.better:
            entry = {"value": values.get(key), "kind": kind, "images": images,
                     "cached": cached}
            if why:
                entry["why"] = why
            found[key] = entry
    return found


def reference_text(entry: dict | None) -> str:
    """'real vs real: 12.1' / 'real images: 5.3' / 'real vs real: not computed (...)'."""
    if not entry:
        return ""
    if entry.get("value") is None:
        return f"{entry['kind']}: not computed ({entry.get('why', 'too few images')})"
    return f"{entry['kind']}: {entry['value']:.4g}"


def reference_counts(result: dict) -> list[str]:
    """The lines that say what the real references compared."""
    lines, ref = [], result.get("real_reference") or {}
    pairs = {tuple(e["images"]) for e in ref.values() if e["kind"] == "real vs real"}
    singles = {e["images"][0] for e in ref.values() if e["kind"] == "real images"}
    for pair in sorted(pairs):
        lines.append(f"real vs real: two disjoint halves of the training images, "
                     f"{pair[0]:,} vs {pair[1]:,} (as many as the generated images, or half "
                     f"the training images when there are fewer)")
    for count in sorted(singles):
        lines.append(f"real images: IS of {count:,} training images (as many as the "
                     f"generated images, or all)")
    return lines


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """The result as pretty JSON, written atomically."""
    text = json.dumps(result, indent=1, default=float)
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text))


def label(key: str) -> str:
    """'swd' -> 'SWD' (the acronyms in capitals), other keys as they are."""
    return key.upper() if key in ("fid", "kid", "swd", "is") else key


def table(result: dict) -> str:
    """A small text table of the scalar metrics."""
    rows = [(k, v) for k, v in result["metrics"].items() if isinstance(v, (int, float))]
    width = max(len(k) for k, _ in rows)
    main = ", ".join(f"{label(k)} {v:.4g}" for k, v in rows if k in METRIC_KEYS)
    lines = [f"{main}: {counts(result['generated'], result['reals'])} of "
             f"{result['dataset']} at {result['kimg']:g} kimg"]
    ref = result.get("real_reference") or {}
    for k, v in rows:
        better = direction(k)
        if better:             # the figure, which way is better and what reals score
            extra = "; ".join(t for t in (better, reference_text(ref.get(k))) if t)
            lines.append(f"{label(k):<{width}}  {v:.6g}  ({extra})")
        else:
            lines.append(f"{k:<{width}}  {v:.6g}")
    lines += reference_counts(result)
    if result.get("note"):
        lines.append(result["note"])
    used = sorted(set(result["extractors"].values()))
    if used:
        lines.append("features: " + ", ".join(
            f"{m} on {e}" for m, e in result["extractors"].items()))
    unofficial = [n for n in used if not (result["weights"].get(n) or {}).get("official")]
    if unofficial:
        lines.append(f"note: {', '.join(unofficial)} is not the standard network with its "
                     "published weights, so these numbers are not comparable with papers")
    return "\n".join(lines)
