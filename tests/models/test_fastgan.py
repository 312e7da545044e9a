"""The FastGAN family: shapes for every channel count and resolution, conditioning,
skip-layer excitation gates, noise modes, save/load, the self-supervised D's two decoders,
FreezeD, bf16, and a short training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganvas
from ganvas.checkpoint import load_module, save_module
from ganvas.config.schema import ModelConfig
from ganvas.models import build_discriminator, build_generator, check_model
from ganvas.errors import ConfigError
from ganvas.models.fastgan import quadrant, sle_pairs
from ganvas.runfolder import snapshots

from tests.helpers import make_toy_archive, stats, weights


def cfg(resolution=32, channels=3, **extra):
    return ModelConfig(family="fastgan", resolution=resolution, channels=channels, z_dim=16,
                       g_width=4, d_width=4, max_width=32, **extra)


def has_gradient(module):
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def tiny_cfg(resolution, channels=3):
    """The fastgan-tiny widths (presets.FASTGAN_TINY)."""
    return ModelConfig(family="fastgan", resolution=resolution, channels=channels, z_dim=64,
                       g_width=8, d_width=8, max_width=64, spectral_norm=True)


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
    assert D.part_decoder.net[-2].weight.grad.abs().sum() > 0
    assert D.blocks[0][0].weight.grad.abs().sum() > 0          # and D's own features
    assert D.rec_size == min(resolution, 128)
    assert D.part_size == min(resolution, 256) // 2


def test_quadrants_tile_the_map():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert quadrant(x, 0).flatten().tolist() == [0, 1, 4, 5]
    assert quadrant(x, 1).flatten().tolist() == [2, 3, 6, 7]
    assert quadrant(x, 2).flatten().tolist() == [8, 9, 12, 13]
    assert quadrant(x, 3).flatten().tolist() == [10, 11, 14, 15]


def test_crop_decoder_reads_the_quadrant_torch_rng_draws():
    D = build_discriminator(cfg(64))            # no spectral norm: each call is the same
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    by_part = [D.reconstruction_loss(x, part=q).item() for q in range(4)]
    assert len(set(by_part)) == 4               # each quadrant its own crop and target
    torch.manual_seed(7)
    drawn = int(torch.randint(4, ()))
    torch.manual_seed(7)                        # the trainer saves and restores this state
    assert D.reconstruction_loss(x).item() == by_part[drawn]


@pytest.mark.parametrize("resolution,batch", [(64, 2), (128, 2), (256, 2), (512, 2), (1024, 1)])
def test_tiny_widths_build_and_train_at_every_resolution(resolution, batch):
    c = tiny_cfg(resolution)
    G, D = build_generator(c), build_discriminator(c)
    fake = G(torch.randn(batch, c.z_dim))
    assert fake.shape == (batch, 3, resolution, resolution)
    real = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    loss = D(fake).mean() - D(real).mean() + D.reconstruction_loss(real)
    loss.backward()
    for net in (G, D):
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
    assert has_gradient(D.part_decoder)


@pytest.mark.parametrize("channels", [1, 4])
def test_reconstruction_for_every_channel_count(channels):
    D = build_discriminator(tiny_cfg(64, channels))
    rec = D.reconstruction_loss(torch.rand(2, channels, 64, 64) * 2 - 1)
    rec.backward()
    assert torch.isfinite(rec) and has_gradient(D.part_decoder)


@pytest.mark.parametrize("resolution", [16, 48, 2048])
def test_unsupported_resolutions_are_a_one_line_config_error(resolution):
    with pytest.raises(ConfigError, match="from 32 to 1024 for fastgan") as err:
        check_model(tiny_cfg(resolution))
    assert "\n" not in str(err.value)


def test_reconstruction_under_bf16_autocast():
    D = build_discriminator(tiny_cfg(64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rec = D.reconstruction_loss(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert rec.dtype == torch.float32 and torch.isfinite(rec)
    rec.backward()
    assert has_gradient(D.part_decoder)
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)


@pytest.fixture(scope="module")
def toy32(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("data") / "toy32.zip", n=16, resolution=32)


SHORT = dict(model="fastgan-tiny", kimg=0.016, snap_kimg=0.016, tick_kimg=0.016, seed=1,
             progress=False)


def test_bf16_training_has_finite_losses(toy32, tmp_path):
    run = ganvas.train(str(toy32), out=tmp_path, precision="bf16", **SHORT)
    entries = stats(run)
    assert entries and all(np.isfinite(e["loss_d"]) and np.isfinite(e["loss_g"])
                           and np.isfinite(e["d_rec"]) for e in entries)


def test_fine_tuning_freezes_exactly_the_first_d_blocks(toy32, tmp_path):
    source = ganvas.train(str(toy32), out=tmp_path / "src", **SHORT)
    run = ganvas.train(str(toy32), out=tmp_path / "ft", init_from=str(source), freeze_d=2,
                       **{k: v for k, v in SHORT.items() if k != "model"})
    old = weights(snapshots.list_snapshots(source)[-1], "D")
    new = weights(snapshots.list_snapshots(run)[-1], "D")
    # Parameters only: batch-norm statistics and spectral norm's power-iteration vectors
    # (_u, _v) are buffers that move in every training forward, frozen or not.
    params = [k for k in old if not k.endswith(("running_mean", "running_var",
                                                "num_batches_tracked", "_u", "_v"))]
    frozen = [k for k in params if k.startswith(("blocks.0.", "blocks.1."))]
    free = [k for k in params if k not in frozen]
    assert frozen and all(torch.equal(old[k], new[k]) for k in frozen)
    assert all(not torch.equal(old[k], new[k]) for k in free), \
        [k for k in free if torch.equal(old[k], new[k])]
