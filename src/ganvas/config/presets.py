"""Presets: the defaults of one recipe, registered by name (`ganvas train --model NAME`).

A preset is a function of the model resolution (0 = not known yet) and of the batch the user
asked for (None: the preset's own) returning {"model": {...}, "train": {...}, "augment":
{...}} overrides of the dataclass defaults, so a recipe can follow the resolution and the
batch the way StyleGAN2-ADA's "auto" configuration does. Every
preset NAME has a NAME-tiny twin for tests and laptop CPUs. `ganvas demo`'s recipe (a preset
and the options it gives) is here too. Presets are data: config.resolve merges them under the
config file and the options, and config.validation checks the result.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

from ..models import family_of
from ..registry import Registry
from .schema import AUTO, FROM_DATA

Preset = Callable[..., dict]          # (resolution, batch=None) -> {section: {field: value}}
PRESETS: Registry[Preset] = Registry("model")
# The tiny twin of a DCGAN-style preset: a quarter of the width, batch 32.
TINY = {"model": {"z_dim": 64, "g_width": 16, "d_width": 16, "max_width": 128},
        "train": {"batch": 32}}


def merge(base: dict, extra: dict) -> dict:
    """Section-wise merge of two preset dicts."""
    return {k: {**base.get(k, {}), **extra.get(k, {})} for k in {*base, *extra}}


def auto_augment(small_data: str, large_data: str) -> dict:
    """The "augment" section of a preset whose augmentation follows the data's size: `--aug
    auto`, becoming `small_data` below schema.SMALL_DATA images and `large_data` above."""
    return {"mode": AUTO, "small_data": small_data, "large_data": large_data}


def register_fixed(name: str, preset: dict, tiny: dict = TINY) -> None:
    """Register a resolution-independent preset `name` and its `name-tiny` twin (`tiny`
    merged over it)."""
    PRESETS.register(name)(lambda resolution, batch=None: preset)
    PRESETS.register(f"{name}-tiny")(lambda resolution, batch=None: merge(preset, tiny))


# Radford et al. 2015: Adam(2e-4, beta1 0.5); batch 128 in the paper, 64 suits one GPU or CPU.
# Small data: DiffAugment color,translation,cutout (Zhao et al. 2020; at 300 images the default
# run scored about 1.5x worse without it: benchmarks/README.md (few_shot.py)); none above.
SMALL_DATA_DIFFAUG = {"augment": auto_augment("diffaug", "none")}
DCGAN = {"model": {"family": "dcgan", "z_dim": 100, "g_width": 64, "d_width": 64},
         "train": {"loss": "nonsaturating", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
                   "beta2": 0.999, "batch": 64}, **SMALL_DATA_DIFFAUG}
# Gulrajani et al. 2017: no batch norm in the critic (layer norm, their recommended drop-in),
# lambda 10, 5 critic steps per G step, Adam(1e-4, beta1 0, beta2 0.9), batch 64, z of 128.
WGAN_GP = {"model": {"family": "dcgan", "z_dim": 128, "g_width": 64, "d_width": 64,
                     "d_norm": "layer"},
           "train": {"loss": "wgan-gp", "gp_lambda": 10.0, "n_critic": 5, "lr_g": 1e-4,
                     "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "batch": 64},
           **SMALL_DATA_DIFFAUG}
# Conditional twins (Mirza & Osindero 2014; projection D of Miyato & Koyama 2018): the same
# recipes with a class embedding in G and D; labels from `prepare --labels folders`.
CONDITIONAL = {"model": {"num_classes": FROM_DATA}}
# The DCGAN's tiny twin (the CPU default) also takes smaller, larger steps: batch 16 and
# Adam(4e-4). On 100 emoji in 3 CPU minutes that scored FID 0.10x the PyTorch example's,
# against 0.18x with the paper's batch and rate (benchmarks/README.md, few_shot.py).
DCGAN_TINY = merge(TINY, {"train": {"batch": 16, "lr_g": 4e-4, "lr_d": 4e-4}})
register_fixed("dcgan", DCGAN, DCGAN_TINY)
register_fixed("wgan-gp", WGAN_GP)
register_fixed("cgan", merge(DCGAN, CONDITIONAL), DCGAN_TINY)
register_fixed("cwgan-gp", merge(WGAN_GP, CONDITIONAL))


def stylegan2_auto(resolution: int, batch: int | None = None, tiny: bool = False) -> dict:
    """StyleGAN2-ADA's "auto" configuration for one GPU (Karras et al. 2020, appendix): batch
    min(4096 / res, 32), width 16384 / res (32768 / res from 512 px) capped at 512, mapping
    depth 2, minibatch-std group min(batch, 4), gamma 0.0002 res^2 / batch, lr 0.0025 (0.002
    at 1024), G_ema half-life batch * 10 / 32 kimg, ADA with target 0.6 and the bgc pipeline.
    `tiny` shrinks the widths 8x, z/w to 128 and the batch to 16 for laptop CPUs. A `batch`
    the user asked for replaces the preset's in those rules, so gamma, the G_ema half-life
    and the minibatch-std group follow it as the auto configuration would (StyleGAN3's
    train.py derives the half-life and the group from its --batch the same way)."""
    res = resolution or 64
    width = min((32768 if res >= 512 else 16384) // res, 512)
    z_dim, max_width = 512, 512
    own_batch = max(min(4096 // res, 32), 1)
    if tiny:
        own_batch, width, z_dim, max_width = 16, max(width // 8, 8), 128, 128
    batch = batch or own_batch
    return {
        "model": {"family": "stylegan2", "z_dim": z_dim, "w_dim": z_dim, "mapping_layers": 2,
                  "g_width": width, "d_width": width, "max_width": max_width, "d_norm": "none",
                  "mbstd_group": min(batch, 4), "num_fp16_res": 4, "conv_clamp": 256.0},
        "train": {"loss": "nonsaturating", "batch": batch, "beta1": 0.0, "beta2": 0.99,
                  "lr_g": 0.002 if res >= 1024 else 0.0025,
                  "lr_d": 0.002 if res >= 1024 else 0.0025,
                  "r1_gamma": 0.0002 * res ** 2 / batch, "r1_interval": 16,
                  "pl_weight": 0.0 if tiny else 2.0, "pl_interval": 4, "style_mixing": 0.9,
                  "ema_kimg": batch * 10 / 32, "ema_rampup": 0.05},
        # ADA at every size: p adapts, so on data that does not overfit it stays near 0 and
        # costs (almost) nothing; the auto choice is still recorded and said.
        "augment": {**auto_augment("ada", "ada"), "target": 0.6, "augpipe": "bgc"},
    }


PRESETS.register("stylegan2")(stylegan2_auto)
PRESETS.register("stylegan2-tiny")(
    lambda resolution, batch=None: stylegan2_auto(resolution, batch, tiny=True))


def stylegan3_recipe(resolution: int, batch: int | None = None, radial: bool = False,
                     tiny: bool = False) -> dict:
    """StyleGAN3's recipe (Karras et al. 2021; NVlabs' stylegan3 train.py and loss.py) for
    config T (radial False) or R: cbase 32768 and cmax 512 (G's both doubled for R), mapping
    depth 2, Adam(0, 0.99) with lr 0.0025 for G and 0.002 for D, R1 every 16 steps with the
    README's starting gamma 0.0002 res^2 / batch, G_ema half-life batch * 10 / 32 kimg, ramp-up
    0.05, no style mixing or path length, magnitude EMAs with beta 0.5 ** (batch / 20,000),
    float16 D blocks on CUDA and clamp 256, ADA (target 0.6, bgc); R blurs D's inputs with
    sigma 10 px fading out over 200 batch / 32 kimg. Batch 32, as the paper's runs. `tiny`
    (tests, laptop CPUs): z/w 64, 5 synthesis layers with margins of 2 px, widths 8 (cap 64),
    batch 16, G's cap not doubled. A `batch` asked for replaces 32 in those rules."""
    res = resolution or 256
    batch = batch or (16 if tiny else 32)
    g_width = d_width = max(32768 // res, 1)
    max_width, z_dim, layers, margin = 512, 512, 14, 10
    if tiny:
        g_width, d_width, max_width, z_dim, layers, margin = 8, 8, 64, 64, 5, 2
    g_max_width = None
    if radial:
        g_width *= 2
        g_max_width = None if tiny else 2 * max_width
    train = {"loss": "nonsaturating", "batch": batch, "beta1": 0.0, "beta2": 0.99,
             "lr_g": 0.0025, "lr_d": 0.002, "r1_gamma": 0.0002 * res ** 2 / batch,
             "r1_interval": 16, "pl_weight": 0.0, "style_mixing": 0.0,
             "ema_kimg": batch * 10 / 32, "ema_rampup": 0.05}
    if radial:
        train.update(blur_sigma=10.0, blur_fade_kimg=batch * 200 / 32)
    return {
        "model": {"family": "stylegan3-r" if radial else "stylegan3-t", "z_dim": z_dim,
                  "w_dim": z_dim, "mapping_layers": 2, "g_width": g_width, "d_width": d_width,
                  "max_width": max_width, "g_max_width": g_max_width, "d_norm": "none",
                  "mbstd_group": min(batch, 4), "num_fp16_res": 4, "conv_clamp": 256.0,
                  "synthesis_layers": layers, "synthesis_margin": margin,
                  "magnitude_ema_beta": 0.5 ** (batch / 20_000)},
        "train": train,
        "augment": {**auto_augment("ada", "ada"), "target": 0.6, "augpipe": "bgc"},
    }


for _config, _radial in (("t", False), ("r", True)):
    PRESETS.register(f"stylegan3-{_config}")(
        partial(stylegan3_recipe, radial=_radial))
    PRESETS.register(f"stylegan3-{_config}-tiny")(
        partial(stylegan3_recipe, radial=_radial, tiny=True))


# Liu et al. 2021 (FastGAN), as its code trains (train.py): the hinge with margins drawn in
# [0.8, 1], Adam(2e-4, 0.5, 0.999), batch 8, DiffAugment color,translation on reals and both
# of G's outputs, G_ema with 0.999 per step (no ramp-up), ngf = ndf = 64, z 256, spectral norm
# on every convolution of G and D; D's reconstructions by LPIPS where VGG-16 weights are at
# hand (--rec-distance auto). The tiny twin (CPUs) has 1/8 of the widths and the pixel
# distance (VGG-16 per step would be most of a CPU step).
EMA_BETA_PER_STEP = 0.999
FASTGAN = {"model": {"family": "fastgan", "z_dim": 256, "g_width": 64, "d_width": 64,
                     "max_width": 1024, "spectral_norm": True},
           "train": {"loss": "random-margin-hinge", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
                     "beta2": 0.999, "batch": 8, "ema_rampup": None},
           "augment": {"mode": "diffaug", "diffaug": "color,translation"}}
FASTGAN_TINY = {"model": {"z_dim": 64, "g_width": 8, "d_width": 8, "max_width": 128},
                "train": {"rec_distance": "laplacian-l1"}}
# DiffAugment at every size, as in the paper (its policy is FASTGAN's diffaug).
FASTGAN_AUTO = {"augment": auto_augment("diffaug", "diffaug")}


def ema_per_step(batch: int, beta: float = EMA_BETA_PER_STEP) -> float:
    """The ema_kimg (half-life in kimg) of a G_ema that keeps `beta` per step of `batch`."""
    return batch * math.log(0.5) / math.log(beta) / 1000.0


def fastgan(resolution: int, batch: int | None = None, tiny: bool = False) -> dict:
    """The FastGAN preset; a user --batch keeps the 0.999-per-step G_ema."""
    batch = batch or FASTGAN["train"]["batch"]
    layers = merge(FASTGAN, FASTGAN_TINY) if tiny else FASTGAN
    return merge(merge(layers, {"train": {"ema_kimg": ema_per_step(batch)}}), FASTGAN_AUTO)


PRESETS.register("fastgan")(fastgan)
PRESETS.register("fastgan-tiny")(
    lambda resolution, batch=None: fastgan(resolution, batch, tiny=True))


# `ganvas train` without --model. On a CPU: the DCGAN's tiny twin. In 3 CPU minutes it sees
# 4-5x the images and draws figures from 100-300 pictures (FID 0.10-0.12x the PyTorch
# example's) where the full width is still blobs or a collapsed pattern (0.73-0.76x):
# benchmarks/README.md (few_shot.py).
CPU_DEFAULT_PRESET = "dcgan-tiny"
# On a GPU: the published recipe for the data's size, as each paper trained and compared it.
# - FastGAN (Liu et al., ICLR 2021), below FEW_SHOT_MAX_IMAGES: its abstract reports one RTX
#   2080 converging in a few hours, "consistent performance, even with less than 100 training
#   samples", and "superior performance compared to the state-of-the-art StyleGAN2, when data
#   and computing budget are limited", on 13 sets; those run from tens of images to 1,000 (64
#   shells, 120 anime faces, 1,000 art paintings, as the huggan/few-shot-* copies of them
#   count). The paper's own per-set table was not found to check these counts against.
# - StyleGAN2-ADA (Karras et al., NeurIPS 2020), from FEW_SHOT_MAX_IMAGES: "good results are
#   now possible using only a few thousand training images, often matching StyleGAN2 results
#   with an order of magnitude fewer images" (abstract). Its small sets: MetFaces, 1,336
#   images at 1024 px (NVlabs/metfaces-dataset README); AFHQ Cat, 5,153 at 512 px (as Jiang
#   et al. 2021, APA, count it); BreCaHAD crops at 512 px (stylegan2-ada-pytorch README; the
#   crop count, given elsewhere as 1,944, not confirmed here); FFHQ subsets in its Fig. 7c
#   sweep over training set sizes (the sizes, given elsewhere as 2k and up, not confirmed
#   here). Its preset turns ADA on at every size.
# Between FastGAN's largest sets (1,000) and ADA's "few thousand" neither paper compares the
# two; 2,000 gives that gap to the recipe that converges in hours: StyleGAN2-ADA at 256 px
# takes 6h36m per 1,000 kimg on one V100 and about 7 days to the 25,000 kimg it typically
# needs (stylegan2-ada-pytorch README, expected training time).
# Both families are built for 32-1024 px (models: Family.resolutions); below, the DCGAN (from
# 16 px). Without an image count (never from `plan`, which counts), the DCGAN as before.
DEFAULT_PRESET = "dcgan"
FEW_SHOT_PRESET = "fastgan"
LIMITED_DATA_PRESET = "stylegan2"
FEW_SHOT_MAX_IMAGES = 2_000         # fewer images: FastGAN; this many or more: StyleGAN2-ADA


def recipe_for(family: str) -> str:
    """The preset that trains `family` as its authors did: the first registered one, not a
    -tiny twin, that builds it (what a model imported from another tool fine-tunes with)."""
    for name in PRESETS.names():
        if not name.endswith("-tiny") and PRESETS.get(name)(0)["model"]["family"] == family:
            return name
    raise KeyError(family)


def default_preset(device_type: str, num_images: int | None = None,
                   resolution: int = 0) -> tuple[str, str]:
    """The preset for a run that names none, on a device of `device_type`, for `num_images`
    training images (None: not known) at `resolution` px (0: not known), and why."""
    if device_type == "cpu":
        return CPU_DEFAULT_PRESET, (f"the default on a CPU; --model {DEFAULT_PRESET} for the "
                                    f"full-width recipe")
    if num_images is None:
        return DEFAULT_PRESET, f"the default on {device_type} when the image count is not known"
    few = num_images < FEW_SHOT_MAX_IMAGES
    name = FEW_SHOT_PRESET if few else LIMITED_DATA_PRESET
    smallest = family_of(PRESETS.get(name)(resolution)["model"]["family"]).resolutions[0]
    if resolution and resolution < smallest:
        return DEFAULT_PRESET, (f"the default on {device_type} at {resolution} px ({name}, the "
                                f"default for {num_images:,} images, starts at {smallest} px)")
    regime = (f"fewer than {FEW_SHOT_MAX_IMAGES:,}: FastGAN's few-shot recipe; "
              f"{LIMITED_DATA_PRESET} from {FEW_SHOT_MAX_IMAGES:,}" if few else
              f"{FEW_SHOT_MAX_IMAGES:,} or more: StyleGAN2-ADA's limited-data recipe; "
              f"{FEW_SHOT_PRESET} below")
    return name, f"the default on {device_type} for {num_images:,} images, {regime}"


# `ganvas demo`: a DCGAN at 32x32 (the 64 px emoji downsampled: on a laptop CPU four times the
# steps of 64 px in the same minutes, which is what turns noise into emoji-like shapes), half
# width, mirrored, one snapshot per 50 kimg.
DEMO_DATA = "demo:emoji"
DEMO_PRESET = "dcgan"
DEMO_RESOLUTION = 32
# The demo's pictures take shape (faces, flags, objects rather than checkered blobs) from about
# here: a quiet 2-core CPU reached 420 kimg in its 5 minutes (1,400-1,500 img/s), 50 kimg were
# checkered blobs, 100 coloured blobs, 200 the first shapes (2026-12-08).
DEMO_SHAPES_KIMG = 200


def demo_options(minutes: float, seed: int, precision: str | None) -> dict:
    """The training options of `ganvas demo` (keywords of ganvas.train)."""
    return {"resolution": DEMO_RESOLUTION, "g_width": 32, "d_width": 32, "minutes": minutes,
            "mirror": True, "seed": seed, "snap_kimg": 50, "precision": precision}
