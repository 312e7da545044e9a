"""Model families, registered by name, each a contract: what it can do and how its generator
is called. Code outside models/ asks the contract (`family_of(name).capabilities`), never the
family's name; checkpoints store the family name and the config, never an import path.

The generator interface every family's G implements (z, images and class inputs as in
ganvas's conventions: z float (N, z_dim), labels int64 (N,) or float class embeddings (N, E),
images float (N, C, H, W) in about [-1, 1]):

    G.z_dim, G.num_classes
    G(z, labels)                         training forward (random noise, style mixing, ...)
    G.synthesize(z, labels, truncation, noise_mode)
                                         eval forward: z -> images, truncation psi applied
                                         where the family applies it (z * psi, or towards
                                         w_avg); `truncation` may be a float or a (1,) tensor
    G.class_embedding                    the nn.Embedding labels go through (None if
                                         unconditional): what a class walk interpolates
    G.layer_resolutions()                {state_dict key: resolution of the block it belongs
                                         to} for every parameter and buffer: the mapping
                                         network, constant input, class embedding and first
                                         layer at the lowest (4), a toRGB or output layer at
                                         its block's; what layer swapping (ganvas.blend) cuts
  with capabilities.w_space also:
    G.num_ws, G.w_dim, G.w_avg           the intermediate latent space W
    G.to_w(z, labels, truncation)        z -> ws (N, num_ws, w_dim), truncated towards w_avg
    G.from_w(ws, noise_mode)             ws -> images
    G.style_layers()                     {resolution: [w indices]} (what style mixing swaps)
    G.latent_weights(layers)             (F, w_dim): the style affine weights of the layers
                                         reading those w indices (default all), for SeFa
  without capabilities.w_space:
    G.latent_weights(None)               (F, z_dim): the first layer's weights on z
  with capabilities.path_length also:
    G.path_length_penalty(z, labels)     the scalar penalty (training)
  with capabilities.style_mixing also:
    G.mixing_prob                        style-mixing probability during training
D(images, labels) -> logits (N,); with capabilities.freeze_d, D.blocks[0] reads the image;
with capabilities.d_reconstruction, D.reconstruction_loss(x_real, labels) -> a scalar that
the trainer adds to D's loss (a self-supervised decoder of D's features, FastGAN).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable

import torch.nn as nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..registry import Registry

NOISE_MODES = ("const", "random", "none")
# ModelConfig fields every family reads; a family lists the others it reads in `reads`.
COMMON_FIELDS = frozenset({"family", "resolution", "aspect", "channels", "num_classes",
                           "z_dim", "g_width", "d_width", "max_width"})


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
    d_reconstruction: bool = False  # D.reconstruction_loss, added to D's loss in training

    def latent_spaces(self) -> tuple[str, ...]:
        """The spaces walks and sweeps can move in."""
        return ("z", "w") if self.w_space else ("z",)

    def default_space(self) -> str:
        """Where explore and projection work by default: w when the family has one."""
        return "w" if self.w_space else "z"


@dataclass(frozen=True)
class Family:
    """One model family: constructors G(cfg) and D(cfg) (CPU float32 nn.Modules), the
    resolutions it supports, its capabilities and the ModelConfig fields it reads beyond
    COMMON_FIELDS (the others must stay at their defaults)."""

    generator: Callable[[ModelConfig], nn.Module]
    discriminator: Callable[[ModelConfig], nn.Module]
    resolutions: tuple[int, int] = (16, 256)     # smallest and largest supported resolution
    capabilities: Capabilities = field(default_factory=Capabilities)
    reads: frozenset[str] = frozenset()


MODELS: Registry[Family] = Registry("model family")


def family_of(name: str) -> Family:
    """The registered family `name` (a ConfigError listing the families otherwise)."""
    return MODELS.get(name)


def families_with(capability: str) -> str:
    """'stylegan2' or 'a, b': the registered families that have `capability` (for errors)."""
    names = [n for n in MODELS.names() if getattr(MODELS.get(n).capabilities, capability)]
    return ", ".join(names) or "none"


def refuse(option: str, capability: str, family: str) -> ConfigError:
    return ConfigError(f"{option} needs a model family with {capability.replace('_', ' ')} "
                       f"({families_with(capability)}); {family} has none")


def check_options(model: ModelConfig, train) -> None:
    """A ConfigError for any option the family cannot do (train: a TrainConfig), so nothing
    is silently ignored and nothing fails mid-training."""
    fam = family_of(model.family)
    caps = fam.capabilities
    if train.pl_weight > 0 and not caps.path_length:
        raise refuse(f"--pl-weight {train.pl_weight:g}", "path_length", model.family)
    if train.style_mixing > 0 and not caps.style_mixing:
        raise refuse(f"--style-mixing {train.style_mixing:g}", "style_mixing", model.family)
    if train.freeze_d > 0 and not caps.freeze_d:
        raise refuse(f"--freeze-d {train.freeze_d}", "freeze_d", model.family)
    if model.num_classes and not caps.conditional:
        raise refuse("a conditional model", "conditional", model.family)
    if model.spectral_norm and not caps.spectral_norm:
        raise refuse("--spectral-norm", "spectral_norm", model.family)
    if model.d_norm not in caps.d_norms:
        raise ConfigError(f"--d-norm {model.d_norm}: {model.family} offers "
                          f"{', '.join(caps.d_norms)}")
    defaults = ModelConfig()
    unused = [f.name for f in fields(ModelConfig)
              if f.name not in COMMON_FIELDS | fam.reads
              and getattr(model, f.name) != getattr(defaults, f.name)]
    if unused:
        flags = ", ".join("--" + n.replace("_", "-") for n in unused)
        raise ConfigError(f"{flags}: not an option of {model.family} models")


def check_noise_mode(family: str, noise_mode: str | None, who: str = "this model") -> str:
    """The noise mode to use: const by default; a GanvasError (ConfigError) for an unknown
    mode or a family without noise inputs."""
    if noise_mode is None:
        return "const"
    if not family_of(family).capabilities.noise_inputs:
        raise ConfigError(f"--noise-mode is for models with noise inputs "
                          f"({families_with('noise_inputs')}); {who} is {family}")
    if noise_mode not in NOISE_MODES:
        raise ConfigError(f"unknown noise mode {noise_mode!r}; choose from "
                          f"{', '.join(NOISE_MODES)}")
    return noise_mode


def build_generator(cfg: ModelConfig) -> nn.Module:
    """A fresh generator for `cfg` (validated first)."""
    cfg.validate()
    return family_of(cfg.family).generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """A fresh discriminator for `cfg` (validated first)."""
    cfg.validate()
    return family_of(cfg.family).discriminator(cfg)


from . import dcgan  # noqa: E402,F401  (registers "dcgan")
from . import stylegan2  # noqa: E402,F401  (registers "stylegan2")
from . import fastgan  # noqa: E402,F401  (registers "fastgan")
