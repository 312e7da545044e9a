"""TensorFlow StyleGAN2 networks (a pickled tuple G, D, Gs of `dnnlib.tflib.network.Network`)
rewritten as the records of NVlabs' PyTorch StyleGAN2, so that stylegan2.py converts them as it
converts PyTorch files. The facts (as NVlabs' own legacy conversion states them):

- static kwargs are renamed (latent_size -> z_dim, dlatent_size -> w_dim, fmap_base -> a
  channel_base twice as large, nonlinearity -> activation, resample_kernel -> resample_filter,
  w_avg_beta None -> 1, ...); absent ones take TensorFlow StyleGAN2's defaults.
  truncation_psi / truncation_cutoff / style_mixing_prob / structure / conditioning /
  fused_modconv only steer how TensorFlow ran the graph and are dropped. D's minibatch-std
  group, when absent, is TensorFlow's default 4 (NVlabs' conversion passes None there, which
  groups the whole batch: ganvas keeps what the network was trained with);
- TF keeps convolution kernels as [kh, kw, in, out] and dense weights as [in, out]: PyTorch's
  are [out, in, kh, kw] and [out, in]. G's upsampling kernels (Conv0_up) are also flipped in
  both spatial axes (TF runs them as a transposed convolution of the flipped kernel);
- TF adds 1 to the style (mod_bias) at run time, NVlabs' PyTorch stores it added;
- the constant input keeps its batch axis of 1, the per-layer noise images are
  synthesis/noise{k} of shape [1, 1, r, r] (k counts the layers: 0 for 4x4, then two per
  resolution) and become each layer's noise_const buffer;
- dlatent_avg is the mapping's w_avg, mapping/Dense{i} its fc{i}, mapping/LabelEmbed its embed;
  D's blocks are FromRGB, Conv0, Conv1_down and Skip per resolution, then 4x4/Conv, Dense0,
  Output, with a class mapping LabelEmbed / Mapping{i}.
Anything else (another layout, a variable of the wrong shape or type) is one GanvasError line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.nvlabs import NvlabsPickle
from ganvas.nvlabs.records import TensorFlowNetwork, TorchNetwork

# TF static kwarg -> (PyTorch kwarg, TF default, group); the group is where NVlabs' PyTorch
# constructors take it ("" = the top level).
_G_KWARGS = {
    "latent_size": ("z_dim", 512, ""), "label_size": ("c_dim", 0, ""),
    "dlatent_size": ("w_dim", 512, ""), "resolution": ("img_resolution", 1024, ""),
    "num_channels": ("img_channels", 3, ""), "fmap_base": ("channel_base", 16384, ""),
    "fmap_max": ("channel_max", 512, ""), "num_fp16_res": ("num_fp16_res", 0, ""),
    "conv_clamp": ("conv_clamp", None, ""), "architecture": ("architecture", "skip", ""),
    "resample_kernel": ("resample_filter", [1, 3, 3, 1], ""),
    "use_noise": ("use_noise", True, ""), "nonlinearity": ("activation", "lrelu", ""),
    "mapping_layers": ("num_layers", 8, "mapping_kwargs"),
    "label_fmaps": ("embed_features", None, "mapping_kwargs"),
    "mapping_fmaps": ("layer_features", None, "mapping_kwargs"),
    "mapping_nonlinearity": ("activation", "lrelu", "mapping_kwargs"),
    "mapping_lrmul": ("lr_multiplier", 0.01, "mapping_kwargs"),
    "w_avg_beta": ("w_avg_beta", 0.995, "mapping_kwargs"),
}
_D_KWARGS = {
    "label_size": ("c_dim", 0, ""), "resolution": ("img_resolution", 1024, ""),
    "num_channels": ("img_channels", 3, ""), "architecture": ("architecture", "resnet", ""),
    "fmap_base": ("channel_base", 16384, ""), "fmap_max": ("channel_max", 512, ""),
    "num_fp16_res": ("num_fp16_res", 0, ""), "conv_clamp": ("conv_clamp", None, ""),
    "mapping_fmaps": ("cmap_dim", None, ""),
    "nonlinearity": ("activation", "lrelu", "block_kwargs"),
    "resample_kernel": ("resample_filter", [1, 3, 3, 1], "block_kwargs"),
    "freeze_layers": ("freeze_layers", 0, "block_kwargs"),
    "mapping_layers": ("num_layers", 0, "mapping_kwargs"),
    "mapping_lrmul": ("lr_multiplier", 0.1, "mapping_kwargs"),
    "mbstd_group_size": ("mbstd_group_size", 4, "epilogue_kwargs"),
    "mbstd_num_features": ("mbstd_num_channels", 1, "epilogue_kwargs"),
}
# steer how TensorFlow ran the graph, not what the network computes
_DROPPED = {"truncation_psi", "truncation_cutoff", "style_mixing_prob", "structure",
            "conditioning", "fused_modconv"}
_UNUSED_VARIABLES = {"lod"}        # progressive growing's level of detail, 0 for StyleGAN2


def _kwargs(net: TensorFlowNetwork, table: dict, role: str) -> dict:
    tf = net.static_kwargs
    unknown = sorted(set(tf) - set(table) - _DROPPED)
    if unknown:
        raise GanvasError(f"TensorFlow {role}: the static kwarg {unknown[0]!r} is not one "
                          "ganvas follows: not supported")
    out: dict = {}
    for tf_name, (name, default, group) in table.items():
        value = tf.get(tf_name, default)
        if value is None and tf_name == "w_avg_beta":
            value = 1.0                  # TF's None: w_avg never moves
        if value is None and tf_name == "mbstd_group_size":
            raise GanvasError(f"TensorFlow {role}: mbstd_group_size=None: not supported")
        if tf_name == "fmap_base":
            value = value * 2            # TF halves the base where PyTorch does not
        if tf_name == "resample_kernel" and isinstance(value, tuple):
            value = list(value)
        (out.setdefault(group, {}) if group else out)[name] = value
    if role == "D" and not out["c_dim"]:
        del out["mapping_kwargs"], out["cmap_dim"]    # no class mapping is built
    return out


class _Variables:
    """TF variables taken one by one, each checked for dtype and rank, the rest refused."""

    def __init__(self, net: TensorFlowNetwork, role: str):
        self.variables, self.role = net.variables, role
        self.taken: set = set(_UNUSED_VARIABLES)

    def get(self, name: str, ndim: int) -> np.ndarray:
        if name not in self.variables:
            raise GanvasError(f"TensorFlow {self.role} lacks the variable {name}")
        value = self.variables[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise GanvasError(f"TensorFlow {self.role}'s {name} is not a float array")
        if value.ndim != ndim:
            raise GanvasError(f"TensorFlow {self.role}'s {name} has shape {list(value.shape)}, "
                              f"not {ndim}-dimensional")
        self.taken.add(name)
        return value

    def conv(self, name: str, flip: bool = False) -> torch.Tensor:
        value = self.get(name, 4)
        if flip:
            value = value[::-1, ::-1]
        return _tensor(value.transpose(3, 2, 0, 1))

    def dense(self, name: str) -> torch.Tensor:
        return _tensor(self.get(name, 2).T)

    def vector(self, name: str) -> torch.Tensor:
        return _tensor(self.get(name, 1))

    def done(self) -> None:
        left = sorted(set(self.variables) - self.taken)
        if left:
            raise GanvasError(f"TensorFlow {self.role} has the variable {left[0]} that ganvas "
                              "does not know: not supported")


def _tensor(value: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(value.astype(np.float32, order="C", copy=True))


def _resolutions(kwargs: dict, role: str) -> list[int]:
    res = kwargs["img_resolution"]
    if not isinstance(res, int) or res < 4 or res & (res - 1):
        raise GanvasError(f"TensorFlow {role}: resolution {res!r} is not a power of 2: "
                          "not supported")
    return [2 ** i for i in range(2, int(math.log2(res)) + 1)]


def _layer(v: _Variables, tf: str, out: dict, pt: str, noise: int | None,
           flip: bool = False) -> None:
    """One modulated convolution (with its noise, unless noise is None: ToRGB)."""
    out[pt + "weight"] = v.conv(tf + "weight", flip)
    out[pt + "bias"] = v.vector(tf + "bias")
    out[pt + "affine.weight"] = v.dense(tf + "mod_weight")
    out[pt + "affine.bias"] = v.vector(tf + "mod_bias") + 1
    if noise is not None:
        out[pt + "noise_strength"] = _tensor(v.get(tf + "noise_strength", 0))
        out[pt + "noise_const"] = _tensor(v.get(f"synthesis/noise{noise}", 4)[0, 0])


def generator_kwargs(net: TensorFlowNetwork, role: str = "G") -> dict:
    """A TF generator's static kwargs as NVlabs' PyTorch Generator's constructor arguments."""
    if net.version < 4:
        raise GanvasError(f"TensorFlow {role} has network version {net.version}: "
                          "not supported")
    return _kwargs(net, _G_KWARGS, role)


def discriminator_kwargs(net: TensorFlowNetwork) -> dict:
    """A TF discriminator's static kwargs as NVlabs' PyTorch Discriminator's arguments."""
    if net.version < 4:
        raise GanvasError(f"TensorFlow D has network version {net.version}: not supported")
    return _kwargs(net, _D_KWARGS, "D")


def generator(net: TensorFlowNetwork, role: str = "G") -> TorchNetwork:
    """A TF generator (G or Gs) as NVlabs' PyTorch Generator's record."""
    kwargs = generator_kwargs(net, role)
    v = _Variables(net, role)
    sd = {"mapping.w_avg": v.vector("dlatent_avg")}
    for i in range(kwargs["mapping_kwargs"]["num_layers"]):
        sd[f"mapping.fc{i}.weight"] = v.dense(f"mapping/Dense{i}/weight")
        sd[f"mapping.fc{i}.bias"] = v.vector(f"mapping/Dense{i}/bias")
    if kwargs["c_dim"]:
        sd["mapping.embed.weight"] = v.dense("mapping/LabelEmbed/weight")
        sd["mapping.embed.bias"] = v.vector("mapping/LabelEmbed/bias")
    for k, r in enumerate(_resolutions(kwargs, role)):
        tf, pt = f"synthesis/{r}x{r}/", f"synthesis.b{r}."
        if r == 4:
            sd[pt + "const"] = _tensor(v.get(tf + "Const/const", 4)[0])
            _layer(v, tf + "Conv/", sd, pt + "conv1.", 0)
        else:
            _layer(v, tf + "Conv0_up/", sd, pt + "conv0.", 2 * k - 1, flip=True)
            _layer(v, tf + "Conv1/", sd, pt + "conv1.", 2 * k)
        _layer(v, tf + "ToRGB/", sd, pt + "torgb.", None)
    v.done()
    return TorchNetwork("Generator", (), kwargs, sd, "")


def discriminator(net: TensorFlowNetwork) -> TorchNetwork:
    """A TF discriminator as NVlabs' PyTorch Discriminator's record."""
    kwargs = discriminator_kwargs(net)
    v = _Variables(net, "D")
    sd = {}
    resolutions = _resolutions(kwargs, "D")
    top = resolutions[-1]
    sd[f"b{top}.fromrgb.weight"] = v.conv(f"{top}x{top}/FromRGB/weight")
    sd[f"b{top}.fromrgb.bias"] = v.vector(f"{top}x{top}/FromRGB/bias")
    for r in resolutions[:0:-1]:
        tf, pt = f"{r}x{r}/", f"b{r}."
        for i, name in enumerate(("Conv0", "Conv1_down")):
            sd[f"{pt}conv{i}.weight"] = v.conv(f"{tf}{name}/weight")
            sd[f"{pt}conv{i}.bias"] = v.vector(f"{tf}{name}/bias")
        sd[pt + "skip.weight"] = v.conv(tf + "Skip/weight")
    if kwargs["c_dim"]:
        sd["mapping.embed.weight"] = v.dense("LabelEmbed/weight")
        sd["mapping.embed.bias"] = v.vector("LabelEmbed/bias")
        for i in range(kwargs["mapping_kwargs"]["num_layers"]):
            sd[f"mapping.fc{i}.weight"] = v.dense(f"Mapping{i}/weight")
            sd[f"mapping.fc{i}.bias"] = v.vector(f"Mapping{i}/bias")
    sd["b4.conv.weight"] = v.conv("4x4/Conv/weight")
    sd["b4.conv.bias"] = v.vector("4x4/Conv/bias")
    sd["b4.fc.weight"] = v.dense("4x4/Dense0/weight")
    sd["b4.fc.bias"] = v.vector("4x4/Dense0/bias")
    sd["b4.out.weight"] = v.dense("Output/weight")
    sd["b4.out.bias"] = v.vector("Output/bias")
    v.done()
    return TorchNetwork("Discriminator", (), kwargs, sd, "")


def as_torch_records(net: NvlabsPickle,
                     check: Callable[[dict, dict | None], object] | None = None) -> NvlabsPickle:
    """A TensorFlow NvlabsPickle with its networks rewritten as NVlabs' PyTorch records;
    check(G_kwargs, D_kwargs), where given, sees the constructor arguments before any variable
    is read (so that an argument ganvas cannot follow is named, not a variable it lacks)."""
    if net.format != "tensorflow":
        return net
    if check is not None:
        check(generator_kwargs(net.G_ema, "Gs"),
              discriminator_kwargs(net.D) if net.D is not None else None)
    return replace(net, G_ema=generator(net.G_ema, "Gs"),
                   G=generator(net.G, "G") if net.G is not None else None,
                   D=discriminator(net.D) if net.D is not None else None)
