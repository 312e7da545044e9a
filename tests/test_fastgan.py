"""The FastGAN family: shapes for every channel count and small resolutions, conditioning,
skip-layer excitation gates, noise modes, save/load, and a short training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganvas
from ganvas.checkpoint import load_module, save_module
from ganvas.config import ModelConfig
from ganvas.models import build_discriminator, build_generator
from ganvas.models.fastgan import sle_pairs

from .conftest import make_toy_archive, stats


def cfg(resolution=32, channels=3, **extra):
    return ModelConfig(family="fastgan", resolution=resolution, channels=channels, z_dim=16,
                       g_width=4, d_width=4, max_width=32, **extra)


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes_and_range(resolution, channels):
    c = cfg(resolution, channels)
    G, D = build_generator(c), build_discriminator(c)
    x = G(torch.randn(3, c.z_dim))
    assert x.shape == (3, channels, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1                      # tanh output
    assert D(x).shape == (3,)
    assert len(D.blocks) == int(np.log2(resolution)) - 2 and D.blocks[0][0].in_channels == channels


def test_sle_pairs_follow_the_paper_and_gate_in_unit_interval():
    assert sle_pairs(32) == [(4, 32)] and sle_pairs(64) == [(4, 32), (8, 64)]
    assert sle_pairs(256) == [(8, 128), (16, 256)]
    assert sle_pairs(1024) == [(8, 128), (16, 256), (32, 512)]
    G = build_generator(cfg(64)).eval()
    feats = G.features(torch.randn(4, 16), None, "const")
    for s, t in sle_pairs(64):
        gate = G.sles[f"{s}_{t}"].gate(feats[s])
        assert gate.shape == (4, feats[t].shape[1], 1, 1)
        assert (gate > 0).all() and (gate < 1).all()


def test_conditional_generator_and_discriminator_use_the_label():
    c = cfg(num_classes=3)
    G, D = build_generator(c).eval(), build_discriminator(c).eval()
    assert G.class_embedding.weight.std().item() == pytest.approx(1.0, abs=0.3)   # z's scale
    z = torch.randn(2, 16).repeat(2, 1)
    x = G(z, torch.tensor([0, 0, 1, 1]))
    assert not torch.allclose(x[0], x[2])
    same = torch.rand(1, 3, 32, 32).repeat(2, 1, 1, 1) * 2 - 1
    a, b = D(same, torch.tensor([0, 2])).unbind()
    assert not torch.allclose(a, b, rtol=1e-3, atol=0)
    with pytest.raises(ValueError, match="conditional"):
        G(z)


def test_noise_modes():
    G = build_generator(cfg())
    with torch.no_grad():
        for p in G.parameters():
            if p.ndim == 0:
                p.fill_(0.5)                      # noise strengths away from their zero init
    G.eval()
    z = torch.randn(2, 16)
    const = G.synthesize(z, noise_mode="const")
    assert torch.equal(const, G.synthesize(z, noise_mode="const"))
    assert not torch.equal(G.synthesize(z, noise_mode="random"),
                           G.synthesize(z, noise_mode="random"))
    assert not torch.equal(const, G.synthesize(z, noise_mode="none"))
    assert torch.equal(G.synthesize(z, noise_mode="none"), G.synthesize(z, noise_mode="none"))
    # The const noise is a fixed draw: another construction under another seed has the same.
    torch.manual_seed(123)
    other = build_generator(cfg())
    assert all(torch.equal(a, b) for (n, a), (_, b)
               in zip(G.named_buffers(), other.named_buffers()) if "noise_const" in n)
    assert torch.allclose(G.synthesize(z, truncation=0.0), G.synthesize(z * 0))


def test_save_load_identical(tmp_path):
    c = cfg(64, num_classes=2)
    y = torch.tensor([0, 1, 1, 0])
    G = build_generator(c)
    G(torch.randn(4, 16), y)                      # move batch-norm statistics
    save_module(G, tmp_path / "G.safetensors")
    G2 = load_module(build_generator(c), tmp_path / "G.safetensors")
    z = torch.randn(4, 16)
    assert torch.equal(G.eval().synthesize(z, y), G2.eval().synthesize(z, y))


def test_fastgan_tiny_trains_with_finite_losses(tmp_path):
    data = make_toy_archive(tmp_path / "toy32.zip", resolution=32)
    run = ganvas.train(str(data), out=tmp_path / "runs", model="fastgan-tiny", kimg=0.2,
                       snap_kimg=0.1, tick_kimg=0.05, seed=1, progress=False)
    entries = stats(run)
    assert entries and entries[-1]["kimg"] >= 0.2
    for entry in entries:
        losses = [v for k, v in entry.items() if k.startswith("loss")]
        assert losses and all(np.isfinite(v) for v in losses)
        assert np.isfinite(entry["d_rec"]) and entry["d_rec"] > 0
    images = ganvas.load(run, device="cpu").generate([0, 1])
    assert images.shape == (2, 32, 32, 3)


@pytest.mark.parametrize("resolution", [32, 256])
def test_reconstruction_loss_trains_the_decoder(resolution):
    D = build_discriminator(cfg(resolution))
    x = torch.rand(2, 3, resolution, resolution) * 2 - 1
    rec = D.reconstruction_loss(x)
    assert rec.ndim == 0 and torch.isfinite(rec) and rec > 0
    rec.backward()
    assert D.decoder.net[-2].weight.grad.abs().sum() > 0
    assert D.blocks[0][0].weight.grad.abs().sum() > 0          # and D's own features
    assert D.rec_size == min(resolution, 128)
