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
    G.latent_weights(layers)             (F, w_dim): the style affine weights SeFa takes for
                                         those w indices (default all): the convolution that
                                         reads each, the last toRGB for the last index
  without capabilities.w_space:
    G.latent_weights(None)               (F, z_dim): the first layer's weights on z
  with capabilities.path_length also:
    G.path_length_penalty(z, labels)     the scalar penalty (training)
  with capabilities.input_transform also:
    G.input_transform(translate, rotate) moves and turns the picture (StyleGAN3: the Fourier
                                         features' coordinates); no arguments: the identity
  with capabilities.style_mixing also:
    G.mixing_prob                        style-mixing probability during training
D(images, labels) -> logits (N,), or patch logits (N, P) each with the sample's target;
with capabilities.freeze_d, D.blocks[0] reads the image;
with capabilities.d_reconstruction, D.reconstruct(x_real, labels) -> (D's logits, a list of
(reconstruction, target) image pairs): D decodes its own features of the reals, and the
trainer adds the distance of each pair to D's loss (FastGAN's self-supervised D);
with capabilities.two_views, G.views(z, labels) -> (image, small image) and D takes that pair
in place of images (for a tensor it makes the small view itself): FastGAN's second branch.
"""

from __future__ import annotations

from dataclasses import fields

import torch.nn as nn

from ..config.schema import ModelConfig, is_power_of_two
from ..errors import ConfigError
from ..registry import Registry
from . import dcgan, fastgan, stylegan2, stylegan3
from .contract import CAPABILITY_OPTIONS, NOISE_MODES, Family

MODELS: Registry[Family] = Registry("model family")
MODELS.register("dcgan")(dcgan.FAMILY)
MODELS.register("stylegan2")(stylegan2.FAMILY)
MODELS.register("fastgan")(fastgan.FAMILY)
MODELS.register("stylegan3-t")(stylegan3.FAMILY_T)
MODELS.register("stylegan3-r")(stylegan3.FAMILY_R)


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
    defaults = type(train)()
    for capability, names in CAPABILITY_OPTIONS.items():
        for name in names:
            value = getattr(train, name)
            if value != getattr(defaults, name) and not getattr(caps, capability):
                shown = f"{value:g}" if isinstance(value, float) else value
                raise refuse(f"--{name.replace('_', '-')} {shown}", capability, model.family)
    if model.num_classes and not caps.conditional:
        raise refuse("a conditional model", "conditional", model.family)
    if model.spectral_norm and not caps.spectral_norm:
        raise refuse("--spectral-norm", "spectral_norm", model.family)
    if model.d_norm not in caps.d_norms:
        raise ConfigError(f"--d-norm {model.d_norm}: {model.family} offers "
                          f"{', '.join(caps.d_norms)}")


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


def check_model(cfg: ModelConfig, classes_from_data: bool = False) -> None:
    """The whole check of a model's configuration: the schema's own bounds, the family's
    resolutions, every field the family does not read left at its default, and the family's
    rules for the fields it reads (a ConfigError for the first bad value).
    classes_from_data: accept num_classes FROM_DATA (filled in by training)."""
    fam = family_of(cfg.family)
    low, high = fam.resolutions
    if not is_power_of_two(cfg.resolution) or not low <= cfg.resolution <= high:
        raise ConfigError(f"resolution must be a power of two from {low} to {high} for "
                          f"{cfg.family}, not {cfg.resolution}")
    cfg.check(classes_from_data)
    defaults = ModelConfig()
    unused = [f.name for f in fields(ModelConfig) if not fam.uses(f"model.{f.name}")
              and getattr(cfg, f.name) != getattr(defaults, f.name)]
    if unused:
        flags = ", ".join("--" + n.replace("_", "-") for n in unused)
        raise ConfigError(f"{flags}: not an option of {cfg.family} models")
    fam.check(cfg)


def build_generator(cfg: ModelConfig) -> nn.Module:
    """A fresh generator for `cfg`, a checked configuration (config.resolve, or a model.json
    read through validate_model)."""
    return family_of(cfg.family).generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    """A fresh discriminator for `cfg`, a checked configuration."""
    return family_of(cfg.family).discriminator(cfg)
