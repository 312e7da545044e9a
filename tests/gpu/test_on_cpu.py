"""The GPU tests' own code on the CPU (not marked gpu: CI runs it): a cheap subset of them
with a quick CPU Context, proof that their comparisons can fail, and that every family and
every module of tests/gpu is covered and marked."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
import torch

import tests.gpu
from ganvas.models import MODELS

from . import test_metrics, test_model, test_training
from .helpers import GPU, Context, stats, tiny_presets, trained_run


@pytest.fixture(scope="module")
def cpu_ctx(tmp_path_factory):
    """A quick CPU Context shared by this module (dcgan-tiny is trained once, 4 steps)."""
    return Context(device=torch.device("cpu"), quick=True,
                   tmp=tmp_path_factory.mktemp("gpu-on-cpu"))


def test_every_family_has_a_tiny_preset_for_the_gpu_tests():
    # A family without one would silently drop out of every parametrized GPU test.
    assert tiny_presets() == [f"{name}-tiny" for name in MODELS.names()]


def test_every_gpu_test_module_is_marked_gpu_and_skips_without_cuda():
    modules = [m.name for m in pkgutil.iter_modules(tests.gpu.__path__)
               if m.name.startswith("test_") and m.name != "test_on_cpu"]
    assert sorted(modules) == ["test_metrics", "test_model", "test_training"]
    for name in modules:
        module = importlib.import_module(f"tests.gpu.{name}")
        assert module.pytestmark is GPU, name
    gpu, skipif = GPU
    assert gpu.name == "gpu"
    assert skipif.name == "skipif" and skipif.args == (not torch.cuda.is_available(),)
    assert "CUDA" in skipif.kwargs["reason"]


@pytest.mark.slow
def test_train_and_resume_on_cpu(cpu_ctx):
    test_training.test_train(cpu_ctx, "dcgan-tiny", "fp32")
    assert stats(trained_run(cpu_ctx, "dcgan-tiny"))[-1]["step"] == 4    # quick: 4 steps
    test_training.test_resume(cpu_ctx, "dcgan-tiny")


def test_fp16_layers_on_cpu_and_its_tolerance_can_fail(cpu_ctx, monkeypatch):
    test_training.test_fp16_layers(cpu_ctx)         # float32 against float32 off CUDA
    # The same comparison with no room at all: even 0 difference is outside it.
    monkeypatch.setattr(test_training, "FP16_REL_TOL", -1.0)
    with pytest.raises(AssertionError, match="g_rel"):
        test_training.test_fp16_layers(cpu_ctx)


def test_a_resume_mismatch_fails_with_its_diagnosis(cpu_ctx, monkeypatch):
    """When resumed weights differ, the test fails saying whether plain repeats agree and
    whether deterministic algorithms help (below each uninterrupted run differs from the last
    and from its resumed twin: a device that is not deterministic at all)."""
    calls = []

    def differing_pair(ctx, preset, steps, tag):
        calls.append((tag, torch.are_deterministic_algorithms_enabled()))
        return {"G": {"w": torch.full((2,), float(len(calls)))}}, {"G": {"w": torch.zeros(2)}}

    monkeypatch.setattr(test_training, "resume_pair", differing_pair)
    with pytest.raises(pytest.fail.Exception,
                       match=r"'max_abs_diff': \{'G': 1\.0\}, 'repeat_equal': False, "
                             r"'deterministic_resume_equal': False"):
        test_training.test_resume(cpu_ctx, "dcgan-tiny")
    assert calls == [("dcgan-tiny-a", False), ("dcgan-tiny-b", False),
                     ("dcgan-tiny-det", True)]
    assert not torch.are_deterministic_algorithms_enabled()     # restored afterwards


def test_generate_and_interpolate_on_cpu(cpu_ctx):
    test_model.test_generate(cpu_ctx, "dcgan-tiny")
    test_model.test_interpolate(cpu_ctx, "dcgan-tiny")


def test_generate_fails_when_the_pictures_differ_from_the_cpu(cpu_ctx, monkeypatch):
    """The CPU reference is the second ganvas.load of the test; here its pictures are one
    level brighter (within the mean tolerance, so the CPU-only exact check must catch it)."""
    load, loads = test_model.ganvas.load, []

    def load_shifted_reference(run, device):
        m = load(run, device=device)
        loads.append(device)
        if len(loads) == 2:
            generate = m.generate
            m.generate = lambda *a, **k: np.clip(generate(*a, **k).astype(np.int16) + 1,
                                                 0, 255).astype(np.uint8)
        return m

    monkeypatch.setattr(test_model.ganvas, "load", load_shifted_reference)
    with pytest.raises(AssertionError, match="vs_cpu_max_levels"):
        test_model.test_generate(cpu_ctx, "dcgan-tiny")
    assert loads == ["cpu", "cpu"]


@pytest.mark.slow
def test_features_on_cpu(cpu_ctx):
    figures = {}
    test_metrics.test_features(cpu_ctx, "inception-v3", figures.__setitem__)
    assert figures["device_img_per_s"] > 0
