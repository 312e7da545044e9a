"""Hostile input, round two (issue 31, items 4-11, 13, 14): files and settings that were
trusted and should not have been, and failures that printed more than one line. Each case
runs through the CLI and must be one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file, save_file

from tests.helpers import DC, export_random, usage_error


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """{"nan": model, "inf": model}: tiny exported DCGANs whose G_ema holds a NaN or an
    infinity in one weight."""
    out = {}
    for kind, value in (("nan", float("nan")), ("inf", float("inf"))):
        folder = export_random(tmp_path_factory.mktemp(kind) / "model", **DC)
        path = folder / "G_ema.safetensors"
        tensors = load_file(str(path))
        name = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
        tensors[name].view(-1)[1] = value
        save_file(tensors, str(path))
        out[kind] = (folder, name)
    return out


@pytest.mark.parametrize("kind", ["nan", "inf"])
@pytest.mark.parametrize("verb", ["generate", "eval", "blend", "export"])
def test_weights_that_are_not_finite_are_refused(poisoned, kind, verb, tmp_path, capsys):
    model, tensor = poisoned[kind]
    argv = {"generate": ["generate", model, "--seeds", "0-1", "--out", tmp_path / "out"],
            "eval": ["eval", model, "--metrics", "swd", "--num", "8", "--out",
                     tmp_path / "out.json"],
            "blend": ["blend", model, model, "--swap-at", "8", "--out", tmp_path / "out"],
            "export": ["export", model, "--out", tmp_path / "out"]}[verb]
    err = usage_error([str(a) for a in argv + ["--device", "cpu"] * (verb != "blend")], capsys)
    assert "G_ema.safetensors" in err and tensor in err
    assert ("NaN" if kind == "nan" else "infinite") in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.json").exists()
