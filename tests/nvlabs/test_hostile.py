"""Hostile pickles: each is refused with one line before anything in it runs."""

from __future__ import annotations

import collections
import io
import os
import pickle
import warnings

import numpy as np
import pytest
import torch

from ganvas.errors import GanvasError
from ganvas.nvlabs import read_network_pickle
from ganvas.nvlabs.unpickle import restricted_loads
from tests.nvlabs.layouts import Network, dumps, snapshot, tf_stylegan2


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Reduces:
    """Pickles as a call of any callable with any arguments."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class WithStateOf:
    """Pickles as fn(*args) followed by setting the state."""

    def __init__(self, fn, args, state):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args, self.state)


class WithState:
    def __reduce__(self):
        return (collections.OrderedDict, (), {"__class__": "x"})


def _refused(data: bytes, path) -> str:
    path.write_bytes(data)
    with pytest.raises(GanvasError) as err:
        read_network_pickle(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(path.name)
    return message


def _storage_bytes(tensor) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(tensor.storage(), buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def test_a_command_in_reduce_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"G_ema": RunsCommand(marker)})
    message = _refused(data, tmp_path / "evil.pkl")
    assert f"{os.system.__module__}.system" in message and not marker.exists()
    with pytest.raises(GanvasError):
        restricted_loads(data)
    assert not marker.exists()


@pytest.mark.parametrize("fn", [getattr, eval, collections.Counter])
def test_a_global_outside_the_list_is_refused_naming_it(tmp_path, fn):
    message = _refused(pickle.dumps(Reduces(fn, "1")), tmp_path / "other.pkl")
    assert f"{fn.__module__}.{fn.__qualname__}" in message


def test_a_persistent_id_is_refused(tmp_path):
    class WithIds(pickle.Pickler):
        def persistent_id(self, obj):
            return "x" if obj == "secret" else None
    buf = io.BytesIO()
    WithIds(buf).dump({"G_ema": "secret"})
    assert "persistent id" in _refused(buf.getvalue(), tmp_path / "ids.pkl")


def test_setting_state_of_a_dict_is_refused(tmp_path):
    assert "OrderedDict" in _refused(pickle.dumps(WithState()), tmp_path / "state.pkl")


def test_an_object_array_is_refused(tmp_path):
    data = pickle.dumps(np.array([1, None], dtype=object))
    assert "object dtype" in _refused(data, tmp_path / "objects.pkl")


def test_a_tensor_larger_than_its_storage_is_refused(tmp_path):
    storage = Reduces(torch.storage._load_from_bytes, _storage_bytes(torch.zeros(4)))
    tensor = Reduces(torch._utils._rebuild_tensor_v2, storage, 0, (100,), (1,), False,
                     collections.OrderedDict())
    message = _refused(pickle.dumps({"G_ema": tensor}), tmp_path / "short.pkl")
    assert "needs 100 elements" in message and "holds 4" in message
    strided = Reduces(torch._utils._rebuild_tensor_v2, storage, 1, (2, 2), (2, 1), False,
                      collections.OrderedDict())
    assert "needs 5 elements" in _refused(pickle.dumps(strided), tmp_path / "strided.pkl")


def test_a_storage_that_declares_more_than_it_holds_is_refused(tmp_path):
    short = _storage_bytes(torch.zeros(4))[:-4]
    storage = Reduces(torch.storage._load_from_bytes, short)
    assert "declares 24 bytes" in _refused(pickle.dumps(storage), tmp_path / "decl.pkl")


def test_a_truncated_file_is_one_line(tmp_path):
    data = snapshot()
    for cut in (len(data) // 2, len(data) - 1, 3):
        assert "complete pickle" in _refused(data[:cut], tmp_path / "cut.pkl")


def test_not_a_pickle_and_no_file(tmp_path):
    assert "a zip file" in _refused(b"PK\x03\x04 a zip", tmp_path / "zip.pkl")
    assert "not a pickle" in _refused(b"hello", tmp_path / "text.pkl")
    assert "not a pickle" in _refused(b"", tmp_path / "empty.pkl")
    with pytest.raises(GanvasError, match="no such network pickle"):
        read_network_pickle(tmp_path / "absent.pkl")


def _tf_networks(g_state: dict) -> bytes:
    """(G, D, Gs) in TensorFlow's layout with G's state replaced by g_state's entries."""
    state = {"version": 4, "name": "G", "static_kwargs": {"resolution": 8}, "components": {},
             "build_module_src": "", "build_func_name": "G_main", "variables": []}
    return dumps((Network({**state, **g_state}), Network(state), Network(state)))


def test_a_command_in_a_tensorflow_network_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    for g_state in ({"variables": [("dlatent_avg", RunsCommand(marker))]},
                    {"static_kwargs": {"resolution": RunsCommand(marker)}}):
        message = _refused(_tf_networks(g_state), tmp_path / "evil-tf.pkl")
        assert f"{os.system.__module__}.system" in message
    assert not marker.exists()


def test_a_global_outside_the_list_in_a_tensorflow_network_is_refused(tmp_path):
    data = _tf_networks({"components": {"mapping": Reduces(eval, "1")}})
    assert "builtins.eval" in _refused(data, tmp_path / "other-tf.pkl")


def test_an_array_whose_bytes_are_too_few_is_refused(tmp_path):
    """numpy's own reduction of an array, with 16 bytes for 100 float32 values."""
    reconstruct, args, _ = np.zeros(1).__reduce__()
    short = WithStateOf(reconstruct, args, (1, (100,), np.dtype("float32"), False, bytes(16)))
    message = _refused(_tf_networks({"variables": [("dlatent_avg", short)]}),
                       tmp_path / "short-tf.pkl")
    assert "buffer size does not match array size" in message


def test_tensorflow_variables_of_a_wrong_kind_are_refused(tmp_path):
    objects = _tf_networks({"variables": [("dlatent_avg", np.array([1, None], dtype=object))]})
    assert "object dtype" in _refused(objects, tmp_path / "objects-tf.pkl")
    assert "not a (name, array) pair" in _refused(
        _tf_networks({"variables": [("dlatent_avg", [1.0, 2.0])]}), tmp_path / "list-tf.pkl")


def test_a_tensorflow_network_with_unknown_static_kwargs_is_refused(tmp_path):
    data = tf_stylegan2(d_kwargs={"resolution": 8, "mbstd_group_size": 2, "fancy": 1})
    assert "unknown kwarg 'fancy'" in _refused(data, tmp_path / "kwargs-tf.pkl")
