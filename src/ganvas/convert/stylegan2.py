"""NVlabs' PyTorch StyleGAN2 (stylegan2-ada-pytorch's `training.networks`, stylegan3's
`training.networks_stylegan2`) as a ganvas stylegan2 ModelConfig and state dicts; TensorFlow
StyleGAN2 files come here as the same records, rewritten by tensorflow.py.

The two architectures are the same functions with other parameter names, except:
- the class embedding: NVlabs maps a one-hot c through a linear layer (weight (w_dim, c_dim),
  gain 1/sqrt(c_dim), bias); ganvas looks up a row of an nn.Embedding. For a one-hot c the
  row of class k is weight[:, k] / sqrt(c_dim) + bias (G's mapping and D's class mapping);
- the upsampling convolution (conv0 of every block above 4x4): NVlabs runs a transposed
  convolution with the weight as stored (a true convolution after zero insertion), ganvas a
  correlation, so the kernel is flipped in both spatial axes;
- NVlabs keeps the [1, 3, 3, 1] filters as buffers (checked equal to ganvas's constant) and
  ganvas keeps a path-length mean (pl_mean, set to 0: NVlabs keeps it in the training loop).
Constructor arguments ganvas's family cannot follow are refused with one line naming them.
"""

from __future__ import annotations

import math

import torch

from ganvas.config.schema import ModelConfig
from ganvas.errors import GanvasError
from ganvas.models.stylegan2 import (D_CLASS_MAPPING_LAYERS, MAPPING_LR_MUL, Discriminator,
                                     Generator)
from ganvas.models.stylegan2_layers import lowpass_filter
from ganvas.nvlabs import NvlabsPickle

from .converted import Converted
from .tensorflow import as_torch_records

# Constructor arguments and the only values ganvas's stylegan2 family has for them.
_FIXED = {"resample_filter": ([1, 3, 3, 1],),
          "activation": ("lrelu",), "use_noise": (True,), "lr_multiplier": (MAPPING_LR_MUL,),
          "embed_features": (None,), "layer_features": (None,), "mbstd_num_channels": (1,),
          "cmap_dim": (None,)}
_ARCHITECTURE = {"G": "skip", "D": "resnet"}     # the only ones ganvas's family has
_FOLLOWED = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "channel_base",
             "channel_max", "num_fp16_res", "conv_clamp", "num_layers", "w_avg_beta",
             "mbstd_group_size", "fp16_channels_last", "freeze_layers", "block_kwargs",
             "mapping_kwargs", "synthesis_kwargs", "epilogue_kwargs", "architecture"}


def _flat(kwargs: dict, out: dict, where: str) -> dict:
    for key, value in kwargs.items():
        if key.endswith("_kwargs") and isinstance(value, dict):
            _flat(value, out, f"{where}.{key}")
        elif key in _FIXED:
            if value not in _FIXED[key]:
                raise GanvasError(f"{where}: {key}={value!r} is not what ganvas's stylegan2 "
                                  f"has ({_FIXED[key][0]!r}): not supported")
        elif key not in _FOLLOWED:
            raise GanvasError(f"{where}: the constructor argument {key!r} is not one "
                              "ganvas's stylegan2 follows: not supported")
        elif key == "architecture" and value != _ARCHITECTURE[where[0]]:
            raise GanvasError(f"{where}: architecture={value!r} is not what ganvas's "
                              f"stylegan2 has ({_ARCHITECTURE[where[0]]!r}): not supported")
        else:
            out.setdefault(f"{where}.{key}" if key == "num_layers" else key, value)
    return out


def _width(base: int, res: int, who: str) -> int:
    if base % res:
        raise GanvasError(f"{who}'s channel_base {base} is not a multiple of the resolution "
                          f"{res}: not supported")
    return base // res


def stylegan2_config(G_kwargs: dict, D_kwargs: dict | None) -> ModelConfig:
    """The ganvas stylegan2 ModelConfig of an NVlabs generator (and discriminator)."""
    g = _flat(G_kwargs, {}, "G")
    d = _flat(D_kwargs, {}, "D") if D_kwargs is not None else {}
    res = g["img_resolution"]
    cmax = g.get("channel_max", 512)
    if d and (d.get("channel_max", 512) != cmax or d.get("img_resolution") != res
              or d.get("c_dim", 0) != g.get("c_dim", 0)):
        raise GanvasError("G and D differ in channel_max, resolution or classes: not supported")
    if d and d.get("mbstd_group_size", 4) is None:
        raise GanvasError("D's minibatch std groups the whole batch (mbstd_group_size None): "
                          "not supported")
    if d and d.get("D.mapping_kwargs.num_layers", D_CLASS_MAPPING_LAYERS) \
            != D_CLASS_MAPPING_LAYERS:
        raise GanvasError(f"D's class mapping is not {D_CLASS_MAPPING_LAYERS} layers deep: "
                          "not supported")
    return ModelConfig(
        family="stylegan2", resolution=res, channels=g.get("img_channels", 3),
        num_classes=g.get("c_dim", 0), z_dim=g["z_dim"], w_dim=g["w_dim"],
        g_width=_width(g.get("channel_base", 32768), res, "G"),
        d_width=_width(d.get("channel_base", 32768), res, "D"), max_width=cmax,
        mapping_layers=g.get("G.mapping_kwargs.num_layers", 8),
        num_fp16_res=g.get("num_fp16_res", 0), conv_clamp=g.get("conv_clamp"),
        mbstd_group=d.get("mbstd_group_size", 4), d_norm="none")


def _embedding(sd: dict, prefix: str) -> torch.Tensor:
    weight, bias = sd[prefix + "embed.weight"], sd[prefix + "embed.bias"]
    return (weight / math.sqrt(weight.shape[1]) + bias[:, None]).t()


def on_meta(cls, cfg: ModelConfig) -> torch.nn.Module:
    """A module built on the meta device: its state dict's names and shapes, no weights."""
    with torch.device("meta"):
        return cls(cfg)


def _check(sd: dict, out: dict, model: torch.nn.Module, who: str) -> dict:
    for key, tensor in sd.items():
        if key.endswith("resample_filter") and not torch.allclose(tensor, lowpass_filter()):
            raise GanvasError(f"{who}'s {key} is not the [1, 3, 3, 1] filter: not supported")
    return matched_state(out, model, who)


def matched_state(out: dict, model: torch.nn.Module, who: str) -> dict:
    """`out` as `model`'s state dict (float32, contiguous), after a one-line GanvasError for
    a tensor it lacks or one whose shape is not the recorded architecture's."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in out:
            raise GanvasError(f"{who} lacks the weights of {key}")
        if tuple(out[key].shape) != tuple(tensor.shape):
            raise GanvasError(f"{who}'s {key} has shape {list(out[key].shape)}, not "
                              f"{list(tensor.shape)} as its recorded architecture makes")
    return {key: out[key].float().contiguous() for key in expected}


def generator_state(sd: dict, cfg: ModelConfig) -> dict:
    """NVlabs G / G_ema state dict -> ganvas Generator's."""
    out = {"pl_mean": torch.zeros([])}
    try:
        out["mapping.w_avg"] = sd["mapping.w_avg"]
        for i in range(cfg.mapping_layers):
            for p in ("weight", "bias"):
                out[f"mapping.layers.{i}.{p}"] = sd[f"mapping.fc{i}.{p}"]
        if cfg.num_classes:
            out["mapping.embed.weight"] = _embedding(sd, "mapping.")
    except KeyError as exc:
        raise GanvasError(f"G lacks {exc.args[0]}") from None
    resolutions = [2 ** i for i in range(2, int(math.log2(cfg.resolution)) + 1)]
    for k, r in enumerate(resolutions):
        src, dst = f"synthesis.b{r}.", f"synthesis.blocks.{k}."
        for key, tensor in sd.items():
            if key.startswith(src) and not key.endswith("resample_filter"):
                name = key[len(src):]
                if name == "conv0.weight":
                    tensor = tensor.flip((2, 3))     # NVlabs convolves, ganvas correlates
                out[dst + name] = tensor
    return _check(sd, out, on_meta(Generator, cfg), "G")


def discriminator_state(sd: dict, cfg: ModelConfig) -> dict:
    """NVlabs D state dict -> ganvas Discriminator's."""
    out = {}
    resolutions = [cfg.resolution // 2 ** i for i in range(int(math.log2(cfg.resolution)) - 2)]
    for i, r in enumerate(resolutions):
        for key, tensor in sd.items():
            if key.startswith(f"b{r}.") and not key.endswith("resample_filter"):
                out[f"blocks.{i}.{key[len(f'b{r}.'):]}"] = tensor
    for part in ("conv.weight", "conv.bias", "fc.weight", "fc.bias", "out.weight", "out.bias"):
        if f"b4.{part}" in sd:
            out[part] = sd[f"b4.{part}"]
    if cfg.num_classes:
        if "mapping.embed.weight" not in sd:
            raise GanvasError("D is conditional but has no class embedding")
        out["embed.weight"] = _embedding(sd, "mapping.")
        for i in range(D_CLASS_MAPPING_LAYERS):
            for p in ("weight", "bias"):
                if f"mapping.fc{i}.{p}" in sd:
                    out[f"cmap_layers.{i}.{p}"] = sd[f"mapping.fc{i}.{p}"]
    return _check(sd, out, on_meta(Discriminator, cfg), "D")


def convert_networks(net: NvlabsPickle) -> Converted:
    """An NvlabsPickle of architecture stylegan2 -> Converted (TensorFlow's records are first
    rewritten into NVlabs' PyTorch layout by tensorflow.py)."""
    net = as_torch_records(net, check=stylegan2_config)
    cfg = stylegan2_config(net.G_ema.init_kwargs, net.D.init_kwargs if net.D else None)
    return Converted(
        cfg, generator_state(net.G_ema.state_dict, cfg),
        generator_state(net.G.state_dict, cfg) if net.G is not None else None,
        discriminator_state(net.D.state_dict, cfg) if net.D is not None else None,
        net.augment_p, f"{net.format} StyleGAN2")
