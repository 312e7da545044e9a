"""The health monitor raises its flags on constructed failing runs, and NaN losses roll back."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn as nn
from safetensors.torch import load_file

import ganvas
from ganvas.errors import GanvasError
from ganvas.config.resolve import preset
from ganvas.runfolder import snapshots
from ganvas.training import health
from ganvas.training.health import Health
from ganvas.training.trainer import Trainer

from tests.helpers import TINY


class ScaledG(nn.Module):
    """A stand-in G: a fixed random map of z scaled by `spread` (0 = every sample the same)."""

    def __init__(self):
        super().__init__()
        self.spread = nn.Parameter(torch.ones(()))
        self.proj = torch.randn(8, 3 * 16 * 16, generator=torch.Generator().manual_seed(0))

    def forward(self, z, labels=None):
        return torch.tanh(self.spread * (z @ self.proj)).view(-1, 3, 16, 16)


def monitor():
    reals = torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return Health(reals, torch.randn(32, 8, generator=torch.Generator().manual_seed(2)), None,
                  warmup_kimg=WARMUP)


WARMUP = 5.0


def tick(loss_g=1.0, d_acc=0.7, loss_d=1.0, kimg=WARMUP, d_real=1.0, d_fake=-1.0):
    return {"loss_d": loss_d, "loss_g": loss_g, "d_acc": d_acc, "kimg": kimg,
            "d_real": d_real, "d_fake": d_fake}


def test_non_finite_losses_are_flagged():
    G = ScaledG()
    assert monitor().check(tick(loss_d=math.nan), G) == ["nonfinite"]
    assert monitor().check(tick(loss_g=math.inf), G) == ["nonfinite"]


def test_d_won_needs_perfect_d_and_rising_g_loss():
    G = ScaledG()
    h = monitor()
    flags = [h.check(tick(loss_g=g, d_acc=0.995), G) for g in (1.0, 2.0, 3.0, 4.0)]
    assert flags[:3] == [[], [], []] and flags[3] == ["d_won"]
    h = monitor()
    assert all(h.check(tick(loss_g=g, d_acc=0.8), G) == [] for g in (1.0, 2.0, 3.0, 4.0))
    h = monitor()
    assert all(h.check(tick(loss_g=g, d_acc=1.0), G) == [] for g in (3.0, 2.0, 3.0, 2.5))
    # One tick of a less perfect D in the window is no win (the demo's 16-17 kimg).
    h = monitor()
    accs = (0.886, 0.954, 0.994, 0.995)
    assert all(h.check(tick(loss_g=g, d_acc=a), G) == [] for g, a in zip((1, 2, 3, 4), accs))


def test_mode_collapse_is_a_loss_of_diversity():
    G = ScaledG()
    h = monitor()
    diverse = [tick() for _ in range(3)]
    assert all(h.check(t, G) == [] for t in diverse) and diverse[0]["diversity"] > 0.5
    with torch.no_grad():
        G.spread.fill_(0.01)                       # every sample nearly the same picture
    # The median of three ticks: one tick of low diversity is a dip (healthy runs have them,
    # the demo at 16 kimg), the second makes it the typical value: a collapse.
    dip, collapsed = tick(), tick()
    assert h.check(dip, G) == [] and dip["diversity"] < 0.1
    assert h.check(collapsed, G) == ["mode_collapse"] and collapsed["diversity"] < 0.1
    assert h.still_near_copies() == pytest.approx(collapsed["diversity"], abs=1e-4)
    assert monitor().still_near_copies() is None


def test_one_spike_sets_no_bar():
    """The demo under load: 0.46 for one tick, then 0.15 and 0.22, then back over 0.25."""
    G = ScaledG()
    h = monitor()
    spreads = {0.33: None, 0.46: None, 0.15: None, 0.22: None}
    for target in spreads:                         # a spread giving each diversity
        lo, hi = 1e-4, 10.0
        for _ in range(60):
            mid = (lo * hi) ** 0.5
            with torch.no_grad():
                G.spread.fill_(mid)
            lo, hi = (mid, hi) if h.diversity_ratio(G) < target else (lo, mid)
        spreads[target] = mid
    flags = []
    for target in (0.33, 0.33, 0.33, 0.46, 0.15, 0.22):
        with torch.no_grad():
            G.spread.fill_(spreads[target])
        flags.append(h.check(tick(), G))
    assert flags == [[]] * 6


def test_near_copies_from_the_start_are_collapse_only_when_they_fool_d():
    G = ScaledG()
    with torch.no_grad():
        G.spread.fill_(0.01)
    # D still tells them apart: an early G (a healthy run's first kimg look like this).
    assert monitor().check(tick(), G) == []
    # D scores them as real as the reals: G found one output that fools D.
    assert monitor().check(tick(d_real=0.5, d_fake=4.0), G) == ["mode_collapse"]


def test_warm_up_raises_nothing():
    G = ScaledG()
    h = monitor()
    early = [tick(loss_g=g, d_acc=1.0, kimg=k, d_fake=4.0) for g, k in ((1, 1), (2, 2), (3, 3),
                                                                         (4, 4))]
    with torch.no_grad():
        G.spread.fill_(0.01)
    assert all(h.check(t, G) == [] for t in early)        # collapsed, but in the warm-up
    assert h.check(tick(loss_g=5.0, d_acc=1.0, d_fake=4.0), G) == ["d_won", "mode_collapse"]


def test_diversity_check_leaves_buffers_and_rng_alone():
    G = nn.Sequential(nn.Unflatten(1, (8, 1, 1)), nn.ConvTranspose2d(8, 3, 16), nn.BatchNorm2d(3))
    G.forward = lambda z, labels=None: nn.Sequential.forward(G, z)  # G(z, labels) signature
    before = {k: v.clone() for k, v in G.state_dict().items()}
    monitor().diversity_ratio(G)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_d_won_is_flagged_and_hinted_in_a_run_where_g_cannot_learn(toy_archive, tmp_path):
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.576, lr_g=1e-12, lr_d=2e-3,
                       health_warmup_kimg=0, **TINY)
    entries = [json.loads(s) for s in (run / "stats.jsonl").read_text().splitlines()]
    assert any("d_won" in e["flags"] for e in entries)
    assert "d_won" not in entries[0]["flags"]
    log = (run / "log.txt").read_text()
    assert log.count("warning") == 1 and "--lr-d" in log


def blow_up_at(monkeypatch, steps: set[int], times: int | None = 1):
    """Make G's weights NaN after the given steps (`times` times in all; None = always)."""
    original = Trainer.train_step
    left = {"n": times}

    def step(self):
        out = original(self)
        if self.step in steps and (left["n"] is None or left["n"] > 0):
            if left["n"] is not None:
                left["n"] -= 1
            with torch.no_grad():
                next(self.G.parameters()).fill_(math.nan)
        return out

    monkeypatch.setattr(Trainer, "train_step", step)


def finite_snapshots(run):
    return all(torch.isfinite(t).all() for snap in snapshots.list_snapshots(run)
               for f in snap.glob("*.safetensors") for t in load_file(str(f)).values())


def test_nan_rolls_back_to_the_last_good_snapshot_with_lower_lr(monkeypatch, toy_archive,
                                                                 tmp_path):
    blow_up_at(monkeypatch, {10})                   # after 160 images, past the 128 snapshot
    run = ganvas.train(str(toy_archive), out=tmp_path, kimg=0.384, **TINY)
    entries = [json.loads(s) for s in (run / "stats.jsonl").read_text().splitlines()]
    rollbacks = [e for e in entries if "rollback" in e]
    assert len(rollbacks) == 1 and rollbacks[0]["kimg"] == 0.128
    assert rollbacks[0]["lr_scale"] == 0.5 and entries[-1]["lr_scale"] == 0.5
    assert any("nonfinite" in e.get("flags", []) for e in entries)
    assert snapshots.list_snapshots(run)[-1].name == "kimg-000000.384" and finite_snapshots(run)
    state = torch.load(snapshots.list_snapshots(run)[-1] / "trainer.pt", weights_only=True)
    base = preset(TINY["model"]).config.train.lr_g
    assert state["opt_G"]["param_groups"][0]["lr"] == pytest.approx(base * 0.5)
    assert "rolled back to 0.128 kimg" in (run / "log.txt").read_text()


def test_repeated_divergence_stops_with_a_clear_message(monkeypatch, toy_archive, tmp_path):
    blow_up_at(monkeypatch, set(range(100)), times=None)
    with pytest.raises(GanvasError, match="diverged .* 4 times"):
        ganvas.train(str(toy_archive), out=tmp_path, kimg=0.384, **TINY)
    run = next(tmp_path.iterdir())
    assert finite_snapshots(run)                      # never a NaN snapshot (here: none at all)


def test_probe_does_not_move_the_training_streams(toy_archive):
    from ganvas.data.dataset import ImageBank, load_archive
    bank = ImageBank(load_archive(toy_archive))
    before = torch.random.get_rng_state()
    reals, z, labels = health.probe(bank, 8, 0)
    assert torch.equal(before, torch.random.get_rng_state())
    assert reals.shape == (32, 3, 16, 16) and z.shape == (32, 8) and labels is None
