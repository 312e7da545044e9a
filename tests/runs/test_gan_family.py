"""The GAN family end to end: every preset trains and resumes exactly, the tricks do what their
flags say, conditional models obey --class, fine-tuning starts from the source's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.config.presets import PRESETS
from ganvas.config.resolve import preset
from ganvas.data.dataset import ImageBank, load_archive
from ganvas.errors import ConfigError, GanvasError
from ganvas.models import MODELS
from ganvas.runfolder import snapshots
from ganvas.training.trainer import Trainer

from tests.helpers import TINY, make_toy_archive, same, stats, weights

RUN = {k: v for k, v in TINY.items() if k != "model"}
# The DCGAN-style presets (StyleGAN2 has its own tests in test_stylegan2_training.py).
TINY_PRESETS = [n for n in PRESETS.names() if n.endswith("-tiny") and "stylegan" not in n]


@pytest.fixture(scope="module")
def labelled_archive(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("lab") / "redblue.zip", labelled=True)


def data_for(preset, toy_archive, labelled_archive, tmp_path):
    """The toy data for `preset`, made at 32 px for a family that starts there (FastGAN)."""
    family = PRESETS.get(preset)(0)["model"].get("family", "dcgan")
    if MODELS.get(family).resolutions[0] > 16:
        return make_toy_archive(tmp_path / "toy32.zip", resolution=32,
                                labelled=preset.startswith("c"))
    return labelled_archive if preset.startswith("c") else toy_archive



def test_every_preset_has_a_tiny_twin():
    names = PRESETS.names()
    for base in ("dcgan", "wgan-gp", "cgan", "cwgan-gp"):
        assert base in names and f"{base}-tiny" in names


def test_dcgan_tiny_twins_take_smaller_larger_steps():
    # The CPU default: batch 16 and Adam(4e-4) measured better in CPU minutes (few_shot.py);
    # the full presets keep the paper's, and the WGAN-GP twin its own rates.
    for name in ("dcgan-tiny", "cgan-tiny"):
        t = preset(name).config.train
        assert (t.batch, t.lr_g, t.lr_d, t.beta1) == (16, 4e-4, 4e-4, 0.5), name
    dcgan = preset("dcgan").config.train
    assert (dcgan.batch, dcgan.lr_g) == (64, 2e-4)
    w = preset("wgan-gp-tiny").config.train
    assert (w.batch, w.lr_g, w.n_critic) == (32, 1e-4, 5)
    assert preset("dcgan-tiny").config.model.g_width == preset("wgan-gp-tiny").config.model.g_width


def test_wgan_gp_preset_follows_the_paper():
    cfg = preset("wgan-gp").config
    t = cfg.train
    assert (t.loss, t.n_critic, t.gp_lambda, t.lr_d, t.beta1, t.beta2) == \
        ("wgan-gp", 5, 10.0, 1e-4, 0.0, 0.9)
    assert cfg.model.d_norm != "batch"


# Each preset with the tricks that suit it; all must resume bit-exactly.
TRICKS = {
    "dcgan-tiny": dict(label_noise=0.1, diffaug="color,translation,cutout", r1_gamma=1.0),
    "wgan-gp-tiny": dict(classic_aug=True, spectral_norm=True),
    "cgan-tiny": dict(loss="hinge", diffaug="translation", gate_d=0.05),
    "cwgan-gp-tiny": dict(loss="wgan-gp", label_noise=0.05),
    "fastgan-tiny": dict(mirror=True, label_noise=0.05),
}

# Where an API option lands in config.json (the rest are in "train" under their own name).
WHERE = {"diffaug": ("augment", "diffaug"), "classic_aug": ("augment", "classic"),
         "spectral_norm": ("model", "spectral_norm")}


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_preset_trains_records_its_config_and_resumes_exactly(preset, toy_archive,
                                                              labelled_archive, tmp_path):
    data = str(data_for(preset, toy_archive, labelled_archive, tmp_path))
    opts = dict(RUN, seed=3, **TRICKS[preset])
    full = ganvas.train(data, out=tmp_path, model=preset, kimg=0.384, **opts)
    part = ganvas.train(data, out=tmp_path, model=preset, kimg=0.192, **opts)
    ganvas.resume(part, kimg=0.384, progress=False)
    a, b = snapshots.list_snapshots(full)[-1], snapshots.list_snapshots(part)[-1]
    assert a.name == b.name
    for name in ("G", "G_ema", "D"):
        assert same(weights(a, name), weights(b, name)), name
    cfg = json.loads((full / "config.json").read_text())
    assert cfg["train"]["preset"] == preset
    for option, value in TRICKS[preset].items():
        section, key = WHERE.get(option, ("train", option))
        assert cfg[section][key] == value, option
    assert cfg["model"]["num_classes"] == (2 if preset.startswith("c") else 0)
    for entry in stats(full):
        assert all(np.isfinite(v) for k, v in entry.items() if k.startswith("loss"))


def test_n_critic_d_steps_per_g_step(toy_archive, tmp_path):
    run = ganvas.train(str(toy_archive), out=tmp_path, model="wgan-gp-tiny", kimg=0.16, **RUN)
    last = stats(run)[-1]
    assert last["step"] * 5 * 16 == round(last["kimg"] * 1000)    # 5 batches of 16 per step
    assert "gp" in last and last["gp"] >= 0


def test_tricks_reach_the_trainer(toy_archive):
    cfg = preset("dcgan-tiny", label_noise=0.25, label_smoothing=0.1).config
    trainer = Trainer(cfg, ImageBank(load_archive(toy_archive)), torch.device("cpu"))
    real, fake = trainer.targets(20_000)
    assert real.unique().tolist() == pytest.approx([0.0, 0.9])
    assert (real == 0).float().mean().item() == pytest.approx(0.25, abs=0.02)
    assert (fake == 1).float().mean().item() == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize("which", ["d", "g"])
def test_loss_gating_skips_the_update(which, toy_archive, tmp_path):
    """A threshold above any loss keeps that network's weights exactly where they started."""
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.064, seed=4,
                       **{**TINY, f"gate_{which}": 1e9})
    start = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.016, seed=4,
                         **{**TINY, f"gate_{which}": 1e9, "snap_kimg": 0.016})
    net = which.upper()
    snap, first = snapshots.list_snapshots(run)[-1], snapshots.list_snapshots(start)[-1]
    moving = [k for k in weights(snap, net) if "running" not in k and "num_batches" not in k]
    a, b = weights(snap, net), weights(first, net)
    assert all(torch.equal(a[k], b[k]) for k in moving)
    assert stats(run)[-1][f"{which}_skipped"] == 1.0
    other = "G" if net == "D" else "D"
    assert not same(weights(snap, other), weights(first, other))


def test_option_conflicts_are_clear_errors(toy_archive, tmp_path):
    with pytest.raises(ConfigError, match="batch norm"):
        ganvas.train(str(toy_archive), out=tmp_path, model="wgan-gp-tiny", d_norm="batch",
                     kimg=0.016, **RUN)
    with pytest.raises(ConfigError, match="label smoothing"):
        ganvas.train(str(toy_archive), out=tmp_path, loss="hinge", label_smoothing=0.1,
                     kimg=0.016, **TINY)
    with pytest.raises(ConfigError, match="choose from: color"):
        ganvas.train(str(toy_archive), out=tmp_path, diffaug="colour", kimg=0.016, **TINY)


def test_unknown_model_lists_the_presets(capsys, toy_archive):
    assert main(["train", str(toy_archive), "--model", "stylegan9"]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in ("dcgan", "wgan-gp", "cgan", "cwgan-gp-tiny"))


def test_conditional_preset_needs_labels(toy_archive, tmp_path):
    with pytest.raises(GanvasError, match="--labels folders"):
        ganvas.train(str(toy_archive), out=tmp_path, model="cgan-tiny", kimg=0.016, **RUN)


@pytest.fixture(scope="module")
def conditional_run(labelled_archive, tmp_path_factory):
    """cgan-tiny trained for 8 kimg on red squares (class 0) and blue squares (class 1)."""
    return ganvas.train(str(labelled_archive), out=tmp_path_factory.mktemp("cond"),
                        model="cgan-tiny", kimg=8.0, batch=16, snap_kimg=8.0, tick_kimg=1.0,
                        lr_g=5e-4, lr_d=5e-4, seed=0, progress=False)


@pytest.mark.slow
def test_conditional_model_generates_the_class_asked_for(conditional_run):
    model = ganvas.load(conditional_run)
    assert model.class_names == ["red", "blue"]
    red = model.generate(range(32), label="red").astype(float).mean(axis=(0, 1, 2))
    blue = model.generate(range(32), label=1).astype(float).mean(axis=(0, 1, 2))
    assert red[0] - red[2] > 10, red          # more red than blue in class "red"
    assert blue[2] - blue[0] > 10, blue


@pytest.mark.slow
def test_conditional_grid_has_a_row_per_class_and_cli_class(conditional_run, tmp_path, capsys):
    grid = np.asarray(Image.open(conditional_run / "samples" / "kimg-000008.png"))
    scale = 64 // 16
    assert grid.shape[0] == 2 * 16 * scale              # two classes, one row each
    top, bottom = grid[: 16 * scale].astype(float), grid[16 * scale:].astype(float)
    assert top[..., 0].mean() - top[..., 2].mean() > 5
    assert bottom[..., 2].mean() - bottom[..., 0].mean() > 5
    assert main(["generate", str(conditional_run), "--seeds", "0-3", "--class", "blue",
                 "--grid", str(tmp_path / "blue.png")]) == 0
    assert main(["generate", str(conditional_run), "--seeds", "0", "--class", "green",
                 "--grid", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "unknown class 'green'" in err and "red, blue" in err


def test_class_for_an_unconditional_model_is_an_error(tiny_run, tmp_path, capsys):
    assert main(["generate", str(tiny_run), "--class", "0", "--grid",
                 str(tmp_path / "g.png")]) == 2
    assert "unconditional" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_fine_tuning_starts_from_the_source_and_freezes_d(tiny_run, toy_archive, tmp_path):
    source = snapshots.list_snapshots(tiny_run)[-1]
    run = ganvas.train(str(toy_archive), out=tmp_path, init_from=str(tiny_run), freeze_d=2,
                       kimg=0.064, **RUN)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["preset"] == "dcgan-tiny"          # the source's recipe by default
    d_old, d_new = weights(source, "D"), weights(snapshots.list_snapshots(run)[-1], "D")
    frozen = [k for k in d_old if k.startswith(("blocks.0.", "blocks.1.")) and "running" not in
              k and "num_batches" not in k]
    assert frozen and all(torch.equal(d_old[k], d_new[k]) for k in frozen)
    assert not torch.equal(d_old["out.weight"], d_new["out.weight"])


def test_fine_tuning_really_starts_from_the_source(tiny_run, toy_archive, tmp_path):
    """With both learning rates at ~0 the fine-tuned G equals the source's G."""
    run = ganvas.train(str(toy_archive), out=tmp_path, init_from=str(tiny_run), kimg=0.016,
                       lr_g=1e-30, lr_d=1e-30, **{**RUN, "snap_kimg": 0.016})
    a = weights(snapshots.list_snapshots(tiny_run)[-1], "G")
    b = weights(snapshots.list_snapshots(run)[-1], "G")
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a
               if "running" not in k and "num_batches" not in k)


@pytest.mark.parametrize("options,needle", [
    (dict(resolution=32), "it makes 16x16 px RGB pictures, this run's are 32x32 px RGB; "
                          "prepare the data as it needs"),
    (dict(model="wgan-gp-tiny"), "its d_norm 'batch' there, 'layer' here; drop --model"),
    (dict(freeze_d=9), "D has only 2 blocks"),
])
def test_fine_tuning_mismatches_say_what_differs(options, needle, tiny_run, tmp_path):
    data = make_toy_archive(tmp_path / "big.zip", resolution=32, n=8)
    with pytest.raises(GanvasError, match=needle):
        ganvas.train(str(data), out=tmp_path, init_from=str(tiny_run), kimg=0.016,
                     **{**RUN, **options})


def test_fine_tuning_other_channels_or_an_export_is_refused(tiny_run, tmp_path, capsys):
    grey = make_toy_archive(tmp_path / "grey.zip", channels=1, n=8)
    with pytest.raises(GanvasError, match="it makes 16x16 px RGB pictures, this run's are "
                       "16x16 px grey"):
        ganvas.train(str(grey), out=tmp_path, init_from=str(tiny_run), kimg=0.016, **RUN)
    export = tmp_path / "export"
    export.mkdir()
    snap = snapshots.list_snapshots(tiny_run)[-1]
    for name in ("model.json", "G_ema.safetensors"):
        (export / name).write_bytes((snap / name).read_bytes())
    code = main(["train", str(grey), "--init-from", str(export), "--out", str(tmp_path)])
    assert code == 2 and "it has no G (exported models keep only G_ema" in capsys.readouterr().err


def test_bf16_precision_trains(toy_archive, tmp_path):
    run = ganvas.train(str(toy_archive), out=tmp_path, precision="bf16", kimg=0.064, **TINY)
    assert all(np.isfinite(e["loss_d"]) for e in stats(run))
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "bf16"



def test_labels_an_unconditional_run_ignores_are_said(labelled_archive, conditional_run,
                                                      tmp_path, capsys):
    """Issue 30: a labelled dataset trained without --conditional says so, in one line with
    the way to use the classes; a conditional run does not."""
    assert main(["train", str(labelled_archive), "--model", "dcgan-tiny", "--kimg", "0.016",
                 "--batch", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    line = ("the data has 2 classes (red, blue); this run ignores them: --conditional trains "
            "a model that draws by class")
    assert line in out.out + out.err
    assert "ignores them" not in (conditional_run / "log.txt").read_text()
