"""Model families, registered by name. A family is a pair of constructors (G, D) that take a
ModelConfig; checkpoints store the family name and the config, never an import path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from ..config import ModelConfig
from ..registry import Registry


@dataclass(frozen=True)
class Family:
    """Constructors of one model family: G(cfg) and D(cfg), both CPU float32 nn.Modules."""

    generator: Callable[[ModelConfig], nn.Module]
    discriminator: Callable[[ModelConfig], nn.Module]
    resolutions: tuple[int, int] = (16, 256)     # smallest and largest supported resolution


MODELS: Registry[Family] = Registry("model family")


def build_generator(cfg: ModelConfig) -> nn.Module:
    """A fresh generator for `cfg` (validated first)."""
    cfg.validate()
    return MODELS.get(cfg.family).generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """A fresh discriminator for `cfg` (validated first)."""
    cfg.validate()
    return MODELS.get(cfg.family).discriminator(cfg)


from . import dcgan  # noqa: E402,F401  (registers "dcgan")
from . import stylegan2  # noqa: E402,F401  (registers "stylegan2")
