"""Generator calls shared by walks, sweeps and style mixing, in fixed-size chunks.

Like `sampling.synthesize`, every call runs on batches of exactly CHUNK rows (the last one
padded with zeros), so a latent gives the same pixels here as in `Model.generate`, whatever
else is in the batch. Besides z + class indices, these take:
  - class embeddings: float (N, E) rows of the generator's class-embedding table, or points
    between them (what a class walk interpolates), in place of int64 labels (N,);
  - ws (N, num_ws, w_dim) for StyleGAN2 (G.mapping's output, edited or interpolated).
"""

from __future__ import annotations

from typing import Callable

import torch

from ..errors import GanvasError
from .sampling import in_chunks, synthesize

CHUNK = 16


def chunked(model, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor | None,
            chunk: int = CHUNK) -> torch.Tensor:
    """sampling.in_chunks on the model's device; at least one row is required."""
    if not len(next(x for x in inputs if x is not None)):
        raise ValueError("nothing to synthesize: no rows")
    return in_chunks(fn, next(model.G.parameters()).device, *inputs, chunk=chunk)


def is_stylegan2(model) -> bool:
    return model.family == "stylegan2"


def need_stylegan2(model, what: str) -> None:
    """A GanvasError unless `model` is a StyleGAN2 (what: the option or verb asked for)."""
    if not is_stylegan2(model):
        raise GanvasError(f"{what} is for StyleGAN2 models; {model.path} is {model.family}")


def check_noise_mode(model, noise_mode: str | None) -> str:
    """The noise mode to use: const by default; a GanvasError for non-StyleGAN2 models."""
    if noise_mode is None:
        return "const"
    need_stylegan2(model, "--noise-mode")
    if noise_mode not in ("const", "random", "none"):
        raise GanvasError(f"unknown noise mode {noise_mode!r}; choose from const, random, none")
    return noise_mode


def class_table(model) -> torch.Tensor:
    """The generator's class embeddings (num_classes, E) float32 on the CPU: row c is what
    label c becomes inside G (StyleGAN2: G.mapping.embed; DCGAN family: G.embed)."""
    model.class_index(0)                     # a clear error for unconditional models
    embed = model.G.mapping.embed if is_stylegan2(model) else model.G.embed
    return embed.weight.detach().float().cpu()


def images_from_z(model, z: torch.Tensor, classes: torch.Tensor | None = None,
                  truncation: float = 1.0, noise_mode: str | None = None) -> torch.Tensor:
    """z (N, z_dim) [+ classes: int64 labels (N,) or float embeddings (N, E)] -> images float
    (N, C, H, W) in about [-1, 1]. Truncation as in Model.synthesize (w space for StyleGAN2,
    z * psi for the others)."""
    if is_stylegan2(model):
        style = {"truncation_psi": truncation, "noise_mode": check_noise_mode(model, noise_mode)}
    else:
        check_noise_mode(model, noise_mode)
        style, z = {}, z * truncation
    return synthesize(model.G, z, classes, chunk=CHUNK, **style)


def map_to_w(model, z: torch.Tensor, classes: torch.Tensor | None = None,
             truncation: float = 1.0) -> torch.Tensor:
    """StyleGAN2: z (N, z_dim) [+ labels (N,) or embeddings (N, E)] -> ws (N, num_ws, w_dim),
    truncated towards w_avg by psi."""
    need_stylegan2(model, "w space")
    return chunked(model, lambda zb, cb: model.G.mapping(zb, cb, truncation_psi=truncation),
                   z, classes)


def images_from_w(model, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
    """StyleGAN2: ws (N, num_ws, w_dim) -> images float (N, C, H, W) in about [-1, 1]."""
    mode = check_noise_mode(model, noise_mode)
    return chunked(model, lambda wb: model.G.synthesis(wb, noise_mode=mode), ws)


def truncate_w(model, ws: torch.Tensor, truncation: float) -> torch.Tensor:
    """ws (N, num_ws, w_dim) lerped towards G's w_avg by psi (1 = unchanged)."""
    if truncation == 1:
        return ws
    avg = model.G.w_avg.detach().float().cpu()
    return avg + truncation * (ws - avg)
