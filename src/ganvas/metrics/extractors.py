"""EXTRACTORS: the feature extractors by their short stable names (what metrics.jsonl records):
"inception-v3" and "vgg16" (standard.py, the published networks) and "random-conv"
(features.py, weight-free, for tests and offline smoke runs)."""

from __future__ import annotations

from collections.abc import Callable

from ..registry import Registry
from .features import FeatureExtractor, random_conv
from .standard import inception_v3, vgg16

EXTRACTORS: Registry[Callable[..., FeatureExtractor]] = Registry("feature extractor")
EXTRACTORS.register("random-conv")(random_conv)
EXTRACTORS.register("inception-v3")(inception_v3)
EXTRACTORS.register("vgg16")(vgg16)
