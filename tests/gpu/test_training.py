"""Training on CUDA: each family's -tiny preset in fp32 and bf16, StyleGAN2's float16 blocks
against float32, and an exact stop-and-resume."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from ganvas.runfolder.snapshots import list_snapshots
from ganvas.config.resolve import preset as resolve_preset
from ganvas.models import build_discriminator, build_generator
from ganvas.models.stylegan2_layers import compute_dtype

from .helpers import (FP16_REL_TOL, GPU, RESOLUTION, checkpoint_equal,
                      deterministic_algorithms, max_diff, rel_err, resume_pair,
                      snapshot_weights, stats, tiny_presets, trained_run)

pytestmark = GPU


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("preset", tiny_presets())
def test_train(ctx, preset, precision):
    """Train `preset` on the device at 64 px (300 steps in fp32, StyleGAN2 with its float16
    blocks on CUDA; 100 in bf16): losses and stats finite in every tick, no rollback, no
    nonfinite flag, every weight of the last snapshot finite."""
    run = trained_run(ctx, preset, precision)
    entries = stats(run)
    ticks = [e for e in entries if "rollback" not in e]
    flags = sorted({f for e in ticks for f in e.get("flags", [])})
    last = ticks[-1]
    figures = {"steps": last["step"], "kimg": last["kimg"], "ticks": len(ticks),
               "flags": flags, "loss_d": last.get("loss_d"), "loss_g": last.get("loss_g"),
               "sec_per_kimg_last_tick": last.get("sec_per_kimg")}
    assert len(entries) == len(ticks), ("rollback", entries)
    nonfinite = [(e["step"], k, v) for e in ticks for k, v in e.items()
                 if isinstance(v, (int, float)) and not math.isfinite(v)]
    assert not nonfinite, ("non-finite stats", nonfinite, figures)
    assert "nonfinite" not in flags, figures
    weights = snapshot_weights(list_snapshots(run)[-1])
    bad = [(n, k) for n, w in weights.items() for k, t in w.items()
           if not torch.isfinite(t.float()).all()]
    assert not bad, ("non-finite weights", bad, figures)


def test_fp16_layers(ctx):
    """StyleGAN2 with num_fp16_res (its preset's float16 blocks) against the same weights with
    num_fp16_res 0, on the same input: G's images and D's logits within FP16_REL_TOL. Off
    CUDA the float16 blocks compute in float32, so there float32 meets float32."""
    cfg = resolve_preset("stylegan2-tiny", resolution=RESOLUTION).config.model
    cfg32 = dataclasses.replace(cfg, num_fp16_res=0)
    torch.manual_seed(0)
    G16, D16 = build_generator(cfg), build_discriminator(cfg)
    G32, D32 = build_generator(cfg32), build_discriminator(cfg32)
    G32.load_state_dict(G16.state_dict())
    D32.load_state_dict(D16.state_dict())
    G16, D16, G32, D32 = (n.to(ctx.device).eval() for n in (G16, D16, G32, D32))
    z = torch.randn(8, cfg.z_dim, generator=torch.Generator().manual_seed(1)).to(ctx.device)
    with torch.no_grad():
        img16, img32 = G16.synthesize(z), G32.synthesize(z)
        logit16, logit32 = D16(img32), D32(img32)
    taken = compute_dtype(True, ctx.device) == torch.float16
    # On CUDA the preset's float16 blocks must really be taken, or this compares nothing.
    assert taken == (ctx.device.type == "cuda")
    assert cfg.num_fp16_res > 0 and any(b.use_fp16 for b in G16.synthesis.blocks)
    figures = {"image_dtype": str(img16.dtype),
               "g_max_abs": float((img16.float() - img32).abs().max()),
               "g_rel": rel_err(img16.float().cpu(), img32.cpu()),
               "d_max_abs": float((logit16.float() - logit32).abs().max()),
               "d_rel": rel_err(logit16.float().cpu(), logit32.cpu())}
    assert torch.isfinite(img16).all() and torch.isfinite(logit16).all(), figures
    assert figures["g_rel"] <= FP16_REL_TOL, figures
    assert figures["d_rel"] <= FP16_REL_TOL, figures


@pytest.mark.parametrize("preset", tiny_presets())
def test_resume(ctx, preset):
    """Stop-and-resume gives the bit-identical weights of an uninterrupted run (64 steps in
    one go against 32, stop, ganvas.resume to 64: G, G_ema and D). When it does not, two
    uninterrupted runs are compared too (is the device itself deterministic?) and the pair is
    retried with deterministic algorithms, so the failure says which it is."""
    steps = ctx.steps(64, 4)       # 64: a multiple of R1's 16 and path length's 4
    full, resumed = resume_pair(ctx, preset, steps, f"{preset}-a")
    if all(checkpoint_equal(full[n], resumed[n]) for n in full):
        return
    figures = {"max_abs_diff": {n: max_diff(full[n], resumed[n]) for n in full}}
    again, _ = resume_pair(ctx, preset, steps, f"{preset}-b")
    figures["repeat_equal"] = all(checkpoint_equal(full[n], again[n]) for n in full)
    with deterministic_algorithms():
        d_full, d_resumed = resume_pair(ctx, preset, steps, f"{preset}-det")
    figures["deterministic_resume_equal"] = all(
        checkpoint_equal(d_full[n], d_resumed[n]) for n in d_full)
    pytest.fail(f"resumed weights differ from the uninterrupted run's: {figures}")
