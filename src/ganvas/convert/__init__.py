"""Networks read from other tools' files (ganvas.nvlabs) turned into ganvas families' configs
and state dicts: stylegan2.py (NVlabs' PyTorch StyleGAN2 onto ganvas's stylegan2 family),
tensorflow.py (TensorFlow StyleGAN2's records rewritten into NVlabs' PyTorch layout first),
stylegan3.py (NVlabs' StyleGAN3-T and -R onto ganvas's stylegan3-t and stylegan3-r).

`convert_pickle(net)` is the one entry: an NvlabsPickle -> `Converted` (a ModelConfig and the
state dicts of G_ema and, where the file has them, G and D, with the augmentation p). A new
architecture is one more converter in CONVERTERS (keyed by NvlabsPickle.architecture); a new
file layout of a known architecture is a function that rewrites its records into the layout
the converter reads (as TensorFlow's are rewritten into NVlabs' PyTorch names)."""

from __future__ import annotations

from typing import Callable

from ..errors import GanvasError
from ..nvlabs import NvlabsPickle
from . import stylegan2, stylegan3
from .converted import Converted

__all__ = ["Converted", "convert_pickle"]


# NvlabsPickle.architecture -> its converter
CONVERTERS: dict[str, Callable[[NvlabsPickle], Converted]] = {
    "stylegan2": stylegan2.convert_networks,
    "stylegan3-t": stylegan3.convert_networks,
    "stylegan3-r": stylegan3.convert_networks,
}


def convert_pickle(net: NvlabsPickle) -> Converted:
    """An NVlabs network pickle (read by ganvas.nvlabs, never run) as ganvas networks; a
    GanvasError naming what cannot follow."""
    converter = CONVERTERS.get(net.architecture)
    if converter is None:
        raise GanvasError(f"{net.format} {net.architecture}: ganvas cannot convert this "
                          "architecture yet")
    return converter(net)
