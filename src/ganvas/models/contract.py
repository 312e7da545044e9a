"""The family contract: what a model family declares (its capabilities, the configuration
fields it reads and their rules). Family modules import only this; models/__init__.py
registers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from ..config.schema import ModelConfig


def no_rules(cfg: ModelConfig) -> None:
    """A family without rules of its own beyond the schema's."""


def no_own_fp16(cfg: ModelConfig) -> bool:
    """A family without float16 layers of its own."""
    return False


NOISE_MODES = ("const", "random", "none")
# ModelConfig fields every family reads; a family lists the others it reads in `reads`.
COMMON_FIELDS = frozenset({"family", "resolution", "aspect", "channels", "num_classes",
                           "z_dim", "g_width", "d_width", "max_width"})
# TrainConfig options that only a family with the capability uses: models.check_options
# refuses any value but the default elsewhere, and a dry run lists them only where read.
CAPABILITY_OPTIONS = {"path_length": ("pl_weight", "pl_interval"),
                      "style_mixing": ("style_mixing",),
                      "freeze_d": ("freeze_d",),
                      "d_reconstruction": ("rec_distance",)}


@dataclass(frozen=True)
class Capabilities:
    """What a family can do; the verbs and validation ask this, never the family's name."""

    w_space: bool = False          # a mapping network z -> ws: walks, sweeps, projection in w
    noise_inputs: bool = False     # per-layer noise inputs (noise_mode const/random/none)
    style_mixing: bool = False     # style mixing (training regulariser and the style-mix grid)
    path_length: bool = False      # path length regularisation of G
    conditional: bool = True       # class conditioning (labels in G and D)
    freeze_d: bool = True          # D.blocks, which FreezeD can freeze
    d_norms: tuple[str, ...] = ("batch", "layer", "none")   # D normalisations it offers
    spectral_norm: bool = True     # spectral normalisation of D
    truncation_space: str = "z"    # where truncation psi acts: "z" (z * psi) or "w"
    d_reconstruction: bool = False  # D.reconstruct: D decodes its features (FastGAN)
    two_views: bool = False        # G.views: D sees an image and G's own small image
    input_transform: bool = False  # G.input_transform: translate and rotate the picture (SG3)

    def latent_spaces(self) -> tuple[str, ...]:
        """The spaces walks and sweeps can move in."""
        return ("z", "w") if self.w_space else ("z",)

    def default_space(self) -> str:
        """Where explore and projection work by default: w when the family has one."""
        return "w" if self.w_space else "z"


@dataclass(frozen=True)
class Family:
    """One model family: constructors G(cfg) and D(cfg) (CPU float32 nn.Modules), the
    resolutions it supports, its capabilities, the ModelConfig fields it reads beyond
    COMMON_FIELDS (the others must stay at their defaults) and their rules."""

    generator: Callable[[ModelConfig], nn.Module]
    discriminator: Callable[[ModelConfig], nn.Module]
    resolutions: tuple[int, int] = (16, 256)     # smallest and largest supported resolution
    capabilities: Capabilities = field(default_factory=Capabilities)
    reads: frozenset[str] = frozenset()
    # What the family requires of the fields it reads (a ConfigError otherwise), checked with
    # the rest of the model's configuration (models.check_model).
    check: Callable[[ModelConfig], None] = no_rules
    # Whether the configuration runs layers in float16 of its own (then --precision auto is
    # fp32 on CUDA: bf16 autocast would override their casts).
    own_fp16: Callable[[ModelConfig], bool] = no_own_fp16
    # The family's layer layout, recorded in model.json: raised (with `architecture_note`
    # saying what changed) when weights saved before cannot load any more.
    architecture: int = 1
    architecture_note: str = ""

    def uses(self, key: str) -> bool:
        """Whether a run of this family reads configuration value `key` ("section.field"):
        a model field only if in COMMON_FIELDS or `reads`, a training option of
        CAPABILITY_OPTIONS only with its capability, any other value always."""
        section, name = key.split(".", 1)
        if section == "model":
            return name in COMMON_FIELDS | self.reads
        return section != "train" or all(getattr(self.capabilities, capability)
                                         for capability, names in CAPABILITY_OPTIONS.items()
                                         if name in names)
