"""The FastGAN family: the published architecture (layer list and parameter count against the
authors' code), shapes for every channel count and resolution, its two views and patch logits,
conditioning, excitation gates, noise modes, save/load, the self-supervised D's three
decoders, FreezeD, bf16, and short training runs."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from torch.nn.utils import parametrize

import ganvas
from ganvas.checkpoint import load_module, save_module
from ganvas.config.schema import ModelConfig
from ganvas.errors import ConfigError
from ganvas.models import build_discriminator, build_generator, check_model
from ganvas.models.fastgan import (NoiseInjection, d_sle_pairs, nearest, quadrant, sle_pairs,
                                   small_size)
from ganvas.runfolder import snapshots

from tests.helpers import export_random, make_toy_archive, stats, weights

# The authors' models.py (FastGAN-pytorch, as its forks carry it) built with ngf = ndf = 64,
# nz = 256, nc = 3: {(im_size, net): (parameters, {conv weight shape: how many})}, counted by
# running that code (its spectral norm's weight_orig is the weight; u, v are buffers).
PUBLISHED = {
(256, "G"): (29_127_846, {
        "1024x1024x3x3": 1, "1024x512x3x3": 1, "512x512x3x3": 1, "256x2048x4x4": 1,
        "256x256x3x3": 1, "256x128x3x3": 2, "128x1024x4x4": 1, "128x128x3x3": 1,
        "128x128x1x1": 1, "128x64x3x3": 1, "64x512x4x4": 1, "64x64x3x3": 1, "64x64x1x1":
        1, "32x256x4x4": 1, "32x32x1x1": 1, "3x64x1x1": 1, "3x32x3x3": 1}),
    (256, "D"): (11_526_160, {
        "1024x512x1x1": 1, "512x512x3x3": 1, "512x512x1x1": 1, "512x256x4x4": 1,
        "512x256x1x1": 1, "512x64x4x4": 1, "256x512x3x3": 1, "256x256x3x3": 3,
        "256x256x1x1": 1, "256x128x4x4": 2, "256x128x1x1": 1, "256x32x4x4": 1,
        "128x128x3x3": 4, "128x128x1x1": 1, "128x64x4x4": 2, "128x64x3x3": 3,
        "128x64x1x1": 1, "128x16x4x4": 1, "64x64x3x3": 4, "64x32x4x4": 2, "64x32x1x1": 1,
        "32x32x3x3": 1, "32x16x4x4": 1, "32x16x1x1": 1, "32x3x4x4": 1, "16x3x3x3": 1,
        "3x32x3x3": 3, "1x1024x4x4": 1, "1x256x4x4": 1}),
    (1024, "G"): (29_176_512, {
        "1024x1024x3x3": 1, "1024x512x3x3": 1, "512x512x3x3": 1, "256x2048x4x4": 1,
        "256x256x3x3": 1, "256x128x3x3": 2, "128x1024x4x4": 1, "128x128x3x3": 1,
        "128x128x1x1": 1, "128x64x3x3": 1, "64x512x4x4": 1, "64x64x3x3": 1, "64x64x1x1":
        1, "32x256x4x4": 1, "32x32x3x3": 1, "32x32x1x1": 1, "32x16x3x3": 1, "16x128x4x4":
        1, "16x16x3x3": 1, "16x16x1x1": 1, "3x64x1x1": 1, "3x8x3x3": 1}),
    (1024, "D"): (11_528_192, {
        "1024x512x1x1": 1, "512x512x3x3": 1, "512x512x1x1": 1, "512x256x4x4": 1,
        "512x256x1x1": 1, "512x64x4x4": 1, "256x512x3x3": 1, "256x256x3x3": 3,
        "256x256x1x1": 1, "256x128x4x4": 2, "256x128x1x1": 1, "256x32x4x4": 1,
        "128x128x3x3": 4, "128x128x1x1": 1, "128x64x4x4": 2, "128x64x3x3": 3,
        "128x64x1x1": 1, "128x16x4x4": 1, "64x64x3x3": 4, "64x32x4x4": 2, "64x32x1x1": 1,
        "32x32x3x3": 1, "32x16x4x4": 1, "32x16x1x1": 1, "32x3x4x4": 1, "16x8x4x4": 1,
        "8x3x4x4": 1, "3x32x3x3": 3, "1x1024x4x4": 1, "1x256x4x4": 1}),
}


def published_cfg(resolution):
    return ModelConfig(family="fastgan", resolution=resolution, z_dim=256, g_width=64,
                       d_width=64, max_width=1024, spectral_norm=True)


def conv_shapes(net):
    return Counter("x".join(map(str, p.shape)) for p in net.parameters() if p.dim() == 4)


@pytest.mark.parametrize("resolution", [256, 1024])
def test_layers_and_parameters_are_the_published_ones(resolution):
    c = published_cfg(resolution)
    for name, net in (("G", build_generator(c)), ("D", build_discriminator(c))):
        total, shapes = PUBLISHED[(resolution, name)]
        assert conv_shapes(net) == Counter(shapes), name
        assert sum(p.numel() for p in net.parameters()) == total, name


def test_published_block_kinds_excitations_and_spectral_norm():
    G = build_generator(published_cfg(1024))
    noises = {r: sum(isinstance(m, NoiseInjection) for m in G.ups[str(r)].modules())
              for r in G.sizes[1:]}
    convs = {r: len(G.ups[str(r)].convs) for r in G.sizes[1:]}
    # Two convolutions with noise at 8, 32, 128, 512 px; one without at 16, 64, 256, 1024.
    assert noises == {8: 2, 16: 0, 32: 2, 64: 0, 128: 2, 256: 0, 512: 2, 1024: 0}
    assert convs == {8: 2, 16: 1, 32: 2, 64: 1, 128: 2, 256: 1, 512: 2, 1024: 1}
    assert sle_pairs(1024) == [(4, 64), (8, 128), (16, 256), (32, 512)]
    assert sle_pairs(256) == [(4, 64), (8, 128), (16, 256)] and sle_pairs(32) == []
    assert d_sle_pairs(1024) == d_sle_pairs(256) == [(256, 32), (128, 16), (64, 8)]
    assert d_sle_pairs(64) == [(64, 8)] and d_sle_pairs(32) == []
    # Every convolution of G is spectrally normalised, as in the original.
    convs = [m for m in G.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    assert small_size(1024) == small_size(256) == 128 and small_size(64) == 32


def cfg(resolution=32, channels=3, **extra):
    return ModelConfig(family="fastgan", resolution=resolution, channels=channels, z_dim=16,
                       g_width=4, d_width=4, max_width=32, **extra)


def has_gradient(module):
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def tiny_cfg(resolution, channels=3):
    """The fastgan-tiny widths (presets.FASTGAN_TINY)."""
    return ModelConfig(family="fastgan", resolution=resolution, channels=channels, z_dim=64,
                       g_width=8, d_width=8, max_width=128, spectral_norm=True)


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes_range_and_two_views(resolution, channels):
    c = cfg(resolution, channels)
    G, D = build_generator(c).eval(), build_discriminator(c)
    z = torch.randn(3, c.z_dim)
    x = G(z, noise_mode="none")
    assert x.shape == (3, channels, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1                      # tanh output
    big, small = G.views(z, noise_mode="none")
    assert torch.equal(big, x) and small.shape == (3, channels, resolution // 2, resolution // 2)
    assert small.min() >= -1 and small.max() <= 1
    # Patch logits of both branches: 5x5 from each 8x8 map.
    assert D(x).shape == D((big, small)).shape == (3, 50)
    assert D.blocks[0][0].in_channels == channels
    assert len(D.blocks) == int(np.log2(resolution)) - 2


def test_d_makes_the_small_view_of_reals_by_nearest_neighbour():
    D = build_discriminator(cfg(64)).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    small = x[:, :, ::2, ::2]                                  # nearest, as F.interpolate
    assert torch.equal(nearest(x, (32, 32)), small)
    assert torch.equal(D(x), D((x, small)))
    assert not torch.equal(D(x), D((x, small.flip(-1))))      # the small branch counts


def test_conditional_generator_and_discriminator_use_the_label():
    c = cfg(num_classes=3)
    G, D = build_generator(c).eval(), build_discriminator(c).eval()
    assert G.class_embedding.weight.std().item() == pytest.approx(1.0, abs=0.3)   # z's scale
    assert not parametrize.is_parametrized(G.class_embedding, "weight")
    z = torch.randn(2, 16).repeat(2, 1)
    x = G(z, torch.tensor([0, 0, 1, 1]))
    assert not torch.allclose(x[0], x[2])
    same = torch.rand(1, 3, 32, 32).repeat(2, 1, 1, 1) * 2 - 1
    a, b = D(same, torch.tensor([0, 2])).unbind()
    assert not torch.allclose(a, b, rtol=1e-3, atol=0)
    # The projection term is one number per sample, added to each of its patch logits.
    assert torch.allclose(a - b, (a - b)[0].expand_as(a), atol=1e-5)
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
    G(torch.randn(4, 16), y)                      # move batch-norm statistics and u, v
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
def test_three_reconstructions_and_their_targets(resolution):
    D = build_discriminator(cfg(resolution)).eval()
    x = torch.rand(2, 3, resolution, resolution) * 2 - 1
    logits, pairs = D.reconstruct(x, part=3)
    assert torch.equal(logits, D(x))              # the forward's logits, from the same pass
    whole, small, crop = pairs
    size = min(resolution, 128)
    assert whole[0].shape == whole[1].shape == (2, 3, size, size)
    assert small[0].shape == small[1].shape == (2, 3, small_size(resolution),
                                                  small_size(resolution))
    part = min(resolution // 2, 128)
    assert crop[0].shape == crop[1].shape == (2, 3, part, part)
    # Targets: the reals (and their bottom-right quadrant) resized by nearest neighbour.
    assert torch.equal(whole[1], nearest(x, (size, size)))
    assert torch.equal(crop[1], nearest(quadrant(x, 3), (part, part)))
    sum(((rec - target) ** 2).mean() for rec, target in pairs).backward()
    for decoder in (D.decoder, D.small_decoder, D.part_decoder, D.blocks[0], D.small_blocks):
        assert has_gradient(decoder)


def test_quadrants_tile_the_map():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert quadrant(x, 0).flatten().tolist() == [0, 1, 4, 5]
    assert quadrant(x, 1).flatten().tolist() == [2, 3, 6, 7]
    assert quadrant(x, 2).flatten().tolist() == [8, 9, 12, 13]
    assert quadrant(x, 3).flatten().tolist() == [10, 11, 14, 15]


def test_crop_decoder_reads_the_quadrant_torch_rng_draws():
    D = build_discriminator(cfg(64)).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1

    def crop(part=None):
        return D.reconstruct(x, part=part)[1][2]

    by_part = [crop(q) for q in range(4)]
    assert all(not torch.equal(by_part[0][1], other[1]) for other in by_part[1:])
    torch.manual_seed(7)
    drawn = int(torch.randint(4, ()))
    torch.manual_seed(7)                        # the trainer saves and restores this state
    assert torch.equal(crop()[1], by_part[drawn][1])


@pytest.mark.parametrize("resolution,batch", [(64, 2), (128, 2), (256, 2), (512, 2), (1024, 1)])
def test_tiny_widths_build_and_train_at_every_resolution(resolution, batch):
    c = tiny_cfg(resolution)
    G, D = build_generator(c), build_discriminator(c)
    fake = G.views(torch.randn(batch, c.z_dim))
    assert fake[0].shape == (batch, 3, resolution, resolution)
    real = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    logits, pairs = D.reconstruct(real)
    loss = D(fake).mean() - logits.mean() + sum((a - b).abs().mean() for a, b in pairs)
    loss.backward()
    for net in (G, D):
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
    assert has_gradient(D.part_decoder) and has_gradient(G.to_small)


@pytest.mark.parametrize("channels", [1, 4])
def test_reconstruction_for_every_channel_count(channels):
    D = build_discriminator(tiny_cfg(64, channels))
    _, pairs = D.reconstruct(torch.rand(2, channels, 64, 64) * 2 - 1)
    sum((a - b).abs().mean() for a, b in pairs).backward()
    assert all(a.shape[1] == channels for a, _ in pairs) and has_gradient(D.part_decoder)


@pytest.mark.parametrize("resolution", [16, 48, 2048])
def test_unsupported_resolutions_are_a_one_line_config_error(resolution):
    with pytest.raises(ConfigError, match="from 32 to 1024 for fastgan") as err:
        check_model(tiny_cfg(resolution))
    assert "\n" not in str(err.value)


def test_reconstruction_under_bf16_autocast():
    D = build_discriminator(tiny_cfg(64))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, pairs = D.reconstruct(torch.rand(2, 3, 64, 64) * 2 - 1)
    rec = sum((a.float() - b.float()).abs().mean() for a, b in pairs)
    assert torch.isfinite(rec) and torch.isfinite(logits).all()
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


def test_a_model_of_the_earlier_fastgan_layers_is_a_one_line_error(tmp_path):
    """model.json records the family's architecture; one saved before FastGAN followed the
    published layers (no field: architecture 1) is refused with why, not a key mismatch,
    while a DCGAN's model.json without the field (its architecture 1) still loads."""
    models = {"fastgan": dict(family="fastgan", resolution=32, z_dim=16, g_width=4,
                              d_width=4, max_width=32),
              "dcgan": dict(family="dcgan", resolution=16, z_dim=16, g_width=8, d_width=8)}
    folders = {}
    for family, options in models.items():
        folder = folders[family] = export_random(tmp_path / family, **options)
        info = json.loads((folder / "model.json").read_text())
        assert info["architecture"] == (2 if family == "fastgan" else 1)
        del info["architecture"]                              # as ganvas wrote it before
        (folder / "model.json").write_text(json.dumps(info))
    assert ganvas.load(folders["dcgan"], device="cpu").generate([0]).shape[0] == 1
    with pytest.raises(ganvas.GanvasError, match="a fastgan model of architecture 1; this "
                                                 "ganvas builds architecture 2") as err:
        ganvas.load(folders["fastgan"], device="cpu")
    assert "\n" not in str(err.value)
