"""The preset of a run that names none, on a GPU, follows the data: FastGAN below
FEW_SHOT_MAX_IMAGES images, StyleGAN2-ADA from there (the DCGAN below FastGAN's smallest
resolution or when the count is unknown); the CPU keeps dcgan-tiny. The choice and its reason
are recorded in config.json (preset_chosen_by), shown by a dry run, and kept by a resume. The
GPU is faked (resolve.pick_device); nothing here trains on one."""

from __future__ import annotations

import json

import pytest
import torch

import ganvas
from ganvas.cli import main
from ganvas.config import resolve
from ganvas.config.presets import (CPU_DEFAULT_PRESET, FEW_SHOT_MAX_IMAGES, FEW_SHOT_PRESET,
                                   LIMITED_DATA_PRESET, default_preset)
from ganvas.training import runs
from tests.helpers import make_png_folder, make_toy_archive

CUDA = torch.device("cuda")
CPU_REASON = "the default on a CPU; --model dcgan for the full-width recipe"


def fake_cuda(patch: pytest.MonkeyPatch) -> None:
    """Plans made as on a CUDA GPU with bfloat16."""
    patch.setattr(resolve, "pick_device", lambda name: CUDA)
    patch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


@pytest.fixture
def on_cuda(monkeypatch):
    fake_cuda(monkeypatch)


@pytest.fixture(scope="module")
def few(tmp_path_factory):
    """400 pictures at 32 px: FastGAN's regime."""
    return make_toy_archive(tmp_path_factory.mktemp("few") / "few.zip", n=400, resolution=32)


def test_few_images_on_a_gpu_get_fastgan():
    name, why = default_preset("cuda", 400, 256)
    assert (name, FEW_SHOT_PRESET, FEW_SHOT_MAX_IMAGES) == ("fastgan", "fastgan", 2_000)
    assert "400 images" in why and "fewer than 2,000" in why and "FastGAN" in why


def test_many_images_on_a_gpu_get_stylegan2_ada():
    name, why = default_preset("cuda", 5_000, 256)
    assert name == LIMITED_DATA_PRESET == "stylegan2"
    assert "5,000 images" in why and "2,000 or more" in why and "StyleGAN2-ADA" in why
    # The threshold itself belongs to StyleGAN2-ADA; one image fewer to FastGAN.
    assert default_preset("cuda", FEW_SHOT_MAX_IMAGES, 256)[0] == "stylegan2"
    assert default_preset("cuda", FEW_SHOT_MAX_IMAGES - 1, 256)[0] == "fastgan"
    assert default_preset("mps", 5_000, 1024)[0] == "stylegan2"


def test_the_cpu_default_is_unchanged():
    for num_images in (None, 400, 5_000):
        assert default_preset("cpu", num_images, 256) == (CPU_DEFAULT_PRESET, CPU_REASON)


def test_below_32_px_or_without_a_count_a_gpu_keeps_the_dcgan():
    name, why = default_preset("cuda", 400, 16)
    assert name == "dcgan" and "16 px" in why and "32 px" in why
    name, why = default_preset("cuda", None, 256)
    assert name == "dcgan" and "not known" in why


def test_a_gpu_plan_picks_fastgan_for_an_archive_of_400(on_cuda, few, tmp_path, capsys):
    plan = ganvas.train(str(few), out=tmp_path, dry_run=True)
    t = plan.config.train
    assert (t.preset, plan.config.model.family) == ("fastgan", "fastgan")
    assert plan.sources["train.preset"] == "default on cuda"
    assert "400 images" in t.preset_chosen_by and "2,000" in t.preset_chosen_by
    assert plan.config.model.z_dim == resolve.preset("fastgan").config.model.z_dim
    # A dry run shows the choice and its reason with the other automatic ones.
    assert main(["train", str(few), "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "fastgan" in said and t.preset_chosen_by in said


def test_a_gpu_plan_picks_stylegan2_from_the_threshold(on_cuda, tmp_path):
    data = make_toy_archive(tmp_path / "many.zip", n=FEW_SHOT_MAX_IMAGES, resolution=32)
    plan = ganvas.train(str(data), out=tmp_path, dry_run=True)
    assert plan.config.train.preset == "stylegan2"
    assert f"{FEW_SHOT_MAX_IMAGES:,} images" in plan.config.train.preset_chosen_by
    assert plan.config.augment.mode == "ada"


def test_an_option_the_chosen_preset_cannot_take_names_it(on_cuda, tmp_path):
    data = make_toy_archive(tmp_path / "many.zip", n=FEW_SHOT_MAX_IMAGES, resolution=32)
    with pytest.raises(ganvas.GanvasError) as caught:
        ganvas.train(str(data), out=tmp_path, spectral_norm=True, dry_run=True)
    said = str(caught.value)
    assert "--spectral-norm: not an option of stylegan2" in said and "\n" not in said
    assert "(preset stylegan2: the default on cuda for 2,000 images" in said
    assert said.endswith("; --model NAME to choose)")
    # A preset asked for gets the error as it is.
    with pytest.raises(ganvas.GanvasError) as caught:
        ganvas.train(str(data), out=tmp_path, model="stylegan2", spectral_norm=True,
                     dry_run=True)
    assert str(caught.value) == "--spectral-norm: not an option of stylegan2 models"


def test_an_image_folder_is_counted_before_it_is_prepared(on_cuda, tmp_path):
    folder = make_png_folder(tmp_path / "pictures", n=12, size=40)
    (folder / "notes.txt").write_text("not a picture")
    plan = ganvas.train(str(folder), out=tmp_path, dry_run=True)
    assert plan.config.train.preset == "fastgan"
    assert "12 images" in plan.config.train.preset_chosen_by


def test_a_named_preset_a_config_file_and_a_source_win_on_a_gpu(on_cuda, few, tmp_path,
                                                                   tiny_run):
    assert ganvas.train(str(few), out=tmp_path, dry_run=True).config.train.preset == "fastgan"
    named = ganvas.train(str(few), out=tmp_path, model="dcgan", dry_run=True).config.train
    assert (named.preset, named.preset_chosen_by) == ("dcgan", "")
    tuned = ganvas.train(str(few), out=tmp_path, init_from=str(tiny_run), dry_run=True)
    assert tuned.config.train.preset == "dcgan-tiny"
    assert tuned.sources["train.preset"] == resolve.SOURCE


def test_a_resumed_run_keeps_the_preset_the_data_chose(few, tmp_path):
    # Planned as on a GPU, trained (two steps, a quarter of the widths, a small grid) on
    # this CPU: training's device is its own.
    with pytest.MonkeyPatch.context() as patched:
        fake_cuda(patched)
        plan = ganvas.train(str(few), out=tmp_path, dry_run=True, precision="fp32",
                            kimg=0.016, snap_kimg=0.016, tick_kimg=0.016, grid_size=4,
                            z_dim=64, g_width=8, d_width=8, max_width=64)
    assert plan.config.train.preset == "fastgan"
    run = runs.start(plan, tmp_path / "runs", progress=False)
    # Resumed where the default would be another preset (this CPU: dcgan-tiny).
    ganvas.resume(run, kimg=0.032, progress=False)
    t = json.loads((run / "config.json").read_text())["train"]
    assert t["preset"] == "fastgan" and "400 images" in t["preset_chosen_by"]
    assert "training fastgan (fastgan; the default on cuda for 400 images" in (
        run / "log.txt").read_text()
