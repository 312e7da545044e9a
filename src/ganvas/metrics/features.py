"""Feature extractors: uint8 pictures -> one float64 feature vector per picture.

Every metric that compares distributions of pictures (FID, KID, precision/recall) works on
features, not pixels. An extractor is registered under a short stable name in EXTRACTORS
(metrics/extractors.py), so
a metric line in metrics.jsonl can say which features it was measured on; numbers measured
on different extractors are not comparable.

The standard ones, "inception-v3" (FID, KID, IS) and "vgg16" (precision/recall), live in
standard.py and need weight files (weights.py). "random-conv" is a fixed seeded random network
that needs no weights: it is for tests and offline smoke runs, and its numbers are NOT
comparable with any paper. Every factory in EXTRACTORS takes `weights` (a path or None).

An extractor gives "features" and may give more outputs (Inception gives "logits" for IS).

All extractors take uint8 NHWC input (the API edge convention) with 1, 3 or 4 channels:
grey is repeated to RGB and alpha is dropped, because the standard networks are RGB-only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GanvasError

# Maps uint8 (n, 3, H, W) RGB on the extractor's device to whatever the network expects.
Preprocess = Callable[[Tensor], Tensor]


class FeatureExtractor(ABC):
    """Turns pictures into features.

    Attributes:
        name: the registry name (stored next to every number measured with it).
        dim: length of one feature vector.
        input_size: side in pixels the network sees (pictures are resized to it), or None
            when the network takes any size.
    """

    name: str
    dim: int
    input_size: int | None
    outputs: tuple[str, ...] = ("features",)
    weights: dict | None = None     # which weight file (weights.ResolvedWeights.describe)

    @abstractmethod
    def embed(self, x: Tensor) -> Tensor:
        """uint8 (n, 3, H, W) RGB on the extractor's device -> float (n, dim)."""

    def embed_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """Like embed, but every output the extractor has, by name ("features" is embed's)."""
        return {"features": self.embed(x)}

    @abstractmethod
    def to(self, device: str | torch.device) -> FeatureExtractor:
        """Move the network to `device` (in place) and return self."""

    def features(self, images: np.ndarray | Tensor, batch: int = 64,
                 device: str | torch.device = "cpu") -> np.ndarray:
        """uint8 (N, H, W, C) with C in 1, 3, 4 -> float64 (N, dim), `batch` pictures at a
        time on `device`, without building autograd graphs."""
        return self.extract(images, batch, device)["features"]

    def extract(self, images: np.ndarray | Tensor, batch: int = 64,
                device: str | torch.device = "cpu") -> dict[str, np.ndarray]:
        """Every output for uint8 (N, H, W, C) pictures: name -> float64 (N, size)."""
        _check_images(images)
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.to(device)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in self.outputs}
        with torch.inference_mode():
            for i in range(0, len(images), batch):
                x = _to_rgb_nchw(_as_tensor(images[i:i + batch]).to(device))  # uint8 NCHW
                for name, value in self.embed_outputs(x).items():
                    parts[name].append(value.reshape(len(x), -1).cpu().double().numpy())
        out = {name: np.concatenate(p) if p else np.empty((0, self.dim))
               for name, p in parts.items()}
        if out["features"].shape[1] != self.dim:
            raise ValueError(f"extractor {self.name!r} gave {out['features'].shape[1]} "
                             f"features, declared dim={self.dim}")
        return out


def _check_images(images) -> None:
    """Fail early, with the fix, on the usual mistake: float NCHW instead of uint8 NHWC."""
    dtype_ok = images.dtype in (np.uint8, torch.uint8)
    if not dtype_ok or images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "feature extractors take uint8 (N, H, W, C) pictures with C in 1, 3, 4; got "
            f"{images.dtype} {tuple(images.shape)} (float NCHW in [-1, 1] goes through "
            "ganvas.imaging.to_uint8 first)")


def _as_tensor(chunk: np.ndarray | Tensor) -> Tensor:
    """A tensor view or copy of a batch; numpy batches are copied because archive readers
    may hand out read-only arrays, which torch.from_numpy warns about."""
    return chunk if isinstance(chunk, Tensor) else torch.from_numpy(np.array(chunk))


def _to_rgb_nchw(x: Tensor) -> Tensor:
    """uint8 (n, H, W, C), C in 1, 3, 4 -> uint8 (n, 3, H, W): grey repeated, alpha dropped."""
    x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x[:, :3].contiguous()


def resize_to_unit(size: int | None) -> Preprocess:
    """A preprocess: uint8 (n, 3, H, W) -> float32 (n, 3, size, size) in [-1, 1], bilinear.

    No antialiasing, so it runs the same on CPU, CUDA and MPS; `size=None` keeps the size.
    """

    def preprocess(x: Tensor) -> Tensor:
        y = x.float()
        if size is not None and tuple(y.shape[-2:]) != (size, size):
            y = F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False)
        return y / 127.5 - 1.0

    return preprocess


class ModuleExtractor(FeatureExtractor):
    """Any torch module as an extractor: features = module(preprocess(x)).flatten(1)."""

    def __init__(self, name: str, module: nn.Module, dim: int, input_size: int | None,
                 preprocess: Preprocess | None = None):
        self.name = name
        self.dim = dim
        self.input_size = input_size
        self.module = module.eval()       # eval: batch-norm statistics and dropout frozen
        self.preprocess = preprocess or resize_to_unit(input_size)

    def to(self, device: str | torch.device) -> ModuleExtractor:
        self.module.to(device)
        return self

    def embed(self, x: Tensor) -> Tensor:
        return self.module(self.preprocess(x)).flatten(1)


def extractor_from_module(name: str, module: nn.Module, dim: int, input_size: int | None,
                          preprocess: Preprocess | None = None) -> FeatureExtractor:
    """Wrap a torch module (e.g. a classifier cut before its last layer) as an extractor.

    Args:
        name: stable name to report the numbers under.
        module: maps preprocess(x) to (n, dim) or (n, dim, 1, 1); put in eval mode, and moved
            in place to the device `features` is asked to run on.
        dim: number of features the module gives per picture.
        input_size: side the pictures are resized to (None: any size).
        preprocess: uint8 (n, 3, H, W) RGB -> module input; default: bilinear resize to
            input_size and scale to float [-1, 1]. Networks with their own resizing (such as
            torch-fidelity's Inception, which takes uint8 NCHW) pass `lambda x: x`.
    """
    return ModuleExtractor(name, module, dim, input_size, preprocess)




class _RandomConvNet(nn.Module):
    """Four 3x3 convolutions with ReLU, average pooling between them, and a global average:
    float (n, 3, 64, 64) in [-1, 1] -> float (n, 64).

    The weights are buffers drawn from a private generator, so building the network never
    touches torch's global RNG (a metric computed mid-training must not change the training)
    and the same seed gives the same network on any machine.
    """

    WIDTHS = (3, 16, 32, 64, 64)

    def __init__(self, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        for i, (cin, cout) in enumerate(zip(self.WIDTHS[:-1], self.WIDTHS[1:])):
            # He initialisation keeps activations at a similar scale through the ReLUs.
            std = math.sqrt(2.0 / (cin * 9))
            self.register_buffer(f"w{i}", torch.randn(cout, cin, 3, 3, generator=gen) * std)
            self.register_buffer(f"b{i}", torch.randn(cout, generator=gen) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.WIDTHS) - 1
        for i in range(n):
            x = F.relu(F.conv2d(x, getattr(self, f"w{i}"), getattr(self, f"b{i}"), padding=1))
            if i < n - 1:
                x = F.avg_pool2d(x, 2)    # 64 -> 32 -> 16 -> 8
        return x.mean(dim=(2, 3))


def random_conv(weights: str | None = None, seed: int = 0) -> FeatureExtractor:
    """A fixed random conv net (64 features on 64x64 pictures) that needs no weights.

    For tests and offline smoke use only: its numbers are NOT comparable with published
    FID/KID/precision/recall, which are all measured on Inception-v3 features.
    """
    if weights:
        raise GanvasError("the random-conv extractor takes no weight file")
    return extractor_from_module("random-conv", _RandomConvNet(seed), dim=64, input_size=64)

