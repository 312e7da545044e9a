"""Walks through latent space: spherical interpolation between keyframe latents."""

from __future__ import annotations

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b (D,) at fractions t (T,) -> (T, D).
    Gaussian latents live near a sphere; lerp would pass through its low-norm interior."""
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_n * b_n).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def walk(keys: torch.Tensor, frames_per_step: int, loop: bool = True) -> torch.Tensor:
    """Latents (K, D) -> frames (F, D) visiting each key in turn; with loop, back to the first
    (the last frame is then not a repeat of the first, so the animation cycles seamlessly)."""
    keys = torch.cat([keys, keys[:1]]) if loop else keys
    t = torch.arange(frames_per_step) / frames_per_step
    parts = [slerp(keys[i], keys[i + 1], t) for i in range(len(keys) - 1)]
    if not loop:
        parts.append(keys[-1:])
    return torch.cat(parts)
