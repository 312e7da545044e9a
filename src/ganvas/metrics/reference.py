"""A disk cache of the real images' features, so a second evaluation skips the real pass.

The key is everything the features depend on: the dataset archive's content hash, the
resolution and the subset of images (count and seed), the extractor and the sha256 of its
weights. Entries are .npz files in `<cache>/reference/`, written atomically; a damaged entry
is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..durable import atomic_save
from ..paths import cache_dir

FORMAT = 1      # bump when the way features are computed changes


def reference_key(**parts) -> str:
    """A stable hex key of the given JSON-able parts."""
    text = json.dumps({"format": FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_outputs(key: str, compute: Callable[[], dict[str, np.ndarray]]
                   ) -> tuple[dict[str, np.ndarray], bool]:
    """The real images' extractor outputs under `key`, computed once -> (outputs, was_cached).

    Outputs are kept as float32 (extractors compute in float32, so nothing is lost) and
    returned as float64 like FeatureExtractor.extract.
    """
    path = cache_path(key)
    if path.is_file():
        try:
            with np.load(path) as f:
                return {k: f[k].astype(np.float64) for k in f.files}, True
        except (OSError, ValueError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)       # damaged: compute it again
    outputs = compute()

    def save(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: v.astype(np.float32) for k, v in outputs.items()})

    atomic_save(path, save)
    return outputs, False


def cached_values(key: str, compute: Callable[[], dict[str, float]]
                  ) -> tuple[dict[str, float], bool]:
    """Scalar results computed once from the real images (the real-vs-real references of
    `ganvas eval`) under `key`, as JSON (floats kept exactly) -> (values, was_cached); a
    damaged entry is computed again."""
    path = cache_dir("reference") / f"{key}.json"
    if path.is_file():
        try:
            values = json.loads(path.read_text())
            if isinstance(values, dict):
                return values, True
        except (OSError, ValueError):
            pass
        path.unlink(missing_ok=True)
    values = compute()
    text = json.dumps(values)
    atomic_save(path, lambda tmp: Path(tmp).write_text(text))
    return values, False


def cache_path(key: str) -> Path:
    return cache_dir("reference") / f"{key}.npz"
