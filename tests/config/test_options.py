"""One list of options: flags and keywords derived from the config dataclasses, --config
replays, --dry-run sources, and validation before anything is written."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch

import ganvas
from ganvas.cli import build_parser, main
from ganvas.config.options import OFF
from ganvas.config.resolve import preset, settle, with_data
from ganvas.config.schema import DEFAULT_DIFFAUG, AugmentConfig, RunConfig, all_options
from ganvas.config.validation import check_augment
from ganvas.errors import ConfigError, GanvasError

from tests.helpers import TINY, make_png_folder, usage_error

# The keywords ganvas.train took before options were declared once; they must all remain.
OLD_KEYWORDS = (
    "resolution z_dim g_width d_width max_width d_norm spectral_norm w_dim mapping_layers "
    "mbstd_group num_fp16_res conv_clamp loss n_critic gp_lambda r1_gamma r1_interval "
    "pl_weight pl_interval style_mixing kimg minutes batch seed snap_kimg tick_kimg "
    "keep_snapshots mirror lr_g lr_d beta1 beta2 label_smoothing label_noise gate_d gate_g "
    "instance_noise instance_noise_kimg ema_kimg ema_rampup grid_size device precision "
    "init_from freeze_d max_rollbacks aug p target augpipe ada_kimg ada_interval diffaug "
    "classic_aug aug_crop aug_rotate aug_shear aug_brightness aug_contrast metrics "
    "metrics_every metrics_num best_metric extractor feature_weights conditional").split()


def cache_files() -> list[Path]:
    return [p for p in Path(os.environ["GANVAS_CACHE"]).rglob("*") if p.is_file()]


def train_flags() -> dict[str, str]:
    """flag -> dest of every option of `ganvas train`."""
    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    parser = sub.choices["train"]
    return {s: a.dest for a in parser._actions for s in a.option_strings}


@pytest.fixture
def raw_folder(tmp_path):
    """A folder of 8 plain PNGs (not an archive: training would prepare it into the cache)."""
    return make_png_folder(tmp_path / "pictures", n=8, size=20)


def test_every_keyword_has_its_kebab_case_flag():
    options, flags = all_options(), train_flags()
    assert set(OLD_KEYWORDS) <= set(options)
    for name, opt in options.items():
        assert flags[opt.flag] == name
        assert opt.flag == "--" + name.replace("_", "-")
    for flag in ("--no-mirror", "--no-spectral-norm", "--no-classic-aug", "--no-conditional",
                 "--config", "--dry-run", "--z-dim", "--ema-kimg", "--aug-crop"):
        assert flag in flags


def test_every_field_is_an_option_or_internal():
    table = {opt.key for opt in all_options().values()}
    internal = {f"{s}.{f.name}" for s in ("model", "train", "augment", "metrics")
                for f in dataclasses.fields(getattr(RunConfig(), s)) if "internal" in f.metadata}
    assert internal == {"model.family", "model.channels", "model.aspect", "train.data",
                        "train.preset", "train.preset_chosen_by", "train.precision_chosen_by",
                        "train.threads_chosen_by",
                        "train.start_kimg",
                        "augment.small_data", "augment.large_data", "augment.chosen_by"}
    every = {f"{s}.{f.name}" for s in ("model", "train", "augment", "metrics")
             for f in dataclasses.fields(getattr(RunConfig(), s))}
    assert table | internal == every


def test_dry_run_sources_and_nothing_written(raw_folder, tmp_path, capsys):
    out = tmp_path / "runs"
    code = main(["train", str(raw_folder), "--out", str(out), "--model", "dcgan-tiny",
                 "--batch", "8", "--z-dim", "32", "--no-mirror", "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:] if line}
    assert rows["--batch"] == ["8", "flag"] and rows["--z-dim"] == ["32", "flag"]
    assert rows["--mirror"] == ["false", "flag"]
    assert rows["--g-width"] == ["16", "preset"] and rows["--seed"] == ["0", "default"]
    assert rows["preset"] == ["dcgan-tiny", "flag"]
    assert not out.exists() and cache_files() == []

    plan = ganvas.train(str(raw_folder), out=out, model="dcgan-tiny", aug="diffaug",
                        minutes=2, dry_run=True)
    assert plan.sources["augment.mode"] == "option"
    assert plan.sources["augment.diffaug"] == "derived"
    assert plan.config.augment.diffaug == DEFAULT_DIFFAUG
    assert plan.config.train.kimg is None and plan.sources["train.kimg"] == "option"
    assert plan.sources["model.z_dim"] == "preset"
    assert plan.sources["train.r1_gamma"] == "default"
    assert not out.exists() and cache_files() == []


def test_option_conflict_fails_before_the_folder_is_prepared(raw_folder, tmp_path, capsys):
    out = tmp_path / "runs"
    err = usage_error(["train", str(raw_folder), "--out", str(out), "--loss", "wgan-gp",
                       "--d-norm", "batch"], capsys)
    assert "batch norm" in err
    assert not out.exists() and cache_files() == []


def test_config_replay_with_overrides(tiny_run, tmp_path, capsys):
    config = tiny_run / "config.json"
    recorded = json.loads(config.read_text())
    plan = ganvas.train(config=config, batch=8, mirror=True, dry_run=True)
    assert plan.config.train.data == recorded["train"]["data"]
    assert plan.sources["train.data"] == "config file"
    assert plan.sources["train.batch"] == "option" and plan.config.train.batch == 8
    assert plan.sources["model.z_dim"] == "config file"
    expected = dict(recorded, train={**recorded["train"], "batch": 8, "mirror": True})
    assert plan.config.to_dict() == expected

    # A time budget replaces the file's kimg; a flag turns off an optional value.
    assert main(["train", "--config", str(config), "--minutes", "1", "--gate-d", "none",
                 "--dry-run"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["--kimg"] == ["none", "flag"] and rows["--minutes"] == ["1.0", "flag"]

    run = ganvas.train(config=config, out=tmp_path, kimg=0.032, snap_kimg=0.032,
                       progress=False)
    replayed = json.loads((run / "config.json").read_text())
    assert replayed == dict(recorded, train={**recorded["train"], "kimg": 0.032,
                                             "snap_kimg": 0.032})


def test_off_turns_an_optional_value_off(toy_archive, tmp_path):
    config = tmp_path / "gated.json"
    config.write_text(json.dumps({"train": {"gate_d": 0.5, "preset": "dcgan-tiny"}}))
    plan = ganvas.train(str(toy_archive), config=config, dry_run=True)
    assert plan.config.train.gate_d == 0.5 and plan.config.train.preset == "dcgan-tiny"
    plan = ganvas.train(str(toy_archive), config=config, gate_d=OFF, dry_run=True)
    assert plan.config.train.gate_d is None and plan.sources["train.gate_d"] == "option"


@pytest.mark.parametrize("content,needle", [
    (None, "cannot read config file"),
    ("{not json", "is not JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"model": {}, "optimiser": {}}', "unknown section(s) optimiser"),
    ('{"train": {"kimgs": 1}}', "unknown TrainConfig option(s) kimgs"),
    ('{"train": {"batch": "big"}}', "batch must be an int"),
    ('{"augment": {"classic": 1}}', "classic must be a bool"),
    ('{"train": []}', "train must be an object"),
])
def test_bad_config_files_are_one_line_errors(content, needle, toy_archive, tmp_path,
                                              capsys):
    config = tmp_path / "config.json"
    if content is not None:
        config.write_text(content)
    err = usage_error(["train", str(toy_archive), "--config", str(config), "--dry-run"],
                      capsys)
    assert needle in err


def test_config_preset_cannot_be_replaced(tiny_run, capsys):
    err = usage_error(["train", "--config", str(tiny_run / "config.json"), "--model",
                       "wgan-gp-tiny"], capsys)
    assert "--model wgan-gp-tiny cannot replace it" in err


def test_resume_takes_no_config_or_other_options(tiny_run, capsys):
    for extra in (["--config", "x.json"], ["--new-run"], ["--z-dim", "8"]):
        err = usage_error(["train", "--resume", str(tiny_run), *extra], capsys)
        assert "--resume takes only --kimg, --minutes, --device or --dry-run" in err


def test_python_options_are_checked(toy_archive):
    with pytest.raises(ConfigError, match="unknown option"):
        ganvas.train(str(toy_archive), z_dims=3, dry_run=True)
    with pytest.raises(ConfigError, match="batch must be an int"):
        ganvas.train(str(toy_archive), batch=8.5, dry_run=True)
    with pytest.raises(ConfigError, match="cannot be turned off"):
        ganvas.train(str(toy_archive), batch=OFF, dry_run=True)
    with pytest.raises(GanvasError, match="give a dataset"):
        ganvas.train(dry_run=True)
    with pytest.raises(GanvasError, match="dataset not found"):
        ganvas.train("/no/such/data", dry_run=True)


def test_validation_and_resolving_do_not_mutate(toy_archive):
    aug = AugmentConfig(mode="diffaug")
    check_augment(aug)
    assert aug.diffaug == "" and aug.policy() == DEFAULT_DIFFAUG
    cfg = preset("cgan-tiny", resolution=16).config
    resolved = settle(dataclasses.replace(cfg, augment=aug), torch.device("cpu"))
    assert resolved.augment.diffaug == DEFAULT_DIFFAUG and aug.diffaug == ""
    from ganvas.data.dataset import load_archive
    from tests.helpers import make_toy_archive
    labelled = make_toy_archive(toy_archive.with_name("labelled-opts.zip"), labelled=True)
    filled = with_data(cfg, load_archive(labelled))
    assert filled.model.num_classes == 2 and cfg.model.num_classes == -1
    with pytest.raises(GanvasError, match="--labels folders"):
        with_data(cfg, load_archive(toy_archive))


def test_new_flags_reach_the_config(toy_archive):
    plan = ganvas.train(str(toy_archive), z_dim=32, ema_kimg=2.0, aug_crop=0.9,
                        keep_snapshots=1, conditional=False, dry_run=True, **{
                            k: v for k, v in TINY.items() if k != "progress"})
    c = plan.config
    assert (c.model.z_dim, c.train.ema_kimg, c.augment.crop, c.train.keep_snapshots) == \
        (32, 2.0, 0.9, 1)
    assert c.model.num_classes == 0 and plan.sources["model.num_classes"] == "option"
