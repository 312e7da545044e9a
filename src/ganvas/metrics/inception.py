"""Inception-v3 as the FID papers run it: the 2015-12-05 TensorFlow graph, ported to PyTorch.

FID, KID and IS are only comparable with published numbers when they are measured on this
network with these exact steps: uint8 RGB -> TF1.x bilinear resize to 299x299 (no half-pixel
centres) -> (x - 128) / 128 -> the TF graph (whose average pools ignore padding and whose last
block max-pools) -> 2048 pool3 features; IS uses the 1008 logits without the fc bias.

Parameter names follow the state dict that torch-fidelity and pytorch-fid load
(`Mixed_5b.branch5x5_1.conv.weight`, `... .bn.running_var`, `fc.weight`), so the same weight file
serves both. For speed, each conv's batch norm is folded into the conv once the weights are in
(`fold_batchnorm`), which changes features by float32 rounding only (about 1e-6 relative).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

INPUT_SIZE = 299
POOL_FEATURES = 2048
NUM_LOGITS = 1008     # the TF graph's 1000 ImageNet classes + 8 unused


class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3, as TF) -> ReLU; after folding: conv -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel, stride: int = 1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _pool(kind: str, x: Tensor) -> Tensor:
    """The pooling that starts a branch: TF's 3x3 average pool counts only real pixels."""
    if kind == "avg":
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    if kind == "max":
        return F.max_pool2d(x, 3, stride=1, padding=1)
    if kind == "max_s2":
        return F.max_pool2d(x, 3, stride=2)
    return x


class Mixed(nn.Module):
    """One Inception block: parallel branches, concatenated on channels.

    A branch is (pool, chain, split): an optional pooling of the block input, a chain of convs
    applied in turn, then optionally several convs applied side by side to the chain's output
    and concatenated (the 1x3 / 3x1 pairs of the last blocks).
    """

    def __init__(self, convs: dict[str, BasicConv2d],
                 branches: list[tuple[str, list[str], list[str]]]):
        super().__init__()
        for name, conv in convs.items():
            self.add_module(name, conv)
        self.branches = branches

    def forward(self, x: Tensor) -> Tensor:
        outputs = []
        for pool, chain, split in self.branches:
            y = _pool(pool, x)
            for name in chain:
                y = getattr(self, name)(y)
            outputs += [getattr(self, name)(y) for name in split] if split else [y]
        return torch.cat(outputs, 1)


def _mixed_a(cin: int, pool_features: int) -> Mixed:
    c = BasicConv2d
    return Mixed({
        "branch1x1": c(cin, 64, 1),
        "branch5x5_1": c(cin, 48, 1), "branch5x5_2": c(48, 64, 5, padding=2),
        "branch3x3dbl_1": c(cin, 64, 1), "branch3x3dbl_2": c(64, 96, 3, padding=1),
        "branch3x3dbl_3": c(96, 96, 3, padding=1),
        "branch_pool": c(cin, pool_features, 1),
    }, [("", ["branch1x1"], []), ("", ["branch5x5_1", "branch5x5_2"], []),
        ("", ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"], []),
        ("avg", ["branch_pool"], [])])


def _mixed_b(cin: int) -> Mixed:
    c = BasicConv2d
    return Mixed({
        "branch3x3": c(cin, 384, 3, stride=2),
        "branch3x3dbl_1": c(cin, 64, 1), "branch3x3dbl_2": c(64, 96, 3, padding=1),
        "branch3x3dbl_3": c(96, 96, 3, stride=2),
    }, [("", ["branch3x3"], []),
        ("", ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"], []),
        ("max_s2", [], [])])


def _mixed_c(cin: int, c7: int) -> Mixed:
    c = BasicConv2d
    row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))     # (kernel, padding) of the 7-wide convs
    return Mixed({
        "branch1x1": c(cin, 192, 1),
        "branch7x7_1": c(cin, c7, 1), "branch7x7_2": c(c7, c7, row[0], padding=row[1]),
        "branch7x7_3": c(c7, 192, col[0], padding=col[1]),
        "branch7x7dbl_1": c(cin, c7, 1), "branch7x7dbl_2": c(c7, c7, col[0], padding=col[1]),
        "branch7x7dbl_3": c(c7, c7, row[0], padding=row[1]),
        "branch7x7dbl_4": c(c7, c7, col[0], padding=col[1]),
        "branch7x7dbl_5": c(c7, 192, row[0], padding=row[1]),
        "branch_pool": c(cin, 192, 1),
    }, [("", ["branch1x1"], []), ("", ["branch7x7_1", "branch7x7_2", "branch7x7_3"], []),
        ("", [f"branch7x7dbl_{i}" for i in range(1, 6)], []), ("avg", ["branch_pool"], [])])


def _mixed_d(cin: int) -> Mixed:
    c = BasicConv2d
    return Mixed({
        "branch3x3_1": c(cin, 192, 1), "branch3x3_2": c(192, 320, 3, stride=2),
        "branch7x7x3_1": c(cin, 192, 1), "branch7x7x3_2": c(192, 192, (1, 7), padding=(0, 3)),
        "branch7x7x3_3": c(192, 192, (7, 1), padding=(3, 0)),
        "branch7x7x3_4": c(192, 192, 3, stride=2),
    }, [("", ["branch3x3_1", "branch3x3_2"], []),
        ("", [f"branch7x7x3_{i}" for i in range(1, 5)], []), ("max_s2", [], [])])


def _mixed_e(cin: int, pool: str) -> Mixed:
    """The last blocks; the TF graph's final one max-pools where the paper average-pools."""
    c = BasicConv2d
    return Mixed({
        "branch1x1": c(cin, 320, 1),
        "branch3x3_1": c(cin, 384, 1),
        "branch3x3_2a": c(384, 384, (1, 3), padding=(0, 1)),
        "branch3x3_2b": c(384, 384, (3, 1), padding=(1, 0)),
        "branch3x3dbl_1": c(cin, 448, 1), "branch3x3dbl_2": c(448, 384, 3, padding=1),
        "branch3x3dbl_3a": c(384, 384, (1, 3), padding=(0, 1)),
        "branch3x3dbl_3b": c(384, 384, (3, 1), padding=(1, 0)),
        "branch_pool": c(cin, 192, 1),
    }, [("", ["branch1x1"], []),
        ("", ["branch3x3_1"], ["branch3x3_2a", "branch3x3_2b"]),
        ("", ["branch3x3dbl_1", "branch3x3dbl_2"], ["branch3x3dbl_3a", "branch3x3dbl_3b"]),
        (pool, ["branch_pool"], [])])


def tf1_resize_matrix(size_in: int, size_out: int) -> Tensor:
    """(size_out, size_in) float32 weights of TF1.x `resize_bilinear(align_corners=False)`:
    output pixel i samples the input at i * size_in / size_out (no half-pixel centre) and blends
    its two neighbours, the right one clamped at the border. Applied as rows @ image @ cols.T,
    it equals the per-pixel formula up to float32 rounding."""
    src = torch.arange(size_out, dtype=torch.float32) * torch.tensor(size_in / size_out,
                                                                     dtype=torch.float32)
    lo = src.long()
    hi = (lo + 1).clamp_max(size_in - 1)
    frac = src - lo.float()
    m = torch.zeros(size_out, size_in)
    rows = torch.arange(size_out)
    m[rows, lo] += 1 - frac
    m[rows, hi] += frac
    return m


def tf1_resize(x: Tensor, size: int) -> Tensor:
    """float (n, c, H, W) -> (n, c, size, size), TF1.x bilinear (see tf1_resize_matrix)."""
    rows = tf1_resize_matrix(x.shape[2], size).to(x)
    cols = tf1_resize_matrix(x.shape[3], size).to(x)
    return rows @ x @ cols.T


class InceptionV3(nn.Module):
    """uint8 (n, 3, H, W) RGB -> (pool3 features (n, 2048), unbiased logits (n, 1008))."""

    def __init__(self):
        super().__init__()
        c = BasicConv2d
        self.Conv2d_1a_3x3 = c(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = c(32, 32, 3)
        self.Conv2d_2b_3x3 = c(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = c(64, 80, 1)
        self.Conv2d_4a_3x3 = c(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = (
            _mixed_a(192, 32), _mixed_a(256, 64), _mixed_a(288, 64))
        self.Mixed_6a = _mixed_b(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = (
            _mixed_c(768, 128), _mixed_c(768, 160), _mixed_c(768, 160), _mixed_c(768, 192))
        self.Mixed_7a = _mixed_d(768)
        self.Mixed_7b, self.Mixed_7c = _mixed_e(1280, "avg"), _mixed_e(2048, "max")
        self.fc = nn.Linear(POOL_FEATURES, NUM_LOGITS)

    def fold_batchnorm(self) -> InceptionV3:
        """Fold every batch norm into its conv (inference only; call after loading weights)."""
        for block in self.modules():
            if isinstance(block, BasicConv2d) and isinstance(block.bn, nn.BatchNorm2d):
                block.conv = fuse_conv_bn_eval(block.conv.eval(), block.bn.eval())
                block.bn = nn.Identity()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = tf1_resize(x.float(), INPUT_SIZE)
        x = ((x - 128) / 128).contiguous(memory_format=torch.channels_last)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        pool3 = x.mean(dim=(2, 3))
        return pool3, pool3 @ self.fc.weight.T      # IS takes the logits without the bias


def random_state(seed: int = 1) -> dict[str, Tensor]:
    """A random InceptionV3 state dict for offline checks (the parity tests, tests/gpu):
    He-initialised convs and non-trivial batch-norm statistics, so activations stay O(1)
    through the 94 layers and every part of the network matters. Not for measuring."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, v in InceptionV3().state_dict().items():
        if key.endswith("conv.weight"):
            v = torch.randn(v.shape, generator=gen) * math.sqrt(2 / v[0].numel())
        elif key.endswith(("bn.bias", "running_mean")):
            v = 0.1 * torch.randn(v.shape, generator=gen)
        elif key.endswith("bn.weight"):
            v = 1 + 0.1 * torch.randn(v.shape, generator=gen)
        elif key.endswith("running_var"):
            v = 1 + 0.2 * torch.rand(v.shape, generator=gen)
        elif key.startswith("fc."):
            v = 0.02 * torch.randn(v.shape, generator=gen)
        state[key] = v
    return state
