"""Distrust of model files: model.json's values and safetensors headers, checked before any
weight is allocated, and the weights' values once read (finite).

A crafted model.json (z_dim 10**9) would make building the model allocate terabytes, and a
truncated or lying safetensors file would fail deep inside torch; both become one GanvasError
naming the file. Shapes are compared with a model built on the "meta" device (no memory).
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import fields
from pathlib import Path

import torch
import torch.nn as nn

from .config.schema import ModelConfig
from .errors import ConfigError, GanvasError
from .models import check_model

HEADER_CAP = 64 * 2 ** 20          # bytes of a safetensors JSON header
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}


def model_config(values, source: str | os.PathLike) -> ModelConfig:
    """model.json's "model" object (or config.json's "model" section) -> a checked ModelConfig;
    a GanvasError naming `source` for an unknown key, a wrong type or a value out of range."""
    if not isinstance(values, dict):
        raise GanvasError(f"{source}: 'model' is not an object")
    types = {f.name: f.type for f in fields(ModelConfig)}
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise GanvasError(f"{source}: unknown model field(s) {', '.join(unknown)}")
    for name, value in values.items():
        if not _type_ok(types[name], value):
            raise GanvasError(f"{source}: model field {name} has the wrong type "
                              f"({type(value).__name__} {value!r:.40})")
    cfg = ModelConfig(**values)
    check_bounds(cfg, source)
    return cfg


def check_bounds(cfg: ModelConfig, source: str | os.PathLike) -> None:
    """models.check_model (types, ranges and caps far above any sane model and far below
    what would exhaust a machine) as one GanvasError naming `source`."""
    try:
        check_model(cfg)
    except ConfigError as e:
        raise GanvasError(f"{source}: {e}") from None


def _type_ok(annotation, value) -> bool:
    """Whether a JSON value fits a ModelConfig field's annotation (a string, as the module
    uses `from __future__ import annotations`)."""
    kind = str(annotation).replace(" ", "")
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind in ("float|None", "Optional[float]"):
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    return True


def safetensors_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) from a safetensors file's header, read without its tensors;
    a GanvasError naming the file when it is truncated or its header is inconsistent."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise GanvasError(f"{path} is truncated (no safetensors header)")
            (n,) = struct.unpack("<Q", head)
            if n > HEADER_CAP or 8 + n > size:
                raise GanvasError(f"{path} is truncated or not a safetensors file "
                                  f"(header of {n} bytes in a file of {size})")
            header = json.loads(f.read(n))
    except OSError as e:
        raise GanvasError(f"cannot read {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GanvasError(f"{path} is not a safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise GanvasError(f"{path} is not a safetensors file (header is not an object)")
    data = size - 8 - n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            ok = (dtype in DTYPE_BYTES and all(isinstance(s, int) and s >= 0 for s in shape)
                  and isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise GanvasError(f"{path}: malformed header entry for {name!r}")
        if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise GanvasError(f"{path}: the header lies about {name!r} (shape {list(shape)} "
                              f"does not fit {end - begin} bytes)")
        if end > data:
            raise GanvasError(f"{path} is truncated ({name!r} ends at byte {end} of {data})")
        out[name] = (dtype, tuple(shape))
    return out


def check_weights(path: str | os.PathLike, module: nn.Module) -> None:
    """A GanvasError naming `path` unless its tensors have exactly `module`'s state_dict names
    and shapes (`module` may live on the meta device)."""
    header = safetensors_header(path)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        what = (f"missing {', '.join(missing[:3])}" if missing
                else f"unexpected {', '.join(extra[:3])}")
        raise GanvasError(f"{path} does not fit the model of its model.json ({what})")
    for name, shape in expected.items():
        if header[name][1] != shape:
            raise GanvasError(f"{path} does not fit the model of its model.json: {name} has "
                              f"shape {list(header[name][1])}, expected {list(shape)}")


def check_finite(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> None:
    """A GanvasError naming `path` and the first tensor holding a NaN or an infinity: ganvas
    never saves one (a run rolls back instead), so such a file is damaged or crafted."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            what = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
            raise GanvasError(f"{path}: tensor {name} holds {what} values (ganvas never saves "
                              f"them: the file is damaged or was not written by ganvas)")


def meta_module(build, cfg: ModelConfig) -> nn.Module:
    """build(cfg) on the meta device: the shapes of a model without its memory."""
    with torch.device("meta"):
        return build(cfg)
