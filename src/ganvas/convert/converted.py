"""Converted: what an imported network becomes in ganvas's terms."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config.schema import ModelConfig


@dataclass
class Converted:
    """An imported network in ganvas's terms."""

    cfg: ModelConfig
    G_ema: dict[str, torch.Tensor]
    G: dict[str, torch.Tensor] | None
    D: dict[str, torch.Tensor] | None
    augment_p: float | None
    source: str                    # what it was, for the console: "stylegan3 StyleGAN3-T"
