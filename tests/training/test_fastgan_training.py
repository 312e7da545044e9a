"""FastGAN's training terms in the trainer: per-logit random hinge margins, the
reconstruction distance summed over the batch, and the VGG-16 distance when its weights are at
hand (and a resume that needs them without them)."""

from __future__ import annotations

import json

import pytest
import torch

import ganvas
from ganvas.config.resolve import preset
from ganvas.data.dataset import ImageBank, load_archive
from ganvas.latent.perceptual import pyramid_distance, vgg16_features
from ganvas.metrics.weights import WEIGHTS
from ganvas.training.reconstruction import reconstruction_term
from ganvas.training.trainer import Trainer

from tests.helpers import make_toy_archive, stats


@pytest.fixture(scope="module")
def toy32(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("data") / "toy32.zip", n=16, resolution=32)


def trainer(toy32, model, **options):
    cfg = preset(model, resolution=32, **options).config
    return Trainer(cfg, ImageBank(load_archive(toy32)), torch.device("cpu"))


def test_margins_per_logit_in_08_1_from_the_noise_stream(toy32):
    t = trainer(toy32, "fastgan-tiny")
    logits = torch.zeros(8, 50)
    before = t.rng["noise"].get_state()
    (m,) = t.margins(logits)
    assert m.shape == (400,) and m.min() >= 0.8 and m.max() <= 1.0
    assert m.std() > 0.03                                   # drawn, not a constant
    assert not torch.equal(before, t.rng["noise"].get_state())
    t.rng["noise"].set_state(before)
    assert torch.equal(t.margins(logits)[0], m)             # the saved stream draws them again
    assert trainer(toy32, "dcgan-tiny", loss="hinge").margins(logits) == ()


def test_reconstruction_is_summed_over_the_global_batch():
    distance = pyramid_distance("test")
    a, b = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    c, d = torch.rand(4, 3, 8, 8) * 2 - 1, torch.rand(4, 3, 8, 8) * 2 - 1
    per_image = (distance.between(distance.features(a), distance.features(b)),
                 distance.between(distance.features(c), distance.features(d)))
    # One process with 4 of a global batch of 8: its mean times 8 (the processes' averaged
    # gradients are then those of the sum over all 8).
    got = reconstruction_term(distance, [(a, b), (c, d)], batch=8)
    assert torch.allclose(got, 8 * (per_image[0].mean() + per_image[1].mean()))
    assert torch.allclose(reconstruction_term(distance, [(a, b)], batch=4), per_image[0].sum())


def test_vgg16_reconstruction_with_weights_at_hand(toy32, tmp_path, monkeypatch):
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg16_features().state_dict().items()}
    torch.save(state, tmp_path / "vgg16.pth")
    env = WEIGHTS.get("vgg16").env
    monkeypatch.setenv(env, str(tmp_path / "vgg16.pth"))
    run = ganvas.train(str(toy32), out=tmp_path / "runs", model="fastgan-tiny",
                       rec_distance="auto", kimg=0.016, snap_kimg=0.016, tick_kimg=0.016,
                       seed=1, progress=False)
    assert json.loads((run / "config.json").read_text())["train"]["rec_distance"] == \
        "vgg16-lpips"
    entries = stats(run)
    assert entries and all(e["d_rec"] > 0 for e in entries)
    # Resuming needs the same distance: without the weights it is a one-line error.
    monkeypatch.delenv(env)
    with pytest.raises(ganvas.GanvasError, match="vgg16 weights") as err:
        ganvas.resume(run, kimg=0.032, progress=False)
    assert "\n" not in str(err.value)
