"""Training data: resolving dataset arguments, epochs, mirroring, memory mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganvas.data import dataset
from ganvas.data.archive import read_archive
from ganvas.data.dataset import ImageBank, load_archive, resolve_dataset
from ganvas.errors import GanvasError

from tests.helpers import make_toy_archive


def test_epochs_show_every_image_once(toy_archive):
    bank = ImageBank(read_archive(toy_archive))
    gen = torch.Generator().manual_seed(0)
    seen = torch.cat([bank._next_indices(24, gen) for _ in range(8)])   # 192 = 3 epochs of 64
    for epoch in seen.view(3, 64):
        assert sorted(epoch.tolist()) == list(range(64))


def test_batches_are_float_in_range_and_mirroring_flips(toy_archive):
    archive = read_archive(toy_archive)
    x, labels = ImageBank(archive).batch(64, torch.Generator().manual_seed(1))
    assert x.shape == (64, 3, 16, 16) and x.dtype == torch.float32 and labels is None
    assert x.min() >= -1 and x.max() <= 1
    ref = torch.from_numpy(archive.images).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.allclose(x, ref)                      # one full epoch, in index order
    m, _ = ImageBank(archive, mirror=True).batch(64, torch.Generator().manual_seed(1))
    flipped = [torch.equal(m[i], ref[i].flip(2)) and not torch.equal(m[i], ref[i])
               for i in range(64)]
    assert 10 < sum(flipped) < 54                      # about half are mirrored


def test_state_dict_continues_the_same_sequence(toy_archive):
    archive = read_archive(toy_archive)
    a, gen = ImageBank(archive), torch.Generator().manual_seed(2)
    a.batch(40, gen)
    state, gen_state = a.state_dict(), gen.get_state()
    expected, _ = a.batch(40, gen)
    b = ImageBank(archive)
    b.load_state_dict(state)
    got, _ = b.batch(40, torch.Generator().set_state(gen_state))
    assert torch.equal(got, expected)


def test_large_datasets_are_memory_mapped(toy_archive, monkeypatch):
    monkeypatch.setattr(dataset, "MEMMAP_BYTES", 100)
    archive = load_archive(toy_archive)
    assert isinstance(archive.images, np.memmap)
    assert np.array_equal(archive.images, read_archive(toy_archive).images)
    again = load_archive(toy_archive)                     # reuses the decoded cache
    assert again.images.filename == archive.images.filename


def test_lower_model_resolution_downsamples(toy_archive):
    x, _ = ImageBank(read_archive(toy_archive), resolution=8).batch(4, torch.Generator())
    assert x.shape == (4, 3, 8, 8)
    with pytest.raises(GanvasError, match="prepared at that size"):
        ImageBank(read_archive(toy_archive), resolution=32)


def test_labels_travel_with_batches(tmp_path):
    archive = read_archive(make_toy_archive(tmp_path / "l.zip", labelled=True))
    x, labels = ImageBank(archive).batch(16, torch.Generator().manual_seed(0))
    red = x[:, 0].mean((1, 2)) > x[:, 2].mean((1, 2))
    assert torch.equal(red, labels == 0)


def test_resolve_dataset(tmp_path, toy_archive):
    assert resolve_dataset("demo:emoji").name == "emoji.zip"
    assert resolve_dataset(str(toy_archive)) == toy_archive
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(GanvasError, match="neither"):
        resolve_dataset(str(tmp_path / "not.zip"))
    with pytest.raises(GanvasError, match="not found"):
        resolve_dataset(str(tmp_path / "missing"))
