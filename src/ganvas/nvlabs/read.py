"""read_network_pickle: an NVlabs network pickle as plain records, which format and which
architecture it is, or one line saying why it is not read.

Formats: stylegan2-ada-pytorch (`training.networks`), stylegan3 (`training.networks_stylegan2`
and `training.networks_stylegan3`, configs T and R), and TensorFlow StyleGAN2 (a tuple G, D, Gs
of `dnnlib.tflib.network.Network`). The format is told from the embedded source as text and
the architecture from the recorded constructor arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ganvas.errors import GanvasError
from ganvas.nvlabs.records import (TensorFlowNetwork, TorchNetwork, tensorflow_network,
                                   torch_network)
from ganvas.nvlabs.unpickle import TFNetwork, restricted_loads

MAX_FILE_BYTES = 4 << 30    # the largest released NVlabs pickles are under 400 MB
FORMATS = ("stylegan2-ada-pytorch", "stylegan3", "tensorflow")
# TensorFlow StyleGAN2's static kwargs that the converted networks can follow (what NVlabs'
# legacy conversion accepts); anything else is another architecture.
_TF_G_KWARGS = {"latent_size", "label_size", "dlatent_size", "resolution", "num_channels",
                "fmap_base", "fmap_max", "num_fp16_res", "conv_clamp", "architecture",
                "resample_kernel", "use_noise", "nonlinearity", "mapping_layers",
                "label_fmaps", "mapping_fmaps", "mapping_nonlinearity", "mapping_lrmul",
                "w_avg_beta", "truncation_psi", "truncation_cutoff", "style_mixing_prob",
                "structure", "conditioning", "fused_modconv"}
_TF_D_KWARGS = {"label_size", "resolution", "num_channels", "architecture", "fmap_base",
                "fmap_max", "num_fp16_res", "conv_clamp", "mapping_fmaps", "nonlinearity",
                "resample_kernel", "freeze_layers", "mapping_layers", "mapping_lrmul",
                "mbstd_group_size", "mbstd_num_features", "structure", "conditioning"}


@dataclass
class NvlabsPickle:
    """What an NVlabs network pickle holds, as data."""

    format: str                      # one of FORMATS
    architecture: str                # "stylegan2", "stylegan3-t" or "stylegan3-r"
    G_ema: TorchNetwork | TensorFlowNetwork
    G: TorchNetwork | TensorFlowNetwork | None
    D: TorchNetwork | TensorFlowNetwork | None
    augment_p: float | None          # the augment pipe's p, None without a pipe
    training_set_kwargs: dict | None


def _torch_format(G_ema: TorchNetwork) -> tuple[str, str]:
    src = G_ema.module_src
    if "SuperresGenerator" in src or "pg_modules" in src:
        raise GanvasError("a StyleGAN-XL pickle: not supported (StyleGAN2 and StyleGAN3 are)")
    if "class SynthesisInput" in src:
        kw = G_ema.init_kwargs
        kernel, radial = kw.get("conv_kernel", 3), kw.get("use_radial_filters", False)
        if kernel == 3 and not radial:
            return "stylegan3", "stylegan3-t"
        if kernel == 1 and radial:
            return "stylegan3", "stylegan3-r"
        raise GanvasError(f"a StyleGAN3 generator with conv_kernel={kernel} and "
                          f"use_radial_filters={radial} is neither config T nor R: not supported")
    start = src.find("class Generator(")
    signature = src[start:src.find("super().__init__()", start)] if start >= 0 else ""
    # stylegan3's StyleGAN2 generator takes **synthesis_kwargs, stylegan2-ada-pytorch's a dict
    if re.search(r"\*\*synthesis_kwargs", signature):
        return "stylegan3", "stylegan2"
    if re.search(r"synthesis_kwargs\s*=\s*\{\}", signature):
        return "stylegan2-ada-pytorch", "stylegan2"
    raise GanvasError("G_ema's embedded source is neither stylegan2-ada-pytorch's nor "
                      "stylegan3's networks: not supported")


def _from_torch(data: dict) -> NvlabsPickle:
    if "G_ema" not in data:
        raise GanvasError("no G_ema in the pickle: not an NVlabs network snapshot")
    G_ema = torch_network(data["G_ema"], "G_ema", ("Generator",))
    fmt, arch = _torch_format(G_ema)
    G = torch_network(data["G"], "G", ("Generator",)) if data.get("G") is not None else None
    D = (torch_network(data["D"], "D", ("Discriminator",))
         if data.get("D") is not None else None)
    p = None
    if data.get("augment_pipe") is not None:
        pipe = torch_network(data["augment_pipe"], "augment_pipe", ("AugmentPipe",))
        tensor = pipe.state_dict.get("p")
        if tensor is None or tensor.numel() != 1:
            raise GanvasError("the augment pipe has no probability p")
        p = float(tensor.reshape(()))
    kwargs = data.get("training_set_kwargs")
    return NvlabsPickle(fmt, arch, G_ema, G, D, p, kwargs if isinstance(kwargs, dict) else None)


def _check_tf(net: TensorFlowNetwork, known: set, role: str) -> None:
    if net.version < 4:
        raise GanvasError(f"TensorFlow {role} has network version {net.version} (StyleGAN1 or "
                          "an early StyleGAN2): not supported")
    unknown = sorted(set(net.static_kwargs) - known)
    if unknown:
        raise GanvasError(f"TensorFlow {role} has the unknown kwarg {unknown[0]!r} "
                          "(not StyleGAN2 config E/F): not supported")
    if any(name.startswith(("ToRGB_lod", "FromRGB_lod")) or "/ToRGB_lod" in name
           for name in net.variables):
        raise GanvasError(f"TensorFlow {role} has the 'orig' architecture (StyleGAN2 configs "
                          "A-D): not supported")


def _from_tensorflow(nets: tuple) -> NvlabsPickle:
    G, D, Gs = (tensorflow_network(net) for net in nets)
    for net, known, role in ((G, _TF_G_KWARGS, "G"), (D, _TF_D_KWARGS, "D"),
                             (Gs, _TF_G_KWARGS, "Gs")):
        _check_tf(net, known, role)
    return NvlabsPickle("tensorflow", "stylegan2", Gs, G, D, None, None)


def read_network_pickle(path, content: bytes | None = None) -> NvlabsPickle:
    """Read an NVlabs network pickle without running anything in it (`content`: the file's
    bytes, already read and checked by the caller)."""
    path = Path(path)
    if content is None:
        if not path.is_file():
            raise GanvasError(f"no such network pickle: {path}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise GanvasError(f"{path.name}: {size} bytes is larger than any network pickle "
                              f"(limit {MAX_FILE_BYTES})")
        content = path.read_bytes()
    try:
        data = restricted_loads(content)
        if isinstance(data, tuple) and len(data) == 3 and all(
                isinstance(net, TFNetwork) for net in data):
            return _from_tensorflow(data)
        if isinstance(data, dict):
            return _from_torch(data)
        raise GanvasError(f"holds a {type(data).__name__}, not NVlabs networks")
    except GanvasError as exc:
        raise GanvasError(f"{path.name}: {exc}") from None
    except RecursionError:
        raise GanvasError(f"{path.name}: its data nests too deeply or refers to itself "
                          "(not an NVlabs network pickle)") from None
