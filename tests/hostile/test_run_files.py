"""Hostile run files: crafted model.json, lying or cut safetensors, garbage trainer.pt,
half-written jsonl lines. Each is one GanvasError naming the file, found before any big
allocation, or (for resume) a fall back to an older snapshot that loads."""

from __future__ import annotations

import json
import shutil
import struct
import time

import pytest
import torch

import ganvas
from ganvas import checkpoint as ckpt
from ganvas.errors import GanvasError
from ganvas.runfolder import snapshots
from ganvas.runfolder.read import read_run
from ganvas.training.measure import TrainingMetrics
from ganvas.config.schema import MetricsConfig

from tests.helpers import same, usage_error, weights


@pytest.fixture
def model_dir(tiny_run, tmp_path):
    """A private copy of the tiny run's newest snapshot."""
    return shutil.copytree(snapshots.list_snapshots(tiny_run)[-1], tmp_path / "snap")


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the tiny run (snapshots at 0.128 and 0.256 kimg)."""
    run = shutil.copytree(tiny_run, tmp_path / "run")
    (run / "lock").unlink(missing_ok=True)
    return run


def edit_model(folder, **changes):
    info = json.loads((folder / "model.json").read_text())
    info["model"].update(changes)
    (folder / "model.json").write_text(json.dumps(info))


@pytest.mark.parametrize("changes, message", [
    (dict(z_dim=10 ** 9), "z-dim must be from 1 to 4,096, not 1,000,000,000"),
    (dict(g_width=2 ** 40), "g-width"),
    (dict(max_width=10 ** 6, g_width=4096), "max-width"),
    (dict(mapping_layers=10 ** 6), "mapping-layers"),
    (dict(num_classes=10 ** 9), "num_classes"),
    (dict(resolution=3), "resolution must be a power of two"),
    (dict(resolution=2 ** 20), "resolution must be a power of two"),
    (dict(channels=7), "channels must be 1, 3 or 4"),
    (dict(z_dim="100"), "z_dim has the wrong type"),
    (dict(z_dim=True), "z_dim has the wrong type"),
    (dict(z_dim=0), "z_dim must be at least 1"),
    (dict(family="nope"), "unknown model family"),
    (dict(evil=1), "unknown model field"),
])
def test_crafted_model_json_is_refused_at_once(model_dir, changes, message):
    edit_model(model_dir, **changes)
    started = time.monotonic()
    with pytest.raises(GanvasError, match=message) as e:
        ganvas.load(model_dir, device="cpu")
    assert "model.json" in str(e.value) and "\n" not in str(e.value)
    assert time.monotonic() - started < 5          # no terabyte allocation, no spinning


@pytest.mark.parametrize("text, message", [
    ("{not json", "no readable model.json"),
    ("[1, 2]", "not a JSON object"),
    ('{"format": "onnx", "version": 1}', "not a ganvas model"),
    ('{"format": "ganvas-model", "version": 99}', "not a ganvas model"),
    ('{"format": "ganvas-model", "version": 1, "model": 5}', "'model' is not an object"),
    ("\udcff", "no readable model.json"),
])
def test_model_json_that_is_not_one(model_dir, text, message):
    (model_dir / "model.json").write_bytes(text.encode(errors="surrogateescape"))
    with pytest.raises(GanvasError, match=message):
        ganvas.load(model_dir, device="cpu")


def test_cli_prints_one_line_for_a_crafted_model(model_dir, tmp_path, capsys):
    edit_model(model_dir, z_dim=10 ** 9)
    err = usage_error(["generate", str(model_dir), "--seeds", "0", "--out",
                       str(tmp_path / "out")], capsys)
    assert "z-dim" in err and "model.json" in err


def set_header(path, header, data=None):
    """Rewrite a safetensors file with `header` (and the old data unless given)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    data = raw[8 + n:] if data is None else data
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def header_of(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n])


def test_truncated_safetensors_names_the_file(model_dir):
    path = model_dir / "G_ema.safetensors"
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    with pytest.raises(GanvasError, match="G_ema.safetensors is truncated"):
        ganvas.load(model_dir, device="cpu")


@pytest.mark.parametrize("raw", [b"", b"\x01\x02", struct.pack("<Q", 2 ** 62) + b"{}",
                                 struct.pack("<Q", 5) + b"\xff\xfe{}x"])
def test_safetensors_that_is_not_one(model_dir, raw):
    (model_dir / "G_ema.safetensors").write_bytes(raw)
    with pytest.raises(GanvasError, match="G_ema.safetensors"):
        ganvas.load(model_dir, device="cpu")


def test_header_that_lies_about_shapes(model_dir):
    path = model_dir / "G_ema.safetensors"
    header = header_of(path)
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [10 ** 6, 10 ** 6]           # offsets unchanged: a lie
    set_header(path, header)
    with pytest.raises(GanvasError, match="lies about"):
        ganvas.load(model_dir, device="cpu")


def test_header_with_offsets_past_the_end(model_dir):
    path = model_dir / "G_ema.safetensors"
    header = header_of(path)
    name = next(k for k in header if k != "__metadata__")
    size = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
    header[name]["data_offsets"] = [10 ** 12, 10 ** 12 + size]
    set_header(path, header)
    with pytest.raises(GanvasError, match="truncated"):
        ganvas.load(model_dir, device="cpu")


def test_weights_of_the_wrong_shape(model_dir):
    z_dim = json.loads((model_dir / "model.json").read_text())["model"]["z_dim"]
    edit_model(model_dir, z_dim=z_dim + 7)       # not the z_dim the weights were trained with
    with pytest.raises(GanvasError, match="G_ema.safetensors does not fit"):
        ganvas.load(model_dir, device="cpu")


def test_weights_with_a_missing_tensor(model_dir):
    path = model_dir / "G_ema.safetensors"
    tensors = weights(model_dir, "G_ema")
    tensors.pop(sorted(tensors)[0])
    from safetensors.torch import save_file
    save_file(tensors, str(path))
    with pytest.raises(GanvasError, match="does not fit the model.*missing"):
        ganvas.load(model_dir, device="cpu")


def test_resume_skips_a_garbage_trainer_pt_and_stays_exact(run_copy, tiny_run, capsys):
    newest = snapshots.list_snapshots(run_copy)[-1]
    (newest / "trainer.pt").write_bytes(b"not a pickle at all " * 100)
    ganvas.resume(run_copy, progress=True)
    out = capsys.readouterr().out
    assert "skipping snapshot kimg-000000.256" in out and "trainer.pt" in out
    assert "resuming from kimg-000000.128" in out
    # Retrained from 0.128 to 0.256: bit-identical to the run that never broke.
    original = snapshots.list_snapshots(tiny_run)[-1]
    assert same(weights(newest, "G_ema"), weights(original, "G_ema"))
    torch.load(newest / "trainer.pt", weights_only=True)


def test_resume_skips_a_truncated_generator(run_copy):
    newest = snapshots.list_snapshots(run_copy)[-1]
    path = newest / "G.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    ganvas.resume(run_copy, progress=False)
    assert "skipping snapshot kimg-000000.256" in (run_copy / "log.txt").read_text()
    ckpt.read_weights(path)                       # rewritten whole


def test_resume_with_no_snapshot_that_loads(run_copy):
    for snap in snapshots.list_snapshots(run_copy):
        (snap / "D.safetensors").write_bytes(b"nope")
    with pytest.raises(GanvasError, match="no snapshot that loads"):
        ganvas.resume(run_copy, progress=False)


def test_resume_refuses_a_crafted_config_json(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["model"]["z_dim"] = 10 ** 9
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(GanvasError, match="z-dim"):
        ganvas.resume(run_copy, kimg=1, progress=False)


@pytest.mark.parametrize("text", ["[1, 2]", "{bad", '{"model": 3}'])
def test_resume_refuses_a_config_json_that_is_not_one(run_copy, text):
    (run_copy / "config.json").write_text(text)
    message = {"[1, 2]": r"config\.json is not a run configuration \(not a JSON object\)",
               "{bad": r"is not a run directory \(no readable config\.json\)",
               '{"model": 3}': r"config\.json is not a valid run configuration"}[text]
    with pytest.raises(GanvasError, match=message):
        ganvas.resume(run_copy, kimg=1, progress=False)


def test_half_written_jsonl_lines_are_skipped(run_copy):
    with open(run_copy / "stats.jsonl", "ab") as f:
        f.write(b'{"kimg": 0.3, "loss_d": 1.\xe2\x82')        # cut mid-line, mid-character
    ticks = len(read_run(run_copy).ticks)
    ganvas.resume(run_copy, kimg=0.32, progress=False)
    data = read_run(run_copy)                                 # the report reads it
    assert len(data.ticks) == ticks + 1 and data.ticks[-1]["kimg"] == 0.32
    lines = (run_copy / "stats.jsonl").read_bytes().splitlines()
    assert json.loads(lines[-1])["kimg"] == 0.32              # the new line is whole


def test_half_written_metrics_line_is_skipped_by_load_best(run_copy, toy_archive):
    shutil.copytree(snapshots.list_snapshots(run_copy)[-1], run_copy / "checkpoints" / "best")
    (run_copy / "metrics.jsonl").write_text(
        json.dumps({"kimg": 0.128, "metrics": {"swd": 3.0}}) + "\n"
        + json.dumps({"kimg": 0.256, "metrics": {"swd": 2.0}}) + "\n"
        + '{"kimg": 0.384, "metrics": {"swd": 1')
    from ganvas.data.dataset import ImageBank, load_archive
    bank = ImageBank(load_archive(toy_archive), resolution=16)
    m = TrainingMetrics(MetricsConfig(metrics="swd", num=24), bank, "x", "cpu")
    m.load_best(run_copy)
    assert m.best_value == 2.0
    assert len(read_run(run_copy).metrics) == 2


def test_a_model_json_without_its_fields_is_one_line(model_dir):
    """An empty "model" object once reached a KeyError (the architecture check read the raw
    family): the checked config's defaults now say what does not fit."""
    info = json.loads((model_dir / "model.json").read_text())
    info["model"] = {}
    (model_dir / "model.json").write_text(json.dumps(info))
    with pytest.raises(GanvasError) as e:
        ganvas.load(model_dir, device="cpu")
    assert "\n" not in str(e.value) and "G_ema.safetensors" in str(e.value)
