"""The feature extractors the papers use, with their published weights.

- "inception-v3": pool3 features (2048) and unbiased logits (1008) of the TF-ported Inception
  (inception.py) - FID, KID and IS as torch-fidelity, pytorch-fid and the StyleGAN papers.
- "vgg16": torchvision's ImageNet VGG-16 up to fc2 + ReLU (4096), after the same TF1 resize to
  224 and ImageNet normalisation - precision/recall as torch-fidelity computes it.

Both run in float32 with channels-last memory (faster on CPUs and GPUs) and no autograd.
"""

from __future__ import annotations

import torch
import torchvision
from torch import Tensor, nn

from .features import FeatureExtractor
from .inception import INPUT_SIZE, POOL_FEATURES, InceptionV3, tf1_resize
from .weights import load_into

VGG_SIZE = 224
VGG_FEATURES = 4096
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class NetworkExtractor(FeatureExtractor):
    """A network mapping uint8 (n, 3, H, W) to a tuple of outputs named `outputs`."""

    def __init__(self, name: str, net: nn.Module, dim: int, input_size: int,
                 outputs: tuple[str, ...], weights: dict):
        self.name, self.dim, self.input_size = name, dim, input_size
        self.net = net.eval().requires_grad_(False)
        self.outputs = outputs
        self.weights = weights

    def to(self, device: str | torch.device) -> NetworkExtractor:
        self.net.to(device, memory_format=torch.channels_last)
        return self

    def embed_outputs(self, x: Tensor) -> dict[str, Tensor]:
        return dict(zip(self.outputs, self.net(x)))

    def embed(self, x: Tensor) -> Tensor:
        return self.embed_outputs(x)["features"]


def inception_v3(weights: str | None = None) -> FeatureExtractor:
    """The FID Inception: outputs "features" (pool3, 2048) and "logits" (1008, no bias)."""
    net = InceptionV3()
    described = load_into(net, "inception-v3", weights)
    return NetworkExtractor("inception-v3", net.eval().fold_batchnorm(), POOL_FEATURES,
                            INPUT_SIZE, ("features", "logits"), described)


class VGG16Features(nn.Module):
    """uint8 (n, 3, H, W) -> (fc2 after ReLU (n, 4096),), torch-fidelity's "fc2_relu"."""

    def __init__(self):
        super().__init__()
        vgg = torchvision.models.vgg16(weights=None)
        self.features, self.avgpool, self.classifier = vgg.features, vgg.avgpool, vgg.classifier
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255,
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255,
                             persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor]:
        x = (tf1_resize(x.float(), VGG_SIZE) - self.mean) / self.std
        x = self.features(x.contiguous(memory_format=torch.channels_last))
        x = self.avgpool(x).flatten(1)
        return (torch.relu(self.classifier[:4](x)),)    # fc1, ReLU, dropout (off), fc2


def vgg16(weights: str | None = None) -> FeatureExtractor:
    """torch-fidelity's precision/recall features: VGG-16 fc2 after ReLU (4096)."""
    net = VGG16Features()
    described = load_into(net, "vgg16", weights)
    return NetworkExtractor("vgg16", net, VGG_FEATURES, VGG_SIZE, ("features",), described)
