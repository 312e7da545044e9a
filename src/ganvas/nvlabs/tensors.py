"""Tensors inside an NVlabs pickle, built as plain data.

A torch tensor pickled with Python's pickle (not torch.save) is a call of
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` whose storage is
`torch.storage._load_from_bytes(BYTES)`: BYTES is a small torch file in torch's legacy format.
Its header is read here with an unpickler that builds nothing but a few names and numbers, the
storage's length is checked against the bytes that hold it, and only then is the file read by
torch's own weights-only loader. A tensor's size and stride are checked against its storage.
"""

from __future__ import annotations

import io
import math
import pickle
import warnings

import torch

from ganvas.errors import GanvasError

# The element types a legacy torch file names as `torch <Name>Storage`.
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64, "IntStorage": torch.int32, "ShortStorage": torch.int16,
    "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _HeaderReader(pickle._Unpickler):
    """Reads one header pickle of a legacy torch file: storage names become strings, a
    persistent id is recorded, nothing else is allowed."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = []

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise GanvasError(f"refused {module}.{name} inside a nested tensor file")

    def persistent_load(self, pid):
        self.storages.append(pid)
        return None


def _check_legacy_header(data: bytes) -> None:
    """Every storage the nested file declares fits in the bytes after its header (each
    storage's data is an 8-byte length and its elements)."""
    stream = io.BytesIO(data)
    try:
        parts = [_HeaderReader(stream).load() for _ in range(3)]
        reader = _HeaderReader(stream)
        reader.load()
        _HeaderReader(stream).load()          # the list of storage keys
    except GanvasError:
        raise
    except Exception as exc:
        raise GanvasError(f"a nested tensor file is damaged ({type(exc).__name__})") from None
    if parts[0] != _LEGACY_MAGIC:
        raise GanvasError("a nested tensor file is not in torch's legacy format")
    total = 0
    for pid in reader.storages:
        # ("storage", type name, key, location, number of elements, view metadata)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and pid[1] in _STORAGE_DTYPES and type(pid[4]) is int and pid[4] >= 0
                and pid[5] is None):
            raise GanvasError("a nested tensor file declares a storage in an unknown form")
        total += 8 + pid[4] * _STORAGE_DTYPES[pid[1]].itemsize
    held = len(data) - stream.tell()
    if total > held:
        raise GanvasError(f"a nested tensor file declares {total} bytes of storage but holds "
                          f"{held}")


def load_storage(data) -> torch.TypedStorage:
    """`torch.storage._load_from_bytes`, read weights-only after its header is checked."""
    if not isinstance(data, bytes):
        raise GanvasError("a tensor storage is not given as bytes")
    _check_legacy_header(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            storage = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        except Exception as exc:
            raise GanvasError(f"a nested tensor file cannot be read ({type(exc).__name__})") \
                from None
    if not isinstance(storage, torch.TypedStorage):
        raise GanvasError("a nested tensor file holds something other than one storage")
    return storage


def _ints(value, what: str) -> tuple:
    if not (isinstance(value, tuple) and all(type(v) is int and v >= 0 for v in value)):
        raise GanvasError(f"a tensor's {what} is not a tuple of non-negative integers")
    return value


def rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None,
                   metadata=None) -> torch.Tensor:
    """`torch._utils._rebuild_tensor_v2`: a plain CPU tensor viewing a checked storage."""
    if not isinstance(storage, torch.TypedStorage):
        raise GanvasError("a tensor is built on something other than a storage")
    if type(offset) is not int or offset < 0:
        raise GanvasError("a tensor's storage offset is not a non-negative integer")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride):
        raise GanvasError("a tensor's size and stride differ in length")
    if hooks or metadata:
        raise GanvasError("a tensor carries hooks or metadata, which are refused")
    if math.prod(size) == 0:
        end = offset
    else:
        end = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    untyped = storage._untyped_storage
    held = untyped.nbytes() // storage.dtype.itemsize
    if end > held:
        raise GanvasError(f"a tensor of size {list(size)} needs {end} elements but its "
                          f"storage holds {held}")
    tensor = torch.empty(0, dtype=storage.dtype)
    tensor.set_(untyped, offset, size, stride)
    return tensor


def rebuild_parameter(data, requires_grad=False, hooks=None) -> torch.Tensor:
    """`torch._utils._rebuild_parameter`: the parameter's data as a plain tensor."""
    if not isinstance(data, torch.Tensor):
        raise GanvasError("a parameter is built on something other than a tensor")
    if hooks:
        raise GanvasError("a parameter carries hooks, which are refused")
    return data
