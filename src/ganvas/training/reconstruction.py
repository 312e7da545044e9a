"""FastGAN's self-supervised D (Liu et al. 2021): the distance between D's reconstructions of
the reals and their targets, added to D's loss.

The original sums LPIPS (VGG) over the batch for each of its three reconstructions. Here:
- "vgg16-lpips": latent.perceptual's LPIPS-like distance on torchvision's VGG-16 (LPIPS
  without its learned channel weights, which are not available offline), from weights at hand
  (GANVAS_WEIGHTS_VGG16 or ganvas's cache; training never downloads them);
- "laplacian-l1": the fallback without those weights, latent.perceptual's Laplacian-pyramid
  L1 (the same pixel errors plus each coarser band again: layout, colours and edges).
Either is summed over the global batch, as the original sums LPIPS (config.resolve settles
--rec-distance auto to the first when its weights are at hand, else the second).
"""

from __future__ import annotations

import torch

from ..latent.perceptual import Distance, load_vgg16, pyramid_distance, vgg_distance

Tensor = torch.Tensor


def reconstruction_distance(name: str, device: torch.device) -> Distance:
    """The settled --rec-distance `name` on `device` (a GanvasError when its weights are
    missing: a run that used VGG-16 resumes only with them)."""
    if name == "vgg16-lpips":
        net, info = load_vgg16(None, download=False)
        return vgg_distance(net.to(device), info)
    if name == "laplacian-l1":
        return pyramid_distance("--rec-distance laplacian-l1")
    raise ValueError(f"reconstruction distance {name!r} is not settled (config.resolve)")


def reconstruction_term(distance: Distance, pairs: list[tuple[Tensor, Tensor]],
                        batch: int) -> Tensor:
    """The sum over (reconstruction, target) pairs of their distance summed over the global
    `batch`: this process's mean times `batch`, so the gradients averaged over processes are
    one process's with the whole batch. Float32, outside autocast."""
    total = torch.zeros((), device=pairs[0][0].device)
    for rec, target in pairs:
        d = distance.between(distance.features(rec.float()),
                             distance.features(target.detach().float()))
        total = total + d.mean() * batch
    return total
