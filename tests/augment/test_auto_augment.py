"""`--aug auto`, the presets' default: augmentation chosen from the data's size, recorded in
config.json with the reason, said on the console, overridden by any explicit flag, and kept by
a resume."""

from __future__ import annotations

import json

import pytest

import ganvas
from ganvas.config import schema as config
from ganvas.cli import main
from ganvas.config.schema import AUTO, DEFAULT_DIFFAUG, SMALL_DATA, RunConfig
from ganvas.config.presets import PRESETS

from tests.helpers import make_png_folder, make_toy_archive

# A few steps of dcgan-tiny at 16 px: seconds on a laptop CPU.
FAST = ["--model", "dcgan-tiny", "--batch", "16", "--kimg", "0.032", "--snap-kimg", "0.032",
        "--tick-kimg", "0.032"]
SMALL_REASON = f"auto: 300 images < {SMALL_DATA:,}"


@pytest.fixture(scope="module")
def archive300(tmp_path_factory):
    """300 coloured squares at 16 px: the few-shot size the default must handle."""
    return make_toy_archive(tmp_path_factory.mktemp("data") / "squares300.zip", n=300)


@pytest.fixture
def folder8(tmp_path):
    """8 PNGs in a folder: its count is only known once training prepares it."""
    return make_png_folder(tmp_path / "pictures", n=8, size=16)


def augment_of(run) -> dict:
    return json.loads((run / "config.json").read_text())["augment"]


def only_run(out):
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_every_preset_chooses_by_data_size():
    for name in PRESETS.names():
        augment = PRESETS.get(name)(64)["augment"]
        assert augment["mode"] == AUTO, name
        assert {augment["small_data"], augment["large_data"]} <= set(config.CONCRETE_AUGMENT_MODES)
    small = {n: PRESETS.get(n)(64)["augment"]["small_data"] for n in PRESETS.names()}
    assert small["dcgan"] == small["wgan-gp-tiny"] == small["cgan"] == "diffaug"
    assert small["stylegan2"] == "ada" and small["fastgan-tiny"] == "diffaug"


def test_small_data_run_records_diffaug_why_and_resume_keeps_it(archive300, tmp_path, capsys,
                                                                monkeypatch):
    out = tmp_path / "runs"
    assert main(["train", str(archive300), "--out", str(out), *FAST]) == 0
    line = (f"augmentation: DiffAugment {DEFAULT_DIFFAUG} ({SMALL_REASON}; "
            f"--aug none to turn off)")
    assert line in capsys.readouterr().out
    run = only_run(out)
    assert line in (run / "log.txt").read_text()
    recorded = augment_of(run)
    assert (recorded["mode"], recorded["diffaug"], recorded["chosen_by"]) == \
        ("diffaug", DEFAULT_DIFFAUG, SMALL_REASON)

    # A resume uses the recorded choice: it does not decide again (here it would say none).
    monkeypatch.setattr(config, "SMALL_DATA", 10)
    ganvas.resume(run, kimg=0.064, progress=False)
    assert augment_of(run) == recorded
    assert (run / "log.txt").read_text().count(line) == 2      # the start's and the resume's


def test_dry_run_shows_the_choice_and_its_reason(archive300, tmp_path, capsys):
    assert main(["train", str(archive300), "--out", str(tmp_path / "runs"), *FAST,
                 "--dry-run"]) == 0
    rows = {line.split()[0]: line.split(None, 2)[1:]
            for line in capsys.readouterr().out.splitlines()[1:] if line}
    assert rows["--aug"] == ["diffaug", SMALL_REASON]
    assert rows["--diffaug"] == [DEFAULT_DIFFAUG, "derived"]
    assert not (tmp_path / "runs").exists()


def test_large_data_records_none(archive300, monkeypatch):
    monkeypatch.setattr(config, "SMALL_DATA", 100)          # 300 images are "large" now
    plan = ganvas.train(str(archive300), model="dcgan-tiny", dry_run=True)
    a = plan.config.augment
    assert (a.mode, a.diffaug, a.chosen_by) == ("none", "", "auto: 300 images >= 100")
    assert a.console_line() == ("augmentation: none (auto: 300 images >= 100; --aug diffaug "
                                "to turn on)")
    # StyleGAN2 keeps ADA at any size (p adapts); FastGAN keeps its DiffAugment.
    sg2 = ganvas.train(str(archive300), model="stylegan2-tiny", resolution=32, dry_run=True)
    assert sg2.config.augment.mode == "ada"
    fast = ganvas.train(str(archive300), model="fastgan-tiny", resolution=32, dry_run=True)
    assert fast.config.augment.policy() == "color,translation"      # FastGAN's code's policy


def test_image_folder_is_decided_when_training_opens_it(folder8, tmp_path, monkeypatch,
                                                        capsys):
    plan = ganvas.train(str(folder8), model="dcgan-tiny", resolution=16, dry_run=True)
    assert plan.config.augment.mode == AUTO and plan.sources["augment.mode"] == "preset"
    assert "decided when the data is opened" in plan.config.augment.describe()
    monkeypatch.setattr(config, "SMALL_DATA", 4)            # 8 images are "large" now
    out = tmp_path / "runs"
    assert main(["train", str(folder8), "--out", str(out), "--resolution", "16", *FAST]) == 0
    assert "augmentation: none (auto: 8 images >= 4;" in capsys.readouterr().out
    recorded = augment_of(only_run(out))
    assert (recorded["mode"], recorded["diffaug"], recorded["chosen_by"]) == \
        ("none", "", "auto: 8 images >= 4")


@pytest.mark.parametrize("preset, options, mode, policy", [
    ("dcgan-tiny", {"aug": "none"}, "none", ""),
    ("dcgan-tiny", {"diffaug": "translation"}, "diffaug", "translation"),
    ("dcgan-tiny", {"aug": "ada"}, "ada", ""),
    ("fastgan-tiny", {"aug": "none"}, "none", ""),              # also without FastGAN's policy
    ("stylegan2-tiny", {"diffaug": "translation"}, "diffaug", "translation"),   # not ADA too
])
def test_explicit_flags_win(archive300, preset, options, mode, policy):
    plan = ganvas.train(str(archive300), model=preset, resolution=32, dry_run=True, **options)
    a = plan.config.augment
    assert (a.mode, a.policy(), a.chosen_by) == (mode, policy, "")
    assert "auto" not in a.console_line()


def test_explicit_flags_win_in_a_run(archive300, tmp_path):
    out = tmp_path / "runs"
    assert main(["train", str(archive300), "--out", str(out), *FAST, "--aug", "none"]) == 0
    recorded = augment_of(only_run(out))
    assert (recorded["mode"], recorded["diffaug"], recorded["chosen_by"]) == ("none", "", "")


def test_an_old_config_behaves_as_before(archive300, tmp_path):
    """A config.json from before `auto` (no small_data, large_data, chosen_by) is concrete."""
    old = RunConfig().to_dict()
    old["train"].update(preset="dcgan-tiny", data=str(archive300))
    for name in ("small_data", "large_data", "chosen_by"):
        del old["augment"][name]
    old["augment"]["mode"] = "none"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    plan = ganvas.train(config=path, dry_run=True)
    assert (plan.config.augment.mode, plan.config.augment.policy()) == ("none", "")
    assert plan.sources["augment.mode"] == "config file"
    assert RunConfig.from_dict(old).augment.settled(300) == RunConfig.from_dict(old).augment
    # ... and --aug auto asks for the preset's choice by size (the file has none of its own).
    again = ganvas.train(config=path, aug="auto", dry_run=True).config.augment
    assert (again.mode, again.policy(), again.chosen_by) == ("diffaug", DEFAULT_DIFFAUG,
                                                             SMALL_REASON)


def test_a_bad_recorded_choice_is_one_line(archive300, tmp_path, capsys):
    from tests.helpers import usage_error
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"train": {"preset": "dcgan-tiny"},
                                "augment": {"small_data": "sometimes"}}))
    err = usage_error(["train", str(archive300), "--config", str(path), "--dry-run"], capsys)
    assert "small_data must be one of" in err
