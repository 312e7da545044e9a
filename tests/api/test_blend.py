"""ganvas blend: layer swapping between two models of one architecture. Each tensor of the
blend is its parent's (or the crossfade's lerp of both) but for batch-norm statistics, which
are re-estimated on the blend; the extremes are the parents exactly, the result is an ordinary
exported model, and every mismatch is a one-line error."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganvas
from ganvas.blend import fine_weights, resolutions_of
from ganvas.checkpoint import model_info
from ganvas.config.schema import ModelConfig
from ganvas.models import build_generator
from ganvas.models.batchnorm import RECALIBRATION_SEED
from ganvas.runfolder.snapshots import write_snapshot

from tests.helpers import usage_error
from tests.helpers import DC, SG2, export_random, run

FG = dict(family="fastgan", resolution=32, z_dim=16, g_width=4, d_width=4, max_width=32)
CONFIGS = {"stylegan2": SG2, "dcgan": {**DC, "resolution": 32}, "fastgan": FG}   # 4-32 px
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def pair(request, tmp_path_factory):
    """(family, BASE folder, FINE folder): two random models of one architecture."""
    folder = tmp_path_factory.mktemp(request.param)
    cfg = CONFIGS[request.param]
    return (request.param, export_random(folder / "base", seed=1, **cfg),
            export_random(folder / "fine", seed=2, **cfg))


def states(*paths):
    return [ganvas.load(p, device="cpu").G.state_dict() for p in paths]


BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


def is_bn_stat(key: str) -> bool:
    """A batch-norm running statistic: re-estimated on a blend, not taken from a parent."""
    return key.rsplit(".", 1)[-1] in BN_STATS


def recorded(out):
    return json.loads((out / "model.json").read_text())["blend"]["batchnorm_recalibrated"]


def test_swap_at_the_top_is_base_and_below_the_lowest_is_fine(pair, tmp_path):
    _, base, fine = pair
    B, F = ganvas.load(base, device="cpu"), ganvas.load(fine, device="cpu")
    top = resolutions_of(B.G)[-1]
    all_base = ganvas.load(B.blend(fine, tmp_path / "top", swap_at=top))
    all_fine = ganvas.load(B.blend(F, tmp_path / "zero", swap_at=0))
    assert np.array_equal(all_base.generate(SEEDS, truncation=0.7),
                          B.generate(SEEDS, truncation=0.7))
    assert np.array_equal(all_fine.generate(SEEDS), F.generate(SEEDS))
    assert not np.array_equal(B.generate(SEEDS), F.generate(SEEDS))
    for got, want in ((all_base, B), (all_fine, F)):
        a, b = got.G.state_dict(), want.G.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        # A parent exactly keeps its own batch-norm statistics.
        assert got.info["blend"]["batchnorm_recalibrated"] is False


def test_in_between_each_tensor_is_its_sides_parents(pair, tmp_path):
    _, base, fine = pair
    B = ganvas.load(base, device="cpu")
    where = B.G.layer_resolutions()
    out = B.blend(fine, tmp_path / "mid", swap_at=8)
    got, a, b = states(out, base, fine)
    assert {where[k] for k in got} >= {4, 8, 16}
    for k in got:
        parent = a if where[k] <= 8 else b
        assert is_bn_stat(k) or torch.equal(got[k], parent[k]), k
    assert any(map(is_bn_stat, got)) == (recorded(out) is not False)
    mixed = ganvas.load(out).generate(SEEDS)
    assert not np.array_equal(mixed, B.generate(SEEDS))
    info = json.loads((out / "model.json").read_text())
    assert info["blend"]["swap_at"] == 8 and info["blend"]["crossfade"] == 0
    assert info["blend"]["base"] == str(base.resolve())
    assert info["blend"]["fine"] == str(fine.resolve())
    assert info["model"] == B.info["model"] and info["preset"] == B.info["preset"]


def test_crossfade_weights_are_monotone_with_the_parents_at_the_band_ends():
    res = [4, 8, 16, 32, 64, 128]
    assert fine_weights(res, 16) == {4: 0, 8: 0, 16: 0, 32: 1, 64: 1, 128: 1}
    assert fine_weights(res, 0) == {r: 1 for r in res}
    assert fine_weights(res, 16, 1) == {4: 0, 8: 0, 16: 0.5, 32: 1, 64: 1, 128: 1}
    two = fine_weights(res, 16, 2)
    assert two[8] == 0 and two[64] == 1
    assert two[16] == pytest.approx(1 / 3) and two[32] == pytest.approx(2 / 3)
    for n in range(len(res) + 1):
        for swap in [0] + res:
            w = [fine_weights(res, swap, n)[r] for r in res]
            assert all(0 <= x <= 1 for x in w) and w == sorted(w), (swap, n)
            inside = [x for x in w if 0 < x < 1]
            # the N blocks of the band (fewer where it runs past the model's ends)
            assert len(inside) <= n and len(set(inside)) == len(inside)


def test_crossfade_lerps_the_band_and_keeps_the_parents_outside(pair, tmp_path):
    family, base, fine = pair
    B = ganvas.load(base, device="cpu")
    where = B.G.layer_resolutions()
    out = B.blend(fine, tmp_path / "fade", swap_at=8, crossfade=2)   # band: 8 and 16
    got, a, b = states(out, base, fine)
    weights = json.loads((out / "model.json").read_text())["blend"]["fine_weight"]
    assert weights["4"] == 0 and weights["32"] == 1
    assert 0 < weights["8"] < weights["16"] < 1
    for k in got:
        r = where[k]
        if is_bn_stat(k):
            continue                                  # re-estimated (the test below)
        if r == 4:
            assert torch.equal(got[k], a[k]), k
        elif r == 32:
            assert torch.equal(got[k], b[k]), k
        elif got[k].is_floating_point():
            assert torch.allclose(got[k], torch.lerp(a[k], b[k], weights[str(r)])), k
    if family == "stylegan2":         # w_avg goes with the mapping network: BASE's, at 4 px
        assert torch.equal(got["mapping.w_avg"], a["mapping.w_avg"])


def test_a_blend_is_an_exported_model_every_verb_loads(tmp_path, capsys):
    base = export_random(tmp_path / "base", ("cat", "dog"), seed=1, **SG2)
    fine = export_random(tmp_path / "fine", ("cat", "dog"), seed=2, **SG2)
    out = tmp_path / "blended"
    assert run(["blend", base, fine, "--swap-at", "16", "--crossfade", "1", "--out", out]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["G_ema.safetensors", "model.json"]
    model = ganvas.load(out)
    assert model.class_names == ["cat", "dog"]
    assert model.generate([3], label="dog").shape == (1, 32, 32, 3)
    assert run(["generate", out, "--seeds", "0-3", "--grid", tmp_path / "grid.png"]) == 0
    assert (tmp_path / "grid.png").is_file()
    walk = model.walk(seeds=[1, 2], space="w", frames_per_step=2).frames()
    assert walk.shape == (3, 32, 32, 3)
    # A blend of a blend records both.
    again = ganvas.load(out).blend(fine, tmp_path / "again", swap_at=8)
    assert json.loads((again / "model.json").read_text())["blend"]["base_blend"]["swap_at"] == 16


def test_a_model_blended_with_itself_is_itself(pair, tmp_path):
    _, base, _ = pair
    B = ganvas.load(base, device="cpu")
    same = ganvas.load(B.blend(base, tmp_path / "self", swap_at=8, crossfade=3))
    assert np.array_equal(same.generate(SEEDS), B.generate(SEEDS))
    assert same.info["blend"]["batchnorm_recalibrated"] is False


# Generators with batch norm, conditional (cGAN) and with noise inputs (FastGAN) among them.
BN_CONFIGS = {"dcgan": ({**DC, "resolution": 32}, ()),
              "cgan": ({**DC, "resolution": 32}, ("a", "b", "c")),
              "fastgan": (FG, ())}


def export_stale(folder, classes, seed, **cfg):
    """A random generator, like export_random's, whose batch-norm statistics are far from any
    its weights give (as after fine-tuning on other pictures): means shifted, variances
    scaled."""
    torch.manual_seed(seed)
    mc = ModelConfig(**cfg, num_classes=len(classes))
    G = build_generator(mc).eval()
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    with torch.no_grad():
        for m in bns:
            m.running_mean.normal_(3.0, 1.0)
            m.running_var.uniform_(20.0, 80.0)
            m.num_batches_tracked.fill_(1000)
    info = model_info(mc, 0, {"class_names": list(classes)}, preset="test")
    return write_snapshot(folder, {"G_ema": G}, info)


@pytest.fixture(scope="module", params=sorted(BN_CONFIGS))
def stale_pair(request, tmp_path_factory):
    """(family, BASE folder, FINE folder): FINE's batch-norm statistics stale for BASE's."""
    folder = tmp_path_factory.mktemp(request.param)
    cfg, classes = BN_CONFIGS[request.param]
    return (request.param, export_random(folder / "base", classes, seed=1, **cfg),
            export_stale(folder / "fine", classes, seed=2, **cfg))


def fresh_statistics(G: nn.Module, z_dim: int, num_classes: int, num: int = 512,
                     batch: int = 64) -> dict:
    """{BN layer name: (running_mean, running_var)} estimated afresh on a copy of G: train mode,
    momentum None (a plain average over the batches), the blend's latents and labels, spectral
    norm's vectors unmoved."""
    G = copy.deepcopy(G)
    bns = {n: m for n, m in G.named_modules() if isinstance(m, nn.BatchNorm2d)}
    for m in bns.values():
        m.reset_running_stats()
        m.momentum = None
    G.train()
    for m in G.modules():                  # spectral norm's vectors: the weights stay
        if parametrize.is_parametrized(m):
            m.parametrizations.eval()
    gen = torch.Generator().manual_seed(RECALIBRATION_SEED)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(RECALIBRATION_SEED)              # FastGAN's noise inputs
        for start in range(0, num, batch):
            n = min(batch, num - start)
            z = torch.randn(n, z_dim, generator=gen)
            labels = torch.randint(num_classes, (n,), generator=gen) if num_classes else None
            G(z, labels)
    return {n: (m.running_mean, m.running_var) for n, m in bns.items()}


@pytest.mark.parametrize("crossfade", [0, 2])
def test_batchnorm_statistics_are_estimated_on_the_blend_not_fine_s(stale_pair, crossfade,
                                                                     tmp_path):
    family, base, fine = stale_pair
    B = ganvas.load(base, device="cpu")
    out = B.blend(fine, tmp_path / "blend", swap_at=8, crossfade=crossfade)
    assert recorded(out) == {"images": 512, "seed": RECALIBRATION_SEED}
    G = ganvas.load(out, device="cpu").G
    where, got, stale = G.layer_resolutions(), G.state_dict(), states(fine)[0]
    cfg, classes = BN_CONFIGS[family]
    fresh = fresh_statistics(G, cfg["z_dim"], len(classes))
    assert {where[f"{n}.running_var"] for n in fresh} >= {4, 8, 16}     # both sides of the cut
    for name, (mean, var) in fresh.items():
        assert torch.allclose(got[f"{name}.running_mean"], mean, rtol=1e-5, atol=1e-6), name
        assert torch.allclose(got[f"{name}.running_var"], var, rtol=1e-5, atol=1e-6), name
        assert got[f"{name}.num_batches_tracked"] == 8, name               # 512 / 64
        if where[f"{name}.running_var"] > 8:                         # FINE's side of the cut
            assert not torch.allclose(got[f"{name}.running_var"], stale[f"{name}.running_var"],
                                      rtol=0.5), name
    # Only the statistics moved: every other tensor is still its parent's (or the lerp).
    a, b = states(base, fine)
    for k in got:
        if not is_bn_stat(k) and crossfade == 0:
            assert torch.equal(got[k], (a if where[k] <= 8 else b)[k]), k


def test_a_blend_with_batchnorm_is_reproducible_byte_for_byte(stale_pair, tmp_path):
    _, base, fine = stale_pair
    B = ganvas.load(base, device="cpu")
    outs = []
    for seed in (123, 456):                  # the global RNG's state does not matter
        torch.manual_seed(seed)
        outs.append(B.blend(fine, tmp_path / str(seed), swap_at=16, crossfade=1))
    for name in ("G_ema.safetensors", "model.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert recorded(outs[0]) == {"images": 512, "seed": RECALIBRATION_SEED}


def test_stylegan2_has_no_batchnorm_to_recalibrate(tmp_path):
    base = export_random(tmp_path / "base", seed=1, **SG2)
    fine = export_random(tmp_path / "fine", seed=2, **SG2)
    B = ganvas.load(base, device="cpu")
    out = B.blend(fine, tmp_path / "blend", swap_at=8, crossfade=1)
    assert recorded(out) is False
    got, a, b = states(out, base, fine)
    where, weights = B.G.layer_resolutions(), fine_weights(resolutions_of(B.G), 8, 1)
    for k in got:                      # every tensor its parent's or their lerp, as before
        t = weights[where[k]]
        want = a[k] if t == 0 else b[k] if t == 1 else torch.lerp(a[k], b[k], t)
        assert torch.equal(got[k], want), k


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("mismatch")
    return {"dc": export_random(root / "dc", seed=1, **DC),
            "dc_fine": export_random(root / "dc_fine", seed=2, **DC),
            "dc_wide": export_random(root / "dc_wide", seed=2, **{**DC, "g_width": 16}),
            "dc_cond": export_random(root / "dc_cond", ("a", "b"), seed=2, **DC),
            "sg2": export_random(root / "sg2", seed=2, **SG2)}


@pytest.mark.parametrize("other, args, message", [
    ("sg2", ["--swap-at", "8"], "family 'dcgan' vs 'stylegan2'"),
    ("dc_wide", ["--swap-at", "8"], "g_width 8 vs 16"),
    ("dc_cond", ["--swap-at", "8"], "num_classes 0 vs 2"),
    ("dc_fine", ["--swap-at", "12"], "layers at 4, 8, 16 px"),
    ("dc_fine", ["--swap-at", "32"], "layers at 4, 8, 16 px"),
    ("dc_fine", ["--swap-at", "8", "--crossfade", "4"], "crossfade 4"),
    ("dc_fine", ["--swap-at", "8", "--crossfade", "-1"], "crossfade -1"),
    ("missing", ["--swap-at", "8"], "FINE: model not found"),
])
def test_mistakes_are_one_line_errors_and_write_nothing(models, other, args, message, tmp_path,
                                                          capsys):
    fine = models.get(other, tmp_path / "nowhere")
    out = tmp_path / "out"
    err = usage_error(["blend", str(models["dc"]), str(fine), *args, "--out", str(out)], capsys)
    assert message in err, err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []


def test_blend_never_writes_over_anything(models, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    argv = ["blend", str(models["dc"]), str(models["dc_fine"]), "--swap-at", "8", "--out"]
    for out in (busy, models["dc_fine"], models["dc"]):
        assert "not empty" in usage_error(argv + [str(out)], capsys)
    assert (busy / "notes.txt").read_text() == "mine" and len(list(busy.iterdir())) == 1
    assert "BASE: model not found" in usage_error(
        ["blend", str(tmp_path / "nope"), str(models["dc"]), "--swap-at", "8", "--out",
         str(tmp_path / "new")], capsys)
    empty = tmp_path / "empty"
    empty.mkdir()                                             # an empty folder is fine
    assert run(argv + [str(empty)]) == 0 and (empty / "model.json").is_file()
    capsys.readouterr()
