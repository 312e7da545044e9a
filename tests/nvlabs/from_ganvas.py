"""A ganvas StyleGAN2 written back as a stylegan2-ada-pytorch snapshot pickle (NVlabs'
names, flipped upsampling kernels, recorded constructor arguments), so that importing,
loading and fine-tuning from a pickle are tested without NVlabs' files: what comes back must
be the model that went in."""

from __future__ import annotations

import math

import torch

from ganvas.config import resolve
from ganvas.models import build_discriminator, build_generator
from tests.nvlabs.layouts import SG2ADA_SRC, EasyDict, Persistent, dumps


def tiny_stylegan2(seed: int = 0, resolution: int = 32):
    """A stylegan2-tiny G and D with random (not initial) weights, and their config."""
    cfg = resolve.preset("stylegan2-tiny", resolution=resolution, num_fp16_res=0).config.model
    torch.manual_seed(seed)
    G, D = build_generator(cfg).eval(), build_discriminator(cfg).eval()
    with torch.no_grad():
        for module in (G, D):
            for name, p in module.named_parameters():
                p.add_(torch.randn_like(p) * 0.05)
    return cfg, G, D


def _generator_state(G, cfg) -> dict:
    out = {}
    for key, tensor in G.state_dict().items():
        if key == "pl_mean":
            continue
        if key.startswith("mapping.layers."):
            i, p = key[len("mapping.layers."):].split(".")
            key = f"mapping.fc{i}.{p}"
        elif key.startswith("synthesis.blocks."):
            k, rest = key[len("synthesis.blocks."):].split(".", 1)
            if rest == "conv0.weight":
                tensor = tensor.flip((2, 3))
            key = f"synthesis.b{4 * 2 ** int(k)}.{rest}"
        out[key] = tensor.clone()
    return out


def _discriminator_state(D, cfg) -> dict:
    out = {}
    for key, tensor in D.state_dict().items():
        if key.startswith("blocks."):
            i, rest = key[len("blocks."):].split(".", 1)
            key = f"b{cfg.resolution // 2 ** int(i)}.{rest}"
        else:
            key = f"b4.{key}"
        out[key] = tensor.clone()
    return out


def stylegan2_pickle(cfg, G, D, p: float | None = 0.25) -> bytes:
    """G (as G and G_ema) and D of ganvas's stylegan2 family as a stylegan2-ada-pytorch
    snapshot (unconditional)."""
    g_kwargs = EasyDict(z_dim=cfg.z_dim, c_dim=0, w_dim=cfg.w_dim,
                        img_resolution=cfg.resolution, img_channels=cfg.channels,
                        mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers),
                        synthesis_kwargs=EasyDict(channel_base=cfg.g_width * cfg.resolution,
                                                  channel_max=cfg.max_width, num_fp16_res=0,
                                                  conv_clamp=cfg.conv_clamp))
    d_kwargs = EasyDict(c_dim=0, img_resolution=cfg.resolution, img_channels=cfg.channels,
                        channel_base=cfg.d_width * cfg.resolution, channel_max=cfg.max_width,
                        num_fp16_res=0, conv_clamp=cfg.conv_clamp,
                        epilogue_kwargs=EasyDict(mbstd_group_size=cfg.mbstd_group))
    assert math.log2(cfg.resolution).is_integer()

    def gen():
        return Persistent("Generator", SG2ADA_SRC, params=_generator_state(G, cfg),
                          kwargs=g_kwargs)
    data = {"G": gen(), "G_ema": gen(),
            "D": Persistent("Discriminator", SG2ADA_SRC, params=_discriminator_state(D, cfg),
                            kwargs=d_kwargs),
            "augment_pipe": None if p is None else Persistent(
                "AugmentPipe", "class AugmentPipe: pass", buffers={"p": torch.tensor(p)},
                kwargs={"xflip": 1}),
            "training_set_kwargs": EasyDict(resolution=cfg.resolution, use_labels=False)}
    return dumps(data)
