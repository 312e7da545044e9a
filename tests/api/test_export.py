"""ganvas export: a standalone model folder that loads and matches, ONNX graphs that
onnxruntime runs with PyTorch's outputs (dynamic batch), and the user's mistakes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import ganvas
from ganvas.cli import main
from ganvas.export import ONNX_ATOL

from tests.helpers import DC, SG2, export_random

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-models")
    return {"dcgan": export_random(root / "dc", **DC),
            "cdcgan": export_random(root / "cdc", ("cat", "dog", "fox"), **DC),
            "stylegan2": export_random(root / "sg2", **SG2)}


def run(argv) -> int:
    return main([str(a) for a in argv])


def onnx_images(path, model, seeds, truncation=1.0) -> np.ndarray:
    """Run generator.onnx on the seeds' latents (and classes, and psi for StyleGAN2)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"z": model.z(seeds).numpy()}
    if model.num_classes:
        feed["labels"] = model.labels(seeds).numpy()
    feed["truncation"] = np.array([truncation], np.float32)   # every family: its own rule
    assert [i.name for i in session.get_inputs()] == list(feed)
    return session.run(None, feed)[0]


@pytest.mark.parametrize("name", ["dcgan", "cdcgan", "stylegan2"])
def test_onnx_matches_pytorch_for_any_batch_size(models, name, tmp_path, capsys):
    model = ganvas.load(models[name])
    path = model.export(tmp_path / "onnx", format="onnx")
    assert path == tmp_path / "onnx" / "generator.onnx"
    assert "max abs error" in capsys.readouterr().out
    psi = 0.6                                 # z * psi for DCGAN, towards w_avg for StyleGAN2
    for seeds in ([7], [1, 2, 3, 4, 5, 6, 7]):          # traced with 2: the batch is dynamic
        got = onnx_images(path, model, seeds, psi)
        want = model.sampler.images(model.z(seeds), model.labels(seeds),
                                    ganvas.Look(truncation=psi)).numpy()
        assert got.shape == (len(seeds), 3, model.resolution, model.resolution)
        assert got.dtype == np.float32 and np.abs(got - want).max() < ONNX_ATOL


def test_onnx_uint8_output_is_what_generate_saves(models, tmp_path):
    model = ganvas.load(models["cdcgan"])
    assert run(["export", models["cdcgan"], "--format", "onnx", "--uint8",
                "--out", tmp_path]) == 0
    got = onnx_images(tmp_path / "generator.onnx", model, [0, 1, 2])
    want = model.generate([0, 1, 2])
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_safetensors_export_is_a_standalone_model(tiny_run, tmp_path):
    out = tmp_path / "exported"
    assert run(["export", tiny_run, "--format", "safetensors", "--out", out]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["G_ema.safetensors", "model.json"]
    source, exported = ganvas.load(tiny_run), ganvas.load(out)
    assert exported.kimg == source.kimg and exported.info["model"] == source.info["model"]
    assert np.array_equal(exported.generate(range(5)), source.generate(range(5)))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run(["export", tiny_run, "--out", out]) == 2        # an old export is kept (issue 31)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("argv,needle", [
    (["--format", "tflite"], "unknown export format"),
    (["--format", "safetensors", "--uint8"], "uint8 output"),
])
def test_bad_options_exit_2(models, tmp_path, capsys, argv, needle):
    assert run(["export", models["dcgan"], "--out", tmp_path / "x", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_missing_model_and_occupied_folder_exit_2(models, tiny_run, tmp_path, capsys):
    assert run(["export", tmp_path / "nothing", "--out", tmp_path / "x"]) == 2
    assert "model not found" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert run(["export", models["dcgan"], "--out", tmp_path / "mine"]) == 2
    assert "already holds files (notes.txt)" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert run(["export", tiny_run, "--out", tiny_run]) == 2           # never over a run


def test_missing_onnxruntime_names_the_pip_command(models, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)          # import fails
    assert run(["export", models["dcgan"], "--format", "onnx", "--out", tmp_path]) == 2
    err = capsys.readouterr().err
    assert "pip install onnx onnxscript onnxruntime" in err and err.count("\n") == 1
    assert not (tmp_path / "generator.onnx").exists()


def test_a_failed_check_leaves_no_file(models, tmp_path, monkeypatch, capsys):
    import ganvas.export as ex
    monkeypatch.setattr(ex, "ONNX_ATOL", -1.0)                     # nothing can pass
    assert run(["export", models["dcgan"], "--format", "onnx", "--out", tmp_path]) == 2
    assert "differs from PyTorch" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == []

