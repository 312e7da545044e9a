"""StyleGAN2-ADA training end to end on a tiny model: it trains, resumes exactly (with the
augmentation probability), logs p, fine-tunes, and its presets follow the resolution."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import ganvas
from ganvas.config.resolve import preset
from ganvas.runfolder import snapshots

from tests.helpers import make_toy_archive, same, stats, weights

# A very small StyleGAN2 for 32px toy data: seconds per run on 2 CPU cores.
SMALL = dict(model="stylegan2-tiny", g_width=8, d_width=8, max_width=32, z_dim=32, w_dim=32,
             batch=8, snap_kimg=0.064, tick_kimg=0.032, progress=False, seed=1)


@pytest.fixture(scope="module")
def toy32(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("toy32") / "toy32.zip", resolution=32,
                            n=32)



def test_auto_preset_follows_the_resolution():
    for res, batch, width, gamma in [(64, 32, 256, 0.0256), (256, 16, 64, 0.8192),
                                     (1024, 4, 32, 52.4288)]:
        cfg = preset("stylegan2", resolution=res).config
        assert cfg.train.batch == batch and cfg.model.g_width == width
        assert cfg.train.r1_gamma == pytest.approx(gamma)
        assert cfg.model.mapping_layers == 2 and cfg.model.mbstd_group == min(batch, 4)
        assert cfg.augment.mode == "auto" and cfg.augment.target == 0.6
        assert cfg.augment.settled(300).mode == cfg.augment.settled(10 ** 6).mode == "ada"
    assert preset("stylegan2", resolution=1024).config.train.lr_g == 0.002


def test_a_batch_given_rescales_what_the_auto_configuration_derives_from_it():
    """--batch on the StyleGAN2 preset: gamma 0.0002 res^2 / batch, the G_ema half-life
    batch * 10 / 32 kimg and the minibatch-std group min(batch, 4) follow the batch asked
    for, as the auto configuration's rules would; an explicit value still wins."""
    for batch, mbstd in [(8, 4), (2, 2), (64, 4)]:
        cfg = preset("stylegan2", resolution=64, batch=batch).config
        assert cfg.train.batch == batch and cfg.model.mbstd_group == mbstd
        assert cfg.train.r1_gamma == pytest.approx(0.0002 * 64 ** 2 / batch)
        assert cfg.train.ema_kimg == pytest.approx(batch * 10 / 32)
    tiny = preset("stylegan2-tiny", resolution=32, batch=4).config.train
    assert tiny.r1_gamma == pytest.approx(0.0002 * 32 ** 2 / 4)
    given = preset("stylegan2", resolution=64, batch=8, r1_gamma=1.0, ema_kimg=3.0).config
    assert (given.train.r1_gamma, given.train.ema_kimg) == (1.0, 3.0)
    plan = ganvas.train("demo:emoji", model="stylegan2-tiny", batch=8, dry_run=True)
    assert plan.sources["train.r1_gamma"] == "preset"
    assert plan.config.train.r1_gamma == pytest.approx(0.0002 * 64 ** 2 / 8)


def test_tiny_stylegan2_trains_and_resumes_exactly_with_ada(toy32, tmp_path):
    opts = dict(SMALL, pl_weight=2.0, pl_interval=2, r1_interval=4, p=0.2, ada_interval=1,
                ada_kimg=0.5)
    full = ganvas.train(str(toy32), out=tmp_path, kimg=0.128, **opts)
    part = ganvas.train(str(toy32), out=tmp_path, kimg=0.064, **opts)
    ganvas.resume(part, kimg=0.128, progress=False)
    a, b = snapshots.list_snapshots(full)[-1], snapshots.list_snapshots(part)[-1]
    assert a.name == b.name == "kimg-000000.128"
    for name in ("G", "G_ema", "D"):
        assert same(weights(a, name), weights(b, name)), name
    state_a = torch.load(a / "trainer.pt", weights_only=True)
    state_b = torch.load(b / "trainer.pt", weights_only=True)
    assert state_a["ada"]["p"] == state_b["ada"]["p"] != 0.2        # p moved and was restored
    entries = stats(full)
    assert all("aug_p" in e and 0 <= e["aug_p"] <= 1 for e in entries)
    assert any("pl" in e for e in entries) and any("r1" in e for e in entries)
    assert all(np.isfinite(e["loss_d"]) and np.isfinite(e["loss_g"]) for e in entries)
    model = ganvas.load(full)
    assert model.family == "stylegan2"
    assert np.array_equal(model.generate([3]), model.generate([5, 3])[1:])


def test_stylegan2_fine_tunes_with_frozen_d_blocks(toy32, tmp_path):
    source = ganvas.train(str(toy32), out=tmp_path, kimg=0.032, **SMALL)
    run = ganvas.train(str(toy32), out=tmp_path, init_from=str(source), freeze_d=1,
                       kimg=0.032, **{k: v for k, v in SMALL.items() if k != "model"})
    d_old = weights(snapshots.list_snapshots(source)[-1], "D")
    d_new = weights(snapshots.list_snapshots(run)[-1], "D")
    frozen = [k for k in d_old if k.startswith("blocks.0.")]
    assert frozen and all(torch.equal(d_old[k], d_new[k]) for k in frozen)
    assert not same(d_old, d_new)
    assert json.loads((run / "config.json").read_text())["train"]["preset"] == "stylegan2-tiny"


def test_fixed_and_no_augmentation(toy32, tmp_path):
    fixed = ganvas.train(str(toy32), out=tmp_path, kimg=0.032, aug="fixed", p=0.3, **SMALL)
    assert [e["aug_p"] for e in stats(fixed)] == pytest.approx([0.3] * len(stats(fixed)))
    none = ganvas.train(str(toy32), out=tmp_path, kimg=0.032, aug="none", **SMALL)
    assert all("aug_p" not in e for e in stats(none))


def test_diffaug_mode_and_bad_choices_are_clear(toy32, toy_archive, tmp_path, capsys):
    from ganvas.cli import main
    from ganvas.errors import ConfigError
    run = ganvas.train(str(toy32), out=tmp_path, kimg=0.016, aug="diffaug", **SMALL)
    cfg = json.loads((run / "config.json").read_text())["augment"]
    assert cfg["mode"] == "diffaug" and cfg["diffaug"] == "color,translation,cutout"
    with pytest.raises(ConfigError, match="either ADA"):
        ganvas.train(str(toy32), out=tmp_path, kimg=0.016, aug="ada", diffaug="color", **SMALL)
    for argv, needle in [(["--augpipe", "bgq"], "choose from b, g, c"),
                         (["--aug", "adaptive"], "invalid choice"),
                         (["--target", "1.5"], "[0, 1]")]:
        with pytest.raises(SystemExit, match="^2$") as e:  # argparse exits, main() returns
            sys.exit(main(["train", str(toy32), "--model", "stylegan2-tiny", "--out",
                           str(tmp_path), *argv]))
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1
    assert main(["train", str(toy_archive), "--model", "stylegan2-tiny", "--out",
                 str(tmp_path)]) == 2
    assert "from 32 to 1024 for stylegan2, not 16" in capsys.readouterr().err


def test_generate_with_truncation_and_noise_modes(toy32, tmp_path, capsys):
    from ganvas.cli import main
    run = ganvas.train(str(toy32), out=tmp_path, kimg=0.016, **SMALL)
    model = ganvas.load(run)
    average = model.generate([1, 2, 3], truncation=0.0)
    assert np.array_equal(average[0], average[1]) and np.array_equal(average[0], average[2])
    plain = model.generate([1, 2])
    assert not np.array_equal(plain[0], plain[1])
    assert not np.array_equal(model.generate([1], truncation=-0.7), plain[:1])
    assert np.array_equal(model.generate([1], noise_mode="const"), plain[:1])
    assert not np.array_equal(model.generate([1], noise_mode="none"), plain[:1])
    assert main(["generate", str(run), "--seeds", "0-3", "--truncation", "0.5",
                 "--noise-mode", "none", "--grid", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file()


def test_truncation_of_a_dcgan_and_noise_mode_error(tiny_run, tmp_path, capsys):
    from ganvas.cli import main
    model = ganvas.load(tiny_run)
    average = model.generate([4, 9], truncation=0.0)
    assert np.array_equal(average[0], average[1])
    assert main(["generate", str(tiny_run), "--noise-mode", "random", "--grid",
                 str(tmp_path / "g.png")]) == 2
    assert "for models with noise inputs" in capsys.readouterr().err
