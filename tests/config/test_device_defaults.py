"""Defaults that follow the device: `--precision auto` (bf16 where the hardware has it) and
the preset of a run that names none (dcgan-tiny on a CPU; on a GPU the data's recipe:
test_gpu_default.py), each recorded in config.json with the reason, said on the console and in
a dry run, overridden by any flag and kept by a resume."""

from __future__ import annotations

import json

import pytest
import torch

import ganvas
from ganvas import device as device_rule
from ganvas.config import resolve
from ganvas.cli import main
from ganvas.config.presets import CPU_DEFAULT_PRESET, DEFAULT_PRESET
from ganvas.config.resolve import preset, settle
from ganvas.config.schema import RunConfig

FAST = ["--batch", "16", "--kimg", "0.032", "--snap-kimg", "0.032", "--tick-kimg", "0.032"]
CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")


def only_run(out):
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def train_config(run) -> dict:
    return json.loads((run / "config.json").read_text())["train"]


@pytest.mark.parametrize("native", [True, False])
def test_cpu_auto_precision_follows_native_bf16(monkeypatch, native):
    monkeypatch.setattr(device_rule, "native_bf16_cpu", lambda: native)
    precision, why = device_rule.fast_precision(CPU)
    assert precision == ("bf16" if native else "fp32")
    assert why.startswith("auto: this CPU") and ("no native" in why) != native


def test_cuda_auto_precision_bf16_unless_the_model_has_float16_layers(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert device_rule.fast_precision(CUDA)[0] == "bf16"
    precision, why = device_rule.fast_precision(CUDA, own_fp16=True)
    assert precision == "fp32" and "float16 layers" in why
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert device_rule.fast_precision(CUDA) == ("fp32", "auto: this CUDA GPU has no bfloat16")
    assert device_rule.fast_precision(MPS)[0] == "fp32"


def test_settle_decides_auto_and_keeps_a_concrete_precision(monkeypatch):
    monkeypatch.setattr(device_rule, "native_bf16_cpu", lambda: True)
    cfg = RunConfig()
    assert cfg.train.precision == "auto"
    settled = settle(cfg, CPU)
    assert (settled.train.precision, settled.train.precision_chosen_by) == (
        "bf16", "auto: this CPU has native bfloat16 (AVX-512 BF16 / AMX)")
    assert settle(settled, CPU) == settled
    fp32 = preset("dcgan-tiny", precision="fp32").config
    assert settle(fp32, CPU) == fp32
    # StyleGAN2's own float16 layers (num_fp16_res: Family.own_fp16) keep CUDA autocast off.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    sg2 = settle(RunConfig(model=preset("stylegan2").config.model), CUDA)
    assert sg2.model.num_fp16_res > 0 and sg2.train.precision == "fp32"


def test_run_records_the_auto_precision_says_it_and_resume_keeps_it(toy_archive, tmp_path,
                                                                     capsys, monkeypatch):
    monkeypatch.setattr(device_rule, "native_bf16_cpu", lambda: True)
    out = tmp_path / "runs"
    assert main(["train", str(toy_archive), "--out", str(out), *FAST]) == 0
    run = only_run(out)
    t = train_config(run)
    assert (t["precision"], t["precision_chosen_by"]) == (
        "bf16", "auto: this CPU has native bfloat16 (AVX-512 BF16 / AMX)")
    assert ("precision: bf16 (auto: this CPU has native bfloat16 (AVX-512 BF16 / AMX); "
            "--precision to choose)") in capsys.readouterr().out
    # The same machine without native bf16 would pick fp32; the run keeps what it recorded.
    monkeypatch.setattr(device_rule, "native_bf16_cpu", lambda: False)
    ganvas.resume(run, kimg=0.064, progress=False)
    assert train_config(run)["precision"] == "bf16"


def test_a_given_precision_wins(toy_archive, tmp_path, monkeypatch):
    monkeypatch.setattr(device_rule, "native_bf16_cpu", lambda: True)
    out = tmp_path / "runs"
    assert main(["train", str(toy_archive), "--out", str(out), "--precision", "fp32",
                 *FAST]) == 0
    t = train_config(only_run(out))
    assert (t["precision"], t["precision_chosen_by"]) == ("fp32", "")


def test_cpu_default_preset_is_the_tiny_twin(toy_archive, tmp_path, capsys):
    plan = ganvas.train(str(toy_archive), out=tmp_path, dry_run=True)
    t = plan.config.train
    assert t.preset == CPU_DEFAULT_PRESET == "dcgan-tiny"
    assert plan.sources["train.preset"] == "default on cpu"
    assert "--model dcgan" in t.preset_chosen_by
    assert plan.config.model.g_width == preset("dcgan-tiny").config.model.g_width
    # A run says why on its first line and records it.
    out = tmp_path / "runs"
    assert main(["train", str(toy_archive), "--out", str(out), *FAST]) == 0
    assert train_config(only_run(out))["preset"] == "dcgan-tiny"
    said = capsys.readouterr().out
    assert "training dcgan-tiny (dcgan; the default on a CPU; --model dcgan for" in said


def test_default_preset_on_a_gpu_at_16_px_is_the_full_dcgan(toy_archive, tmp_path,
                                                            monkeypatch):
    monkeypatch.setattr(resolve, "pick_device", lambda name: CUDA)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    plan = ganvas.train(str(toy_archive), out=tmp_path, dry_run=True)
    # The toy set's 16 px is below FastGAN's and StyleGAN2's 32 px.
    assert plan.config.train.preset == DEFAULT_PRESET == "dcgan"
    assert "at 16 px" in plan.config.train.preset_chosen_by
    assert plan.sources["train.preset"] == "default on cuda"
    assert plan.config.train.precision == "bf16"
    assert plan.sources["train.precision"] == "auto: this CUDA GPU supports bfloat16"


def test_a_named_preset_and_a_fine_tuning_source_win(toy_archive, tiny_run, tmp_path):
    plan = ganvas.train(str(toy_archive), out=tmp_path, model="dcgan", dry_run=True)
    assert plan.config.train.preset == "dcgan" and plan.config.train.preset_chosen_by == ""
    assert plan.sources["train.preset"] == resolve.GIVEN
    # A replayed config.json of a default run keeps its preset, not the default's reason.
    out = tmp_path / "runs"
    assert main(["train", str(toy_archive), "--out", str(out), *FAST]) == 0
    replay = ganvas.train(config=str(only_run(out) / "config.json"), out=tmp_path,
                          dry_run=True)
    assert replay.config.train.preset == "dcgan-tiny"
    assert replay.config.train.preset_chosen_by == ""
    recorded = RunConfig.from_dict(json.loads((tiny_run / "config.json").read_text()))
    tuned = ganvas.train(str(toy_archive), out=tmp_path, init_from=str(tiny_run), dry_run=True)
    assert tuned.config.train.preset == recorded.train.preset
    assert tuned.sources["train.preset"] == resolve.SOURCE
