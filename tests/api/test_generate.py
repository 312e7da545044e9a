"""Pictures by seed: determinism, the ways to name a model, the generate verb."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.latent.interpolate import interpolate, schedule, slerp
from ganvas.latent.sampling import parse_seeds
from ganvas.runfolder import snapshots


def test_parse_seeds():
    assert parse_seeds("0-3,10,12-13") == [0, 1, 2, 3, 10, 12, 13]
    assert parse_seeds("7") == [7]
    for bad, message in (("", "give at least 1 seed"), ("a", "bad seeds 'a'"),
                         ("3-1", "bad seed range '3-1'"), ("1-", "bad seeds '1-'"),
                         ("-2", "bad seeds '-2'"), ("0-999999999", "too many seeds in '0-")):
        with pytest.raises(GanvasError, match=f"^{message}"):
            parse_seeds(bad)


def test_same_seed_same_image_whatever_the_batch(tiny_run):
    model = ganvas.load(tiny_run)
    many = model.generate(range(40))
    assert many.dtype == np.uint8 and many.shape == (40, 16, 16, 3)
    assert np.array_equal(model.generate([17]), many[17:18])
    assert np.array_equal(model.generate([33, 2, 17]), many[[33, 2, 17]])
    assert not np.array_equal(many[0], many[1])
    assert np.array_equal(ganvas.load(tiny_run).generate(range(40)), many)   # fresh load


def test_load_run_snapshot_or_exported_model(tiny_run, tmp_path):
    newest = snapshots.list_snapshots(tiny_run)[-1]
    assert ganvas.load(tiny_run).path == newest
    assert ganvas.load(newest / "model.json").path == newest
    exported = tmp_path / "exported"
    exported.mkdir()
    for name in ("model.json", "G_ema.safetensors"):
        (exported / name).write_bytes((newest / name).read_bytes())
    assert np.array_equal(ganvas.load(exported).generate([1, 2]),
                          ganvas.load(tiny_run).generate([1, 2]))
    with pytest.raises(GanvasError, match="not found"):
        ganvas.load(tmp_path / "nope")
    with pytest.raises(GanvasError, match="not a run directory"):
        ganvas.load(tmp_path)


def test_generate_verb_writes_pngs_and_grid(tiny_run, tmp_path):
    assert main(["generate", str(tiny_run), "--seeds", "3-5", "--out", str(tmp_path / "png"),
                 "--grid", str(tmp_path / "grid.png"), "--scale", "2"]) == 0
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names == ["seed0003.png", "seed0004.png", "seed0005.png"]
    expected = ganvas.load(tiny_run).generate([4])[0]
    with Image.open(tmp_path / "png" / "seed0004.png") as im:
        assert np.array_equal(np.asarray(im)[::2, ::2], expected)
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (2 * 16 * 2, 2 * 16 * 2)            # 3 images -> 2x2 grid, scale 2


def test_walk_visits_keys_and_loops():
    keys = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    import torch
    k = torch.from_numpy(keys)
    def walk(keys, frames_per_step, loop):
        return interpolate(keys, *schedule(len(keys), frames_per_step, loop, "linear"))
    frames = walk(k, frames_per_step=4, loop=True)
    assert frames.shape == (12, 8)
    assert torch.allclose(frames[0], k[0]) and torch.allclose(frames[4], k[1], atol=1e-5)
    a, b = k[0] / k[0].norm(), k[1] / k[1].norm()
    mid = slerp(a, b, torch.tensor([0.5]))[0]
    assert mid.norm() == pytest.approx(1.0, abs=1e-5)          # stays on the sphere
    assert (a + b).norm() / 2 < 0.99                            # where lerp would not
    assert walk(k, 4, loop=False).shape == (9, 8)


def test_written_files_follow_the_umask_not_private(tmp_path):
    """atomic_save's temporary file is 0600; the finished file gets the usual permissions."""
    import os
    from ganvas.durable import atomic_save
    old = os.umask(0o022)
    try:
        path = atomic_save(tmp_path / "a.txt", lambda tmp: open(tmp, "w").write("x"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_look_is_the_three_settings_as_one_value(tiny_run):
    """generate(look=Look(...)) is generate(label=..., truncation=..., noise_mode=...); giving
    both ways at once, or a bad psi, is a clear error."""
    model = ganvas.load(tiny_run)
    look = ganvas.Look(truncation=0.5)
    assert np.array_equal(model.generate([3, 4], look=look),
                          model.generate([3, 4], truncation=0.5))
    with pytest.raises(GanvasError, match="not both"):
        model.generate([3], truncation=0.5, look=look)
    with pytest.raises(GanvasError, match="truncation must be a finite number"):
        ganvas.Look(truncation=float("nan"))
    with pytest.raises(GanvasError, match="unconditional"):
        ganvas.Look(label=1).check(model.sampler)
