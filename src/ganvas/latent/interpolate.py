"""Walks through latent space: keyframe latents, a schedule of (step, t) per frame, and the
interpolation between neighbouring keyframes (spherical or linear, with optional easing).

A walk over K keyframes with N frames per step has K - 1 steps, or K with `loop` (the last
step goes back to the first keyframe). Frame f lies in step seg[f] at fraction t[f] in [0, 1):
    no loop: (K - 1) * N + 1 frames, the last one exactly keyframe K - 1 (t = 1);
    loop:    K * N frames, the last one just before keyframe 0, so the animation cycles
             without showing keyframe 0 twice in a row.
Frame i * N is exactly keyframe i (t = 0 gives the keyframe bit for bit, whatever the method).
"""

from __future__ import annotations

import torch

from ..errors import GanvasError
from ..limits import MAX_RENDER_PIXELS

METHODS = ("slerp", "lerp")
MAX_FRAMES = 1_000_000      # frames of one walk, refused before any latent is interpolated
EASINGS = ("linear", "smooth")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation between a, b (any equal shape S) at fractions t (T,) -> (T, *S).
    Written (1 - t) a + t b so that t = 0 gives a and t = 1 gives b exactly."""
    t = t.reshape(-1, *([1] * a.ndim)).to(a.dtype)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b (any equal shape S, e.g. (D,) or
    (num_ws, w_dim), taken as one vector) at fractions t (T,) -> (T, *S). Gaussian latents
    live near a sphere; lerp would pass through its low-norm interior. Nearly parallel a, b
    (angle under 1e-4 rad, e.g. the same class twice) fall back to lerp."""
    a_n, b_n = a.flatten() / a.norm(), b.flatten() / b.norm()
    omega = torch.arccos((a_n * b_n).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if not torch.isfinite(omega) or omega < 1e-4:
        return lerp(a, b, t)
    so = torch.sin(omega)
    t = t.reshape(-1, *([1] * a.ndim)).to(a.dtype)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def smoothstep(t: torch.Tensor) -> torch.Tensor:
    """3t^2 - 2t^3 on t in [0, 1]: slow out of and into each keyframe, 0 -> 0 and 1 -> 1."""
    return t * t * (3 - 2 * t)


def check_options(frames_per_step: int, method: str, easing: str) -> None:
    """A GanvasError for a bad frames-per-step (1-10000), method or easing."""
    if not 1 <= frames_per_step <= 10_000:
        raise GanvasError(f"frames per step must be from 1 to 10000, not {frames_per_step}")
    if method not in METHODS:
        raise GanvasError(f"unknown interpolation {method!r}; choose from {', '.join(METHODS)}")
    if easing not in EASINGS:
        raise GanvasError(f"unknown easing {easing!r}; choose from {', '.join(EASINGS)}")


def num_frames(num_keys: int, frames_per_step: int, loop: bool = False,
               storyboard: bool = False) -> int:
    """The frames of a walk (see the module docstring), without building it."""
    steps = num_keys if loop else num_keys - 1
    if storyboard:
        return steps * (frames_per_step + 1)
    return steps * frames_per_step + (0 if loop else 1)


def check_frames(num_keys: int, frames_per_step: int, loop: bool = False,
                 storyboard: bool = False) -> int:
    """num_frames, or a GanvasError above MAX_FRAMES or for fewer than 2 keyframes."""
    if num_keys < 2:
        raise GanvasError(f"a walk needs at least 2 keyframes, not {num_keys}")
    n = num_frames(num_keys, frames_per_step, loop, storyboard)
    if n > MAX_FRAMES:
        raise GanvasError(f"a walk of {num_keys:,} keyframes x {frames_per_step:,} frames per "
                          f"step is {n:,} frames; at most {MAX_FRAMES:,}")
    return n


def check_storyboard(num_keys: int, frames_per_step: int, loop: bool,
                     shape: tuple[int, int], scale: int = 1) -> int:
    """The frames of a PNG storyboard (one picture held whole in memory), or a GanvasError
    when its pixels (frames x H x W, enlarged `scale` times) exceed MAX_RENDER_PIXELS: said
    from the counts alone, before any latent is interpolated."""
    n = check_frames(num_keys, frames_per_step, loop, storyboard=True)
    h, w = shape[0] * scale, shape[1] * scale
    if n * h * w > MAX_RENDER_PIXELS:
        raise GanvasError(f"a PNG storyboard of {num_keys:,} keyframes is {n:,} frames of "
                          f"{w}x{h}, {n * h * w:,} pixels (at most {MAX_RENDER_PIXELS:,}); "
                          f"use fewer keyframes, fewer frames per step or a smaller --scale, "
                          f"or write an .mp4")
    return n


def schedule(num_keys: int, frames_per_step: int, loop: bool = False,
             easing: str = "linear") -> tuple[torch.Tensor, torch.Tensor]:
    """The frames of a walk as (seg (F,) int64 step index, t (F,) float32 in [0, 1]); the step
    seg goes from keyframe seg to keyframe (seg + 1) % num_keys. See the module docstring for F.
    `easing` "smooth" applies smoothstep to t within each step."""
    check_frames(num_keys, frames_per_step, loop)
    steps = num_keys if loop else num_keys - 1
    seg = torch.arange(steps).repeat_interleave(frames_per_step)
    t = (torch.arange(frames_per_step) / frames_per_step).repeat(steps)
    if not loop:                                        # end on the last keyframe itself
        seg, t = torch.cat([seg, torch.tensor([steps - 1])]), torch.cat([t, torch.ones(1)])
    return seg, ease(t, easing)


def storyboard_schedule(num_keys: int, frames_per_step: int, loop: bool = False,
                        easing: str = "linear") -> tuple[torch.Tensor, torch.Tensor]:
    """Like `schedule`, but every step as its own row of frames_per_step + 1 frames, from its
    keyframe to the next one, both included (the rows of a PNG grid)."""
    check_frames(num_keys, frames_per_step, loop, storyboard=True)
    steps = num_keys if loop else num_keys - 1
    seg = torch.arange(steps).repeat_interleave(frames_per_step + 1)
    t = (torch.arange(frames_per_step + 1) / frames_per_step).repeat(steps)
    return seg, ease(t, easing)


def ease(t: torch.Tensor, easing: str) -> torch.Tensor:
    """t (F,) in [0, 1] -> eased t (F,) with the same end points."""
    return smoothstep(t) if easing == "smooth" else t


def interpolate(keys: torch.Tensor, seg: torch.Tensor, t: torch.Tensor,
                method: str = "slerp") -> torch.Tensor:
    """Keyframes (K, *S) at the frames (seg, t) of a schedule -> (F, *S)."""
    between = slerp if method == "slerp" else lerp
    out = torch.empty(len(seg), *keys.shape[1:], dtype=keys.dtype)
    for i in seg.unique().tolist():
        at = seg == i
        out[at] = between(keys[i], keys[(i + 1) % len(keys)], t[at])
    return out
