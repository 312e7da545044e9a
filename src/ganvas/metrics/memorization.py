"""Does the model copy its training images? Nearest training images of generated samples.

Every sample is matched with its nearest training images in two spaces:

- features: Euclidean distance between unit-length feature vectors of an extractor, i.e.
  sqrt(2 * cosine distance), in [0, 2] (unit length makes it blind to the overall feature
  scale, which differs between extractors);
- pixels: root-mean-square difference of the pixel values (0-255 units) after area
  downsampling to at most PIXEL_SIZE x PIXEL_SIZE (small shifts of a blurred copy hardly
  matter at that size, and it keeps the search cheap); RGBA is composited on white first.

Score (per space). The threshold t is the QUANTILE (5%) quantile of the leave-one-out
nearest-neighbour distances among the training images: for each training image, the distance
to the nearest *other* training image. The score is the share of samples whose nearest
training image is closer than t. A fresh image from the training distribution is, to the
training set, just another training image, so new images score about QUANTILE (0.05); a model
that returns its training images scores 1.

Near copies (per space): the number of samples closer to a training image than the closest
pair of distinct training images (the smallest positive leave-one-out distance over the
calibration images). New images land there with probability about 1 / (calibration images
+ 1), so even a handful is evidence that some samples are copies, when a model copies too few
of its samples to move the score (and samples far from everything pull the score below 5%).

Exact duplicates: byte-identical training images (and, with `mirror`, mirror images of each
other) are kept once; otherwise every duplicate would sit at distance 0 from its twin and pull
the threshold to 0. Distances of 0 that survive (different images that coincide after
downsampling or in feature space) are left out of the threshold too.

Mirror: a model trained with random x-flips (`--mirror`) may copy a training image mirrored,
so then each training image is compared in both orientations and the closer one counts.

Memory: distances are computed in blocks of at most BLOCK_ELEMS float32 values; the
threshold is estimated from at most CALIBRATION training images (each against all of them),
so the cost is about (num + CALIBRATION) x train images x dimension. The training images'
vectors are held in memory: about 12 KB each in pixel space at 32x32 RGB (twice that with
mirror), so for very large datasets pass `train_limit`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.dataset import open_training_images, recorded_dataset, subset_indices
from ..device import pick_device
from ..errors import GanvasError
from ..durable import atomic_write_all, removed_on_failure
from ..imaging import make_grid, png_bytes, to_uint8
from ..outputs import check_out_folder
from .features import FeatureExtractor

SUBSET_SEED = 0          # fixed random subsets (train_limit, calibration), as `ganvas eval`
QUANTILE = 0.05          # threshold = this quantile of train-train nearest-neighbour distances
PIXEL_SIZE = 32          # pixel space compares images downsampled to at most this side
MIN_TRAIN = 10           # fewer distinct training images give no usable threshold
CALIBRATION = 2000       # training images whose nearest other training image sets the threshold
GRID_ROWS = 16           # rows of a comparison grid: the most suspicious samples
TOP = 10                 # most suspicious samples listed in the result, per space
BLOCK_ELEMS = 1 << 22    # float32 values in one block of distances (16 MB)
EXTRA = 8                # candidates re-ranked with exact float64 distances beyond k
PAD, SEP = 1, 4          # grid: white pixels between tiles, grey ones after each sample
SEP_GREY = 128
CHUNK = 256              # seeds generated / images converted at a time


def memorization(model, num: int, extractor: FeatureExtractor, out_dir,
                 neighbours: int = 3, train_limit: int | None = None,
                 mirror: bool | None = None, device: str | torch.device | None = "auto"
                 ) -> dict:
    """Compare `num` samples (seeds 0..num-1) of a loaded ganvas Model with its training
    images, in the extractor's feature space and in pixel space.

    train_limit: use a fixed random subset of that many training images (None: all).
    mirror: also match x-flipped training images; None: as the model was trained (read from
        the run's config.json, False for an exported model).
    device: where the feature passes run (ganvas.device.pick_device; auto: the GPU if any).
    Writes out_dir/memorization-{features,pixels}.png (each row: a sample, then its
    `neighbours` nearest training images, most suspicious rows first) and
    out_dir/memorization.json. Returns the JSON's content (see `table` for a summary).
    """
    device = pick_device(device)                 # a device error before any work
    check_out_folder(out_dir)                    # and one about the folder
    if num < 2:
        raise GanvasError(f"the memorization check needs at least 2 samples, got {num}")
    if neighbours < 1:
        raise GanvasError(f"neighbours must be at least 1, got {neighbours}")
    mirror = trained_with_mirror(model) if mirror is None else mirror
    train, index, sources = training_images(model, train_limit)
    loaded = len(train)
    keep = distinct(train, mirror)
    train, index = train[keep], index[keep]
    if len(train) < max(MIN_TRAIN, neighbours + 1):
        raise GanvasError(f"the memorization check needs at least "
                          f"{max(MIN_TRAIN, neighbours + 1)} distinct training images, "
                          f"got {len(train)}")
    samples = np.concatenate([model.generate(range(i, min(i + CHUNK, num)))
                              for i in range(0, num, CHUNK)])          # uint8 (num, H, W, C)
    out_dir = Path(out_dir)
    result = {"model": str(model.path), "kimg": model.kimg,
              "dataset": model.info["dataset"]["name"], "num": num,
              "train_images": len(train), "train_duplicates": loaded - len(train),
              "mirror": mirror, "quantile": QUANTILE, "neighbours": neighbours,
              "extractor": extractor.name, "spaces": {}, "files": {}}
    spaces = {"features": lambda x: feature_vectors(extractor, x, device),
              "pixels": pixel_vectors}
    grids = {}
    for space, embed in spaces.items():
        s = _space(embed, samples, train, index, sources, neighbours, mirror)
        grids[out_dir / f"memorization-{space}.png"] = comparison_grid(
            samples, train, s.pop("_idx"), s.pop("_mirrored"), s.pop("_order"), neighbours)
        result["spaces"][space] = s
        result["files"][f"{space}_grid"] = str(out_dir / f"memorization-{space}.png")
    result["files"]["json"] = str(out_dir / "memorization.json")
    result["verdict"] = verdict(result)
    text = json.dumps(result, indent=1)
    scale = max(1, 64 // samples.shape[1])
    # The grids and the JSON appear together or not at all (a full disk half-way).
    with removed_on_failure(out_dir):
        atomic_write_all({**{path: png_bytes(grid, scale) for path, grid in grids.items()},
                          out_dir / "memorization.json": text.encode()})
    return result


def _space(embed, samples, train, index, sources, k: int, mirror: bool) -> dict:
    """Nearest neighbours, threshold and score in one space (see the module docstring)."""
    gallery = embed(train)
    flipped = embed(train[:, :, ::-1]) if mirror else None
    dist, idx, mirrored = nearest(embed(samples), gallery, k, flipped)
    calib = np.random.default_rng(SUBSET_SEED).permutation(len(train))[:CALIBRATION]
    train_nn = nearest(gallery[calib], gallery, 1, flipped, skip=calib)[0][:, 0]
    score, threshold = copy_score(dist[:, 0], train_nn)
    below = float(train_nn[train_nn > 0].min())
    order = np.argsort(dist[:, 0], kind="stable")               # most suspicious first
    closest = [{"seed": int(i), "train_index": int(index[idx[i, 0]]),
                "distance": float(dist[i, 0]), "mirrored": bool(mirrored[i, 0]),
                "source": sources[index[idx[i, 0]]]} for i in order[:TOP]]
    return {"score": score, "threshold": threshold,
            "near_copies": int((dist[:, 0] < below).sum()), "near_copy_threshold": below,
            "near_copies_expected": len(dist) / (len(calib) + 1),
            "median_sample_nn": float(np.median(dist[:, 0])),
            "median_train_nn": float(np.median(train_nn)), "closest": closest,
            "_idx": idx, "_mirrored": mirrored, "_order": order}


def copy_score(sample_nn: np.ndarray, train_nn: np.ndarray,
               quantile: float = QUANTILE) -> tuple[float, float]:
    """(score, threshold): threshold = `quantile` of the positive leave-one-out train-train
    nearest-neighbour distances (n_train,); score = share of samples whose nearest-training
    distance (num,) is strictly below it (about `quantile` for new images, 1 for copies)."""
    positive = train_nn[train_nn > 0]
    if len(positive) == 0:
        raise GanvasError("all training images coincide: no threshold for the check")
    threshold = float(np.quantile(positive, quantile))
    return float(np.mean(sample_nn < threshold)), threshold


def training_images(model, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """The model's training images at its shape: uint8 (M, H, W, C), their archive
    indices (M,) int64, and every archive image's source name (list of str or None, indexed
    by archive index). `limit`: a fixed random subset (seed SUBSET_SEED) of that many."""
    dataset, digest = recorded_dataset(model.info, model.path)
    archive, bank = open_training_images(dataset, model.resolution, model.channels,
                                         bool(model.num_classes), expected_hash=digest)
    idx = torch.arange(len(bank))
    if limit is not None:
        if limit < 1:
            raise GanvasError(f"train_limit must be at least 1, got {limit}")
        idx = subset_indices(len(bank), limit, SUBSET_SEED)
    if model.resolution == archive.resolution:
        images = np.ascontiguousarray(archive.images[idx.numpy()])
    else:
        images = np.concatenate([to_uint8(bank.images_at(idx[i:i + CHUNK]))
                                 for i in range(0, len(idx), CHUNK)])
    sources = [e.get("source") for e in archive.meta.get("images", [])] or [None] * len(bank)
    return images, idx.numpy(), sources


def trained_with_mirror(model) -> bool:
    """Whether the model's run trained with random x-flips: read from the run's config.json
    when the model is a snapshot inside a run directory (run/checkpoints/kimg-*/), else
    False (exported models do not record it)."""
    config = model.path.parent.parent / "config.json"
    if model.path.parent.name != "checkpoints" or not config.is_file():
        return False
    return bool(json.loads(config.read_text()).get("train", {}).get("mirror", False))


def distinct(images: np.ndarray, mirror: bool = False) -> np.ndarray:
    """Indices (ascending) of the first of every set of byte-identical uint8 (N, H, W, C)
    images; with `mirror`, an image and its mirror image count as identical."""
    seen, keep = set(), []
    for i, img in enumerate(images):
        key = hashlib.blake2b(img.tobytes(), digest_size=16).digest()
        if mirror:
            flip = hashlib.blake2b(img[:, ::-1].tobytes(), digest_size=16).digest()
            key = min(key, flip)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def on_white(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 4) composited on white -> uint8 (N, H, W, 3); other channel counts
    are returned as they are."""
    if images.shape[-1] != 4:
        return images
    alpha = images[..., 3:].astype(np.float32) / 255
    rgb = images[..., :3] * alpha + 255 * (1 - alpha)
    return np.round(rgb).astype(np.uint8)


def feature_vectors(extractor: FeatureExtractor, images: np.ndarray,
                    device: str | torch.device | None = "auto") -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 (N, dim) unit-length features (zero vectors stay 0),
    computed on `device` (pick_device)."""
    f = extractor.features(np.ascontiguousarray(on_white(images)), device=pick_device(device))
    f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    return f.astype(np.float32)


def pixel_vectors(images: np.ndarray, size: int = PIXEL_SIZE) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 (N, C*h*w), area-downsampled to a short side of at most
    `size` (the aspect kept: h x w = size x 2 size for a 2:1 model) and divided by
    sqrt(C*h*w) so that Euclidean distance = RMS pixel difference in 0-255."""
    images = on_white(images)
    out = []
    for i in range(0, len(images), CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(images[i:i + CHUNK])).permute(0, 3, 1, 2)
        x = x.float()
        h, w = x.shape[-2:]
        if min(h, w) > size:
            x = F.adaptive_avg_pool2d(x, (h * size // min(h, w), w * size // min(h, w)))
        out.append(x.flatten(1).numpy())
    v = np.concatenate(out)
    return v / np.float32(math.sqrt(v.shape[1]))


def nearest(queries: np.ndarray, gallery: np.ndarray, k: int,
            flipped: np.ndarray | None = None,
            skip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k nearest gallery rows of every query row by Euclidean distance.

    queries (n, D), gallery (m, D) float32; flipped (m, D): the gallery's mirror images (a
    gallery row matches in its closer orientation); skip (n,): a gallery index each query may
    not match (itself, for leave-one-out). Candidates come from float32 distances in blocks
    of BLOCK_ELEMS; the best k + EXTRA are re-ranked with exact float64 differences, so a
    copy is at distance 0 exactly. Returns distances float64 (n, k) ascending, gallery
    indices int64 (n, k), and whether the mirror image matched, bool (n, k).
    """
    m, d = gallery.shape
    k = min(k, m - (skip is not None))
    cand = min(k + EXTRA, m - (skip is not None))
    g = torch.from_numpy(gallery)
    gf = None if flipped is None else torch.from_numpy(flipped)
    norms = (g * g).sum(1)
    fnorms = None if gf is None else (gf * gf).sum(1)
    rows = max(1, BLOCK_ELEMS // max(m, cand * d))
    dist = np.empty((len(queries), k))
    idx = np.empty((len(queries), k), np.int64)
    mirrored = np.zeros((len(queries), k), bool)
    for i in range(0, len(queries), rows):
        q = torch.from_numpy(queries[i:i + rows])
        sq = (q * q).sum(1, keepdim=True) - 2 * q @ g.T + norms          # (b, m)
        flip = torch.zeros_like(sq, dtype=torch.bool)
        if gf is not None:
            sqf = (q * q).sum(1, keepdim=True) - 2 * q @ gf.T + fnorms
            flip = sqf < sq
            sq = torch.minimum(sq, sqf)
        if skip is not None:
            sq[torch.arange(len(q)), torch.from_numpy(skip[i:i + rows])] = math.inf
        ci = sq.topk(cand, dim=1, largest=False).indices                  # (b, cand)
        cf = flip.gather(1, ci)
        rows_g = g[ci] if gf is None else torch.where(cf[..., None], gf[ci], g[ci])
        exact = (rows_g.double() - q.double()[:, None]).square().sum(2).sqrt()
        best = exact.argsort(dim=1, stable=True)[:, :k]
        dist[i:i + rows] = exact.gather(1, best).numpy()
        idx[i:i + rows] = ci.gather(1, best).numpy()
        mirrored[i:i + rows] = cf.gather(1, best).numpy()
    return dist, idx, mirrored


def comparison_grid(samples: np.ndarray, train: np.ndarray, idx: np.ndarray,
                    mirrored: np.ndarray, order: np.ndarray, neighbours: int,
                    rows: int = GRID_ROWS) -> np.ndarray:
    """One uint8 image: for the first `rows` samples in `order`, the sample (uint8 H, W, C),
    a grey SEP-pixel bar, then its `neighbours` nearest training images (as matched: flipped
    when the mirror image was closer), PAD white pixels between tiles.
    Shape: (R*(H+PAD)-PAD, (1+k)*W + (k-1)*PAD + SEP, C) with R = min(rows, num)."""
    pick = order[:rows]
    k = min(neighbours, idx.shape[1])
    nb = train[idx[pick, :k]]                                            # (R, k, H, W, C)
    nb = np.where(mirrored[pick, :k, None, None, None], nb[:, :, :, ::-1], nb)
    left = make_grid(samples[pick], cols=1, pad=PAD)
    right = make_grid(nb.reshape(-1, *nb.shape[2:]), cols=k, pad=PAD)
    bar = np.full((left.shape[0], SEP, left.shape[2]), SEP_GREY, np.uint8)
    return np.concatenate([left, bar, right], axis=1)


def verdict(result: dict) -> str:
    """A plain-language verdict: "looks like copying" when half the samples or more score
    in some space; "some samples may be copies" when a space has several times the expected
    near copies (and at least 3: Poisson odds below about 1.5%) or a score 3 binomial
    standard deviations (and 2x) above QUANTILE; else "no sign of copying"."""
    space, s = max(result["spaces"].items(), key=lambda kv: kv[1]["score"])
    near_space, near = max(result["spaces"].items(), key=lambda kv: kv[1]["near_copies"])
    q, n = result["quantile"], result["num"]
    share = (f"{s['score']:.0%} of samples are closer to a training image than "
             f"{1 - q:.0%} of training images are to any other ({space}); new images from "
             f"the same distribution give about {q:.0%}")
    look = "look at the top rows of the grids"
    if s["score"] >= 0.5:
        return f"looks like copying: {share}"
    if near["near_copies"] >= max(3, 4 * near["near_copies_expected"]):
        return (f"some samples may be copies: {near['near_copies']} of {n} are closer to a "
                f"training image than any two training images are to each other "
                f"({near_space}); {look}")
    if s["score"] >= max(2 * q, q + 3 * math.sqrt(q * (1 - q) / n)):
        return f"some samples may be copies: {share}; {look}"
    return f"no sign of copying: {share}"


def table(result: dict) -> str:
    """A one-screen text summary: scores, thresholds, median distances, closest samples,
    files and the verdict."""
    mirror = ", mirrored too" if result["mirror"] else ""
    lines = [f"memorization: {result['num']} samples vs {result['train_images']} distinct "
             f"training images of {result['dataset']}{mirror} at {result['kimg']:g} kimg",
             f"{'space':<10} {'score':>6} {'threshold':>10} {'near copies':>11} "
             f"{'median NN: samples':>19} {'training':>9}"]
    units = {"features": f"({result['extractor']}, sqrt(2 cosine distance))",
             "pixels": f"(RMS difference 0-255 at <= {PIXEL_SIZE}px)"}
    for space, s in result["spaces"].items():
        lines.append(f"{space:<10} {s['score']:>6.1%} {s['threshold']:>10.4g} "
                     f"{s['near_copies']:>11} {s['median_sample_nn']:>19.4g} "
                     f"{s['median_train_nn']:>9.4g}  {units.get(space, '')}")
    for space, s in result["spaces"].items():
        top = ", ".join(f"seed {c['seed']}->#{c['train_index']}{'(m)' if c['mirrored'] else ''}"
                        f" {c['distance']:.3g}" for c in s["closest"][:4])
        lines.append(f"closest ({space}): {top}")
    lines += [f"grids: {result['files'].get('features_grid')}, "
              f"{result['files'].get('pixels_grid')}", f"verdict: {result['verdict']}"]
    return "\n".join(lines)
