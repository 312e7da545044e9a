"""The FastGAN presets as the authors' code trains, and --rec-distance settled from the VGG-16
weights at hand."""

from __future__ import annotations

import pytest
import torch

from ganvas.config import resolve
from ganvas.errors import ConfigError
from ganvas.metrics.weights import WEIGHTS
from ganvas.training.ema import ema_beta


@pytest.mark.parametrize("batch", [None, 4, 32])
def test_fastgan_keeps_0999_per_step_at_any_batch(batch):
    options = {"batch": batch} if batch else {}
    t = resolve.preset("fastgan", resolution=256, **options).config.train
    assert t.batch == (batch or 8) and t.ema_rampup is None
    assert ema_beta(t.ema_kimg, t.ema_rampup, 10_000, t.batch) == pytest.approx(0.999)


def test_fastgan_preset_is_the_published_recipe():
    cfg = resolve.preset("fastgan", resolution=1024).config
    m, t, a = cfg.model, cfg.train, cfg.augment
    assert (m.z_dim, m.g_width, m.d_width, m.spectral_norm) == (256, 64, 64, True)
    assert (t.loss, t.lr_g, t.lr_d, t.beta1, t.beta2, t.batch) == (
        "random-margin-hinge", 2e-4, 2e-4, 0.5, 0.999, 8)
    assert a.policy() == "color,translation"
    tiny = resolve.preset("fastgan-tiny", resolution=64).config
    assert (tiny.model.g_width, tiny.model.d_width) == (8, 8)
    assert tiny.train.rec_distance == "laplacian-l1"       # VGG-16 per step: not on a CPU


def test_rec_distance_auto_is_vgg_only_with_weights_at_hand(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS.get("vgg16").env, raising=False)
    plan = resolve.preset("fastgan", resolution=64)
    assert plan.config.train.rec_distance == "laplacian-l1"
    assert "fallback" in plan.sources["train.rec_distance"]
    torch.save({}, tmp_path / "vgg16.pth")
    monkeypatch.setenv(WEIGHTS.get("vgg16").env, str(tmp_path / "vgg16.pth"))
    plan = resolve.preset("fastgan", resolution=64)
    assert plan.config.train.rec_distance == "vgg16-lpips"
    assert plan.sources["train.rec_distance"] == "auto: VGG-16 weights at hand"
    # A family whose D does not reconstruct keeps auto (nothing to settle).
    assert resolve.preset("dcgan-tiny").config.train.rec_distance == "auto"


@pytest.mark.parametrize("model,value,needle", [
    ("dcgan-tiny", "laplacian-l1", r"--rec-distance laplacian-l1 needs .* \(fastgan\); dcgan"),
    ("fastgan-tiny", "lpips", "unknown --rec-distance 'lpips'"),
])
def test_rec_distance_mistakes_are_one_line_errors(model, value, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        resolve.preset(model, rec_distance=value)
    assert "\n" not in str(err.value)
