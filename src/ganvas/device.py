"""The one device rule: every verb that computes takes `device` and resolves it here.

"auto" takes CUDA when present, then Apple's MPS, then the CPU; anything else must name a
device this machine has ("cpu", "cuda", "cuda:N", "mps"), or it is a one-line GanvasError.
"""

from __future__ import annotations

import torch

from .errors import GanvasError

DEVICE_HELP = "auto (default: CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(name: str | torch.device | None = "auto") -> torch.device:
    """'auto' (or None) -> cuda if present, else mps, else cpu; 'cpu', 'cuda', 'cuda:N',
    'mps' -> that device, checked to exist here."""
    if isinstance(name, torch.device):
        return name
    name = "auto" if name is None else str(name).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GanvasError(f"unknown device {name!r}; choose from {DEVICE_HELP}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise GanvasError(f"device {name!r}: this machine has no CUDA GPU (use auto or cpu)")
        if device.index is not None and device.index >= count:
            raise GanvasError(f"device {name!r}: this machine has {count} CUDA GPU(s), "
                              f"cuda:0 to cuda:{count - 1}")
        return device
    if device.type == "mps":
        if not mps_available():
            raise GanvasError(f"device {name!r}: MPS is not available here (use auto or cpu)")
        return device
    raise GanvasError(f"unknown device {name!r}; choose from {DEVICE_HELP}")


def native_bf16_cpu() -> bool:
    """Whether this CPU has native bfloat16 convolutions (AVX-512 BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fast_precision(device: torch.device, own_fp16: bool = False) -> tuple[str, str]:
    """What `--precision auto` becomes on `device`, and why: bf16 autocast on a CPU with
    native bfloat16 and on a CUDA GPU that supports bf16, unless the model's own layers run in
    float16 there (`own_fp16`: StyleGAN2's num_fp16_res; bf16 autocast would override their
    casts), fp32 elsewhere (a CPU without native bf16 emulates it: slower than fp32)."""
    if device.type == "cuda":
        if own_fp16:
            return "fp32", "auto: the model's own float16 layers on CUDA (num-fp16-res)"
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: this CUDA GPU supports bfloat16"
        return "fp32", "auto: this CUDA GPU has no bfloat16"
    if device.type == "cpu":
        if native_bf16_cpu():
            return "bf16", "auto: this CPU has native bfloat16 (AVX-512 BF16 / AMX)"
        return "fp32", "auto: this CPU has no native bfloat16"
    return "fp32", f"auto: {device.type} trains in float32"
