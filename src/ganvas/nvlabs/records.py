"""The plain records an NVlabs pickle becomes: a PyTorch network (class name, constructor
arguments, state dict) or a TensorFlow network (build function, static kwargs, TF-named
variables). Built from what the restricted unpickler returns; nothing here runs file code."""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.nvlabs.unpickle import PersistentObject, TFNetwork


@dataclass
class TorchNetwork:
    """A network of NVlabs' PyTorch code, as data: rebuilt by ganvas, never by its source."""

    class_name: str
    init_args: tuple
    init_kwargs: dict
    state_dict: dict          # "mapping.fc0.weight" -> tensor: parameters, persistent buffers
    module_src: str           # the embedded source, text only


@dataclass
class TensorFlowNetwork:
    """A `dnnlib.tflib.network.Network` of TensorFlow StyleGAN2, as data."""

    name: str
    version: int
    build_func_name: str
    static_kwargs: dict
    variables: dict           # "synthesis/4x4/Conv/weight" -> numpy array (components joined)


def plain(value):
    """EasyDicts and OrderedDicts become dicts, lists and tuples keep their kind."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    return value


def _dict(state: dict, key: str, where: str) -> dict:
    value = state.get(key, {})
    if not isinstance(value, dict):
        raise GanvasError(f"{where}: {key} is not a dict")
    return value


def _collect(obj: PersistentObject, prefix: str, out: dict) -> None:
    where = f"{obj.class_name} {prefix.rstrip('.') or '(top)'}"
    state = obj.state
    skipped = state.get("_non_persistent_buffers_set", set())
    tensors = list(_dict(state, "_parameters", where).items())
    tensors += [(k, v) for k, v in _dict(state, "_buffers", where).items() if k not in skipped]
    for name, tensor in tensors:
        if tensor is None:
            continue
        if not isinstance(tensor, torch.Tensor):
            raise GanvasError(f"{where}: {name} is a {type(tensor).__name__}, not a tensor")
        out[prefix + name] = tensor
    for name, child in _dict(state, "_modules", where).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise GanvasError(f"{where}: submodule {name} is a {type(child).__name__}, not an "
                              "NVlabs persistent class")
        _collect(child, f"{prefix}{name}.", out)


def torch_network(obj, role: str, classes: tuple) -> TorchNetwork:
    """The record of one top-level network (`G`, `D`, `G_ema`, `augment_pipe`)."""
    if not isinstance(obj, PersistentObject):
        raise GanvasError(f"{role} is a {type(obj).__name__}, not an NVlabs network")
    if obj.class_name not in classes:
        raise GanvasError(f"{role} is of an unknown class {obj.class_name} "
                          f"(known: {', '.join(classes)})")
    args, kwargs = obj.state.get("_init_args", ()), obj.state.get("_init_kwargs", {})
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise GanvasError(f"{role} has no recorded constructor arguments")
    state_dict: dict = {}
    _collect(obj, "", state_dict)
    return TorchNetwork(obj.class_name, plain(args), plain(kwargs), state_dict, obj.module_src)


def _tf_variables(net: TFNetwork, prefix: str, out: dict) -> None:
    state = net.state
    for pair in state.get("variables", ()):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], np.ndarray)):
            raise GanvasError(f"TensorFlow network {prefix or state.get('name')}: a variable "
                              "is not a (name, array) pair")
        out[prefix + pair[0]] = pair[1]
    components = state.get("components") or {}
    if not isinstance(components, dict):
        raise GanvasError("a TensorFlow network's components are not a dict")
    for name, comp in components.items():
        if not isinstance(comp, TFNetwork) or not isinstance(comp.state, dict):
            raise GanvasError(f"TensorFlow component {name} is not a network")
        _tf_variables(comp, f"{prefix}{name}/", out)


def tensorflow_network(net) -> TensorFlowNetwork:
    if not isinstance(net, TFNetwork) or not isinstance(net.state, dict):
        raise GanvasError("a TensorFlow network has no state")
    state = net.state
    variables: dict = collections.OrderedDict()
    _tf_variables(net, "", variables)
    kwargs = state.get("static_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise GanvasError("a TensorFlow network's static_kwargs are not a dict")
    version = state.get("version", 0)
    if type(version) is not int:
        raise GanvasError("a TensorFlow network's version is not an integer")
    return TensorFlowNetwork(str(state.get("name")), version,
                             str(state.get("build_func_name")), plain(kwargs), dict(variables))
