"""An unpickler for NVlabs network pickles that builds only plain data.

Python's pickle calls whatever global a file names; NVlabs' files name a short list of them
(listed in ALLOWED). Each allowed global is replaced by a stand-in of this package that builds a
dict, a record, a numpy array or a CPU tensor; every other global is refused with one line naming
it, before it could run. `BUILD` (an object's __setstate__) is allowed only on numpy arrays and
dtypes and on the TensorFlow network record. The class source NVlabs' persistence embeds is kept
as text and never executed.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass

import numpy as np

from ganvas.errors import GanvasError
from ganvas.nvlabs.tensors import load_storage, rebuild_parameter, rebuild_tensor


@dataclass
class PersistentObject:
    """What `torch_utils.persistence._reconstruct_persistent_obj` was given: a class of an
    embedded module, by name, with the source as text and the object's __dict__ (state)."""

    class_name: str
    module_src: str
    version: int
    state: dict


class TFNetwork:
    """A `dnnlib.tflib.network.Network` as its __setstate__ receives it, kept as data (pickle
    makes it with __new__ and gives it its state with BUILD)."""

    state = None


class EasyDict(dict):
    """`dnnlib.util.EasyDict` read as a plain dict (no attribute access, no behaviour)."""


_NDARRAY = ("numpy.ndarray",)    # a marker, not a class: nothing can instantiate it


def _reconstruct_persistent_obj(meta):
    if not (isinstance(meta, dict) and meta.get("type") == "class"
            and isinstance(meta.get("class_name"), str)
            and isinstance(meta.get("module_src"), str) and isinstance(meta.get("state"), dict)):
        raise GanvasError("a persistent NVlabs object is not a class with source and state")
    return PersistentObject(meta["class_name"], meta["module_src"], meta.get("version", 0),
                            meta["state"])


def _plain_dtype(dtype) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise GanvasError("a numpy value has an object dtype, which is refused")
    return dtype


def _dtype(spec, align=False, copy=True):
    if not isinstance(spec, str):
        raise GanvasError("a numpy dtype is named by something other than a string")
    try:
        return _plain_dtype(np.dtype(spec, align=bool(align), copy=bool(copy)))
    except TypeError as exc:
        raise GanvasError(f"unknown numpy dtype {spec!r} ({exc})") from None


def _scalar(dtype, data=None):
    dtype = _plain_dtype(dtype)
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise GanvasError("a numpy scalar's bytes do not match its dtype")
    return np.frombuffer(data, dtype=dtype)[0].copy()


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY or shape != (0,) or typecode != b"b":
        raise GanvasError("a numpy array is reconstructed in an unknown way")
    return np.ndarray((0,), dtype=np.int8)


_NUMPY = {"_reconstruct": _reconstruct, "scalar": _scalar}
ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib.tflib.network", "Network"): TFNetwork,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
    ("torch.storage", "_load_from_bytes"): load_storage,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    **{(f"numpy.{core}.multiarray", name): fn
       for core in ("core", "_core") for name, fn in _NUMPY.items()},
}


class RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with find_class, persistent ids and BUILD restricted."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise GanvasError(f"refused global {module}.{name}: not one an NVlabs network "
                              "pickle uses, and it would run code") from None

    def persistent_load(self, pid):
        raise GanvasError("refused a persistent id: NVlabs network pickles use none")

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, TFNetwork):
            if not isinstance(state, dict):
                raise GanvasError("a TensorFlow network's state is not a dict")
            inst.state = state
        elif isinstance(inst, (np.ndarray, np.dtype)):
            inst.__setstate__(state)
            _plain_dtype(inst.dtype if isinstance(inst, np.ndarray) else inst)
        else:
            raise GanvasError(f"refused setting the state of a {type(inst).__name__}")

    dispatch[pickle.BUILD[0]] = load_build


def restricted_loads(data: bytes):
    """The object a pickle describes, built only from plain data; GanvasError otherwise."""
    if data[:2] == b"PK":
        raise GanvasError("a zip file (a torch.save checkpoint?), not an NVlabs network pickle")
    if data[:1] != pickle.PROTO:
        raise GanvasError("not a pickle of protocol 2 or later, as NVlabs' files are")
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except GanvasError:
        raise
    except (EOFError, struct.error, pickle.UnpicklingError) as exc:
        raise GanvasError(f"not a complete pickle ({str(exc) or 'it ends too early'})") \
            from None
    except Exception as exc:
        raise GanvasError(f"not a readable network pickle ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from None
