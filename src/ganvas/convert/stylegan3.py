"""NVlabs' StyleGAN3 (the stylegan3 repository's `training.networks_stylegan3`, configs T and R)
as a ganvas stylegan3-t or stylegan3-r ModelConfig and state dicts.

The generators are the same functions with other parameter names:
- mapping.fcK -> mapping.layers.K, as StyleGAN2's (and the class embedding the same way:
  convert/stylegan2.py);
- synthesis.input.* keeps its names (the Fourier features' weight, affine, the `transform`,
  `freqs` and `phases` buffers);
- synthesis.L{i}_{size}_{channels}.* -> synthesis.layers.{i}.*; the up and down filters NVlabs
  saves are checked equal to the ones ganvas designs from the configuration (they are not
  saved by ganvas);
- G's channel_base / resolution -> g_width, its channel_max -> g_max_width where it differs
  from D's (StyleGAN3-R doubles G's), num_layers -> synthesis_layers, margin_size ->
  synthesis_margin, magnitude_ema_beta as
  it is. G's num_fp16_res is accepted and means nothing (ganvas's G computes in float32 or
  the run's autocast); D's is the config's.
D is StyleGAN2's, converted by convert.stylegan2.discriminator_state.
Constructor arguments ganvas's families cannot follow are refused with one line naming them.
"""

from __future__ import annotations

import re

from ganvas.config.schema import ModelConfig
from ganvas.errors import GanvasError
from ganvas.models.stylegan2 import MAPPING_LR_MUL
from ganvas.models.stylegan3 import (FILTER_SIZE, FIRST_CUTOFF, FIRST_STOPBAND,
                                     LAST_STOPBAND_REL, LRELU_UPSAMPLING, NUM_CRITICAL,
                                     OUTPUT_SCALE, W_AVG_BETA, Generator)
from ganvas.nvlabs import NvlabsPickle

from .converted import Converted
from .stylegan2 import _embedding, _flat, _width, discriminator_state, matched_state

# G's constructor arguments with the only values ganvas's families have for them.
_FIXED = {"num_critical": NUM_CRITICAL, "first_cutoff": FIRST_CUTOFF,
          "first_stopband": FIRST_STOPBAND, "last_stopband_rel": LAST_STOPBAND_REL,
          "output_scale": OUTPUT_SCALE, "filter_size": FILTER_SIZE,
          "lrelu_upsampling": LRELU_UPSAMPLING, "lr_multiplier": MAPPING_LR_MUL,
          "w_avg_beta": W_AVG_BETA}
_FOLLOWED = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "channel_base",
             "channel_max", "num_layers", "mapping.num_layers", "num_fp16_res", "conv_clamp",
             "magnitude_ema_beta", "conv_kernel", "use_radial_filters", "margin_size"}
_KERNEL = {"stylegan3-t": (3, False), "stylegan3-r": (1, True)}   # conv_kernel, radial
_FILTER_TOLERANCE = 1e-6


def _generator_kwargs(kwargs: dict) -> dict:
    """G's constructor arguments, flattened ("mapping.num_layers"), refusing what ganvas's
    families cannot follow."""
    out = {}
    for key, value in kwargs.items():
        if key == "mapping_kwargs" and isinstance(value, dict):
            out.update({f"mapping.{k}": v for k, v in value.items()})
        elif key in ("synthesis_kwargs", "layer_kwargs") and isinstance(value, dict):
            out.update(_generator_kwargs(value))
        else:
            out[key] = value
    for key, value in out.items():
        name = key.split(".")[-1]
        if name in _FIXED:
            if value is None or abs(float(value) - _FIXED[name]) > 1e-9 * abs(_FIXED[name]):
                raise GanvasError(f"G: {name}={value!r} is not what ganvas's stylegan3 has "
                                  f"({_FIXED[name]:g}): not supported")
        elif key not in _FOLLOWED:
            raise GanvasError(f"G: the constructor argument {key!r} is not one ganvas's "
                              "stylegan3 follows: not supported")
    return out


def stylegan3_config(architecture: str, G_kwargs: dict, D_kwargs: dict | None) -> ModelConfig:
    """The ganvas ModelConfig of an NVlabs StyleGAN3 generator (and StyleGAN2 discriminator)."""
    g = _generator_kwargs(G_kwargs)
    kernel, radial = _KERNEL[architecture]
    if (g.get("conv_kernel", 3), bool(g.get("use_radial_filters", False))) != (kernel, radial):
        raise GanvasError(f"G: conv_kernel={g.get('conv_kernel', 3)} and use_radial_filters="
                          f"{g.get('use_radial_filters', False)} are not {architecture}'s")
    d = _flat(D_kwargs, {}, "D") if D_kwargs is not None else {}
    res = g["img_resolution"]
    g_cmax = g.get("channel_max", 512)
    cmax = d.get("channel_max", 512) if d else g_cmax
    clamp = g.get("conv_clamp", 256)
    if d and (d.get("img_resolution") != res or d.get("c_dim", 0) != g.get("c_dim", 0)):
        raise GanvasError("G and D differ in resolution or classes: not supported")
    if d and d.get("conv_clamp") != clamp:
        raise GanvasError(f"G's conv_clamp {clamp} and D's {d.get('conv_clamp')} differ: not "
                          "supported")
    if d and d.get("mbstd_group_size", 4) is None:
        raise GanvasError("D's minibatch std groups the whole batch (mbstd_group_size None): "
                          "not supported")
    if d and d.get("D.mapping_kwargs.num_layers", 8) != 8:
        raise GanvasError("D's class mapping is not 8 layers deep: not supported")
    beta = g.get("magnitude_ema_beta", 0.999)
    return ModelConfig(
        family=architecture, resolution=res, channels=g.get("img_channels", 3),
        num_classes=g.get("c_dim", 0), z_dim=g["z_dim"], w_dim=g["w_dim"],
        g_width=_width(g.get("channel_base", 32768), res, "G"),
        d_width=_width(d.get("channel_base", 32768), res, "D"), max_width=cmax,
        g_max_width=None if g_cmax == cmax else g_cmax,
        mapping_layers=g.get("mapping.num_layers", 2), synthesis_layers=g.get("num_layers", 14),
        synthesis_margin=g.get("margin_size", 10),
        magnitude_ema_beta=float(beta), num_fp16_res=d.get("num_fp16_res", 0),
        conv_clamp=None if clamp is None else float(clamp),
        mbstd_group=d.get("mbstd_group_size", 4), d_norm="none")


def generator_state(sd: dict, cfg: ModelConfig) -> dict:
    """NVlabs StyleGAN3 G / G_ema state dict -> ganvas's stylegan3 Generator's."""
    model = Generator(cfg, radial=_KERNEL[cfg.family][1])
    layers = model.synthesis.layers
    out = {}
    for key, tensor in sd.items():
        m = re.fullmatch(r"synthesis\.L(\d+)_\d+_\d+\.(.+)", key)
        if m and int(m[1]) < len(layers) and m[2] in ("up_filter", "down_filter"):
            ours = getattr(layers[int(m[1])], m[2])
            if ours is None or tuple(ours.shape) != tuple(tensor.shape) or \
                    (ours - tensor.float()).abs().max() > _FILTER_TOLERANCE:
                raise GanvasError(f"G's {key} is not the filter its configuration designs: "
                                  "not supported")
        elif m:
            out[f"synthesis.layers.{m[1]}.{m[2]}"] = tensor
        elif key.startswith("mapping.fc"):
            out["mapping.layers." + key[len("mapping.fc"):]] = tensor
        elif not key.startswith("mapping.embed."):
            out[key] = tensor
    if cfg.num_classes:
        if "mapping.embed.weight" not in sd:
            raise GanvasError("G is conditional but has no class embedding")
        out["mapping.embed.weight"] = _embedding(sd, "mapping.")
    extra = sorted(set(out) - set(model.state_dict()))
    if extra:
        raise GanvasError(f"G has weights ganvas's {cfg.family} has no place for: {extra[0]}")
    return matched_state(out, model, "G")


def convert_networks(net: NvlabsPickle) -> Converted:
    """An NvlabsPickle of architecture stylegan3-t or stylegan3-r -> Converted."""
    if net.architecture not in _KERNEL or net.format != "stylegan3":
        raise GanvasError(f"{net.format} {net.architecture} is not a StyleGAN3 network")
    cfg = stylegan3_config(net.architecture, net.G_ema.init_kwargs,
                           net.D.init_kwargs if net.D is not None else None)
    if net.G is not None and \
            _generator_kwargs(net.G.init_kwargs) != _generator_kwargs(net.G_ema.init_kwargs):
        raise GanvasError("G and G_ema are built differently: not supported")
    return Converted(
        cfg, generator_state(net.G_ema.state_dict, cfg),
        generator_state(net.G.state_dict, cfg) if net.G is not None else None,
        discriminator_state(net.D.state_dict, cfg) if net.D is not None else None,
        net.augment_p, f"stylegan3 StyleGAN3-{net.architecture[-1].upper()}")

