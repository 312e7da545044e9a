"""Layer swapping (Pinkney & Adler 2020, "Resolution Dependent GAN Interpolation for
Controllable Image Synthesis Between Domains"): one generator from two of the same
architecture, e.g. a model and its copy fine-tuned on other pictures. The layers at
resolutions up to `swap_at` (the coarse ones: mapping network, constant or first layer,
blocks <= swap_at px) come from BASE, the rest from FINE, so the pictures keep BASE's layout
and take FINE's detail, texture and colour.

`crossfade` N > 0 replaces the hard cut by a linear ramp of parameter interpolation over the N
blocks around the swap point: block i (in resolution order) gets weight
t_i = clamp((i - lo + 1) / (N + 1), 0, 1) of FINE, lo = j - ceil(N / 2) + 1 with j the index of
swap_at, so the band's N blocks get 1/(N+1) ... N/(N+1) and the blocks on either side are their
parent's exactly; for even N the band is centred on the cut above swap_at, for odd N on the
swap_at block itself. N = 0 is the hard cut.

Family-agnostic: only the family contract's G.layer_resolutions() (which block each
parameter and buffer belongs to) and state dicts. Buffers go with their layer: batch-norm
running statistics, noise maps, StyleGAN2's w_avg (with the mapping network, so from BASE,
lerped like it inside a crossfade band; it stays the mean of BASE's w exactly when the mapping
is BASE's). Integer buffers (batch counters) are taken whole from the nearer parent.

Batch-norm running statistics are then re-estimated on the blended generator (DCGAN, FastGAN:
ganvas.models.batchnorm.recalibrate_batchnorm, the estimate training makes for G_ema, on fixed
latents): the swapped-in ones are FINE's statistics of FINE's features, which above the cut
would normalise BASE's. A blend that is one parent exactly (every block from one side, or a
model blended with itself) keeps that parent's statistics, so the extremes stay the parents.
model.json's "blend" says which: "batchnorm_recalibrated" is {"images", "seed"} or false (no
batch norm, as in StyleGAN2, or a parent exactly).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from .checkpoint import model_of
from .config.schema import ModelConfig
from .errors import GanvasError
from .models import build_generator
from .models.batchnorm import RECALIBRATION_SEED, has_batchnorm, recalibrate_batchnorm

# Latents for re-estimating a blend's batch-norm statistics: the number training uses for
# G_ema (recalibrate_batchnorm's default), so a blend's statistics are as well estimated as a
# trained model's (each channel's mean and variance average 512 pictures' worth of pixels), in
# seconds on a CPU; the fixed seed makes a blend reproducible byte for byte.
RECALIBRATION_IMAGES = 512


def resolutions_of(G: nn.Module) -> list[int]:
    """The resolutions of G's blocks, ascending (4, 8, ..., G's resolution)."""
    return sorted(set(G.layer_resolutions().values()))


def fine_weights(resolutions: list[int], swap_at: int, crossfade: int = 0) -> dict[int, float]:
    """{resolution: weight of FINE (0 = BASE's parameters, 1 = FINE's)}, as in the module
    docstring; swap_at 0 puts every block on FINE's side."""
    j = resolutions.index(swap_at) if swap_at else -1
    lo = j - math.ceil(crossfade / 2) + 1
    return {r: min(max((i - lo + 1) / (crossfade + 1), 0.0), 1.0)
            for i, r in enumerate(resolutions)}


def check_swap(resolutions: list[int], swap_at, crossfade) -> None:
    """A GanvasError unless swap_at is 0 or a block resolution and crossfade an int from 0 to
    the number of blocks."""
    listed = ", ".join(map(str, resolutions))
    if isinstance(swap_at, bool) or not isinstance(swap_at, int) or (
            swap_at and swap_at not in resolutions):
        raise GanvasError(f"swap at {swap_at!r}: these models have layers at {listed} px; "
                          f"give one of them (or 0 to take every layer from FINE)")
    if isinstance(crossfade, bool) or not isinstance(crossfade, int) or \
            not 0 <= crossfade <= len(resolutions):
        raise GanvasError(f"crossfade {crossfade!r}: give a number of blocks from 0 (a hard "
                          f"cut) to {len(resolutions)} (these models have blocks at {listed} px)")


def check_compatible(base: ModelConfig, fine: ModelConfig, base_G: nn.Module,
                     fine_G: nn.Module) -> None:
    """A GanvasError naming what differs unless the two generators line up layer for layer:
    the same ModelConfig (family, resolution, widths, classes, ...), hence the same state-dict
    names, shapes and block resolutions."""
    a, b = asdict(base), asdict(fine)
    diffs = [f"{f.name} {a[f.name]!r} vs {b[f.name]!r}" for f in fields(ModelConfig)
             if a[f.name] != b[f.name]]
    if diffs:
        raise GanvasError("cannot blend models of different architectures (BASE vs FINE: "
                          + "; ".join(diffs) + "); layer swapping needs two models of one "
                          "architecture, e.g. a model and its fine-tuned copy")
    sa, sb = base_G.state_dict(), fine_G.state_dict()
    mismatched = [k for k in sa.keys() | sb.keys()
                  if k not in sa or k not in sb or sa[k].shape != sb[k].shape]
    if mismatched or base_G.layer_resolutions() != fine_G.layer_resolutions():
        raise GanvasError(f"cannot blend: the generators' layers do not line up "
                          f"({', '.join(sorted(mismatched)[:3]) or 'block resolutions'})")


def blend_state(base_G: nn.Module, fine_G: nn.Module,
                weights: dict[int, float]) -> dict[str, torch.Tensor]:
    """G's state dict with each tensor lerped from BASE's to FINE's by its block's weight:
    weight 0 (1) is BASE's (FINE's) tensor exactly; integer tensors come whole from the
    nearer parent."""
    where = base_G.layer_resolutions()
    sa, sb = base_G.state_dict(), fine_G.state_dict()
    if set(where) != set(sa):
        raise ValueError(f"{type(base_G).__name__}.layer_resolutions does not cover its "
                         f"state dict")
    out = {}
    for key, a in sa.items():
        a, b, t = a.detach().cpu(), sb[key].detach().cpu(), weights[where[key]]
        if t == 0 or t == 1 or not a.is_floating_point():
            out[key] = (a if t < 0.5 else b).clone()
        else:
            out[key] = torch.lerp(a, b, t)
    return out


def blend(base, fine, swap_at: int, crossfade: int = 0) -> tuple[nn.Module, dict]:
    """(the blended generator, in eval mode on the CPU; its model.json content) from two
    loaded models (ganvas.api.Model: .G, .info, .path, their configs checked to match).
    model.json is BASE's (dataset facts, kimg) plus "blend": where it came from."""
    cfg, fine_cfg = (model_of(Path(m.path), m.info) for m in (base, fine))
    check_compatible(cfg, fine_cfg, base.G, fine.G)
    resolutions = resolutions_of(base.G)
    check_swap(resolutions, swap_at, crossfade)
    weights = fine_weights(resolutions, swap_at, crossfade)
    G = build_generator(cfg)
    state = blend_state(base.G, fine.G, weights)
    G.load_state_dict(state, strict=True)
    recalibrated = has_batchnorm(G) and not any(
        same_state(state, parent.G) for parent in (base, fine))
    if recalibrated:
        recalibrate_batchnorm(G, cfg.z_dim, num=RECALIBRATION_IMAGES,
                              num_classes=cfg.num_classes)
    info = {k: v for k, v in base.info.items() if k not in ("format", "version", "blend")}
    info["blend"] = {
        "base": absolute(base.path), "fine": absolute(fine.path), "swap_at": swap_at,
        "crossfade": crossfade, "fine_weight": {str(r): t for r, t in weights.items()},
        "base_kimg": base.info.get("kimg"), "fine_kimg": fine.info.get("kimg"),
        "fine_dataset": fine.info.get("dataset", {}).get("name"),
        "batchnorm_recalibrated": ({"images": RECALIBRATION_IMAGES, "seed": RECALIBRATION_SEED}
                                   if recalibrated else False),
        **({"base_blend": base.info["blend"]} if "blend" in base.info else {}),
        **({"fine_blend": fine.info["blend"]} if "blend" in fine.info else {})}
    return G.eval().requires_grad_(False), info


def same_state(state: dict[str, torch.Tensor], G: nn.Module) -> bool:
    """Whether `state` is G's state dict exactly."""
    theirs = G.state_dict()
    return state.keys() == theirs.keys() and all(
        torch.equal(t, theirs[k].detach().cpu()) for k, t in state.items())


def absolute(path: str | os.PathLike) -> str:
    return str(Path(path).resolve())
