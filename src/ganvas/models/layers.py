"""Small building blocks shared by the model families."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch' -> BatchNorm2d; 'layer' -> per-sample normalisation over (C, H, W) with a
    per-channel scale and shift (GroupNorm with one group); 'none' -> identity. Gradient
    penalties need 'layer' or 'none': batch norm makes each sample's output depend on the
    others in its batch."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}")


def apply_spectral_norm(module: nn.Module, skip: tuple[type, ...] = ()) -> nn.Module:
    """Spectral normalisation (one power iteration per training forward) on every convolution,
    linear layer and embedding of `module` (but those of a type in `skip`), in place."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)) and \
                not isinstance(m, skip):
            spectral_norm(m)
    return module


def freeze_blocks(D: nn.Module, freeze: int) -> None:
    """FreezeD (Mo et al. 2020): stop gradients into D's first `freeze` blocks."""
    blocks = getattr(D, "blocks", None)
    if blocks is None:
        raise ValueError(f"{type(D).__name__} has no blocks to freeze")
    for block in list(blocks)[:freeze]:
        block.requires_grad_(False)


def projection_logits(logits: torch.Tensor, x: torch.Tensor, embed: nn.Embedding | None,
                      labels: torch.Tensor | None) -> torch.Tensor:
    """D's logits (N,) plus, for a conditional D, the projection term <embed(y), sum-pooled
    features x (N, C, h, w)> (Miyato & Koyama 2018)."""
    if embed is None:
        return logits
    if labels is None:
        raise ValueError("this discriminator is conditional: pass labels")
    features = x.sum(dim=(2, 3))                                # (N, C)
    return logits + (embed(labels).to(features.dtype) * features).sum(dim=1)


# ---- randomness over a batch split across processes -------------------------------------------
# (rank, world size) while a training step runs on a shard of the global batch; see batch_shard.
_SHARD: tuple[int, int] | None = None


@contextmanager
def batch_shard(rank: int, size: int):
    """Within this block, `batch_randn` draws the whole global batch's values and returns this
    process's part: every process consumes torch's RNG alike (its scalar draws, such as the
    style-mixing cutoff, agree) and its samples are the ones one process would draw."""
    global _SHARD
    previous, _SHARD = _SHARD, ((rank, size) if size > 1 else None)
    try:
        yield
    finally:
        _SHARD = previous


def batch_randn(like: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """torch.randn_like(like) (or like its first `channels` channels) from torch's RNG; under
    `batch_shard`, this process's samples (every size-th from its rank) of the same draw for
    the whole global batch, in the memory layout of `like`, so the values land where one
    process would put them."""
    if channels is not None:
        like = like[:, :channels]
    if _SHARD is None:
        return torch.randn_like(like)
    rank, size = _SHARD
    n = like.shape[0]
    layout = (torch.channels_last if like.dim() == 4 and not like.is_contiguous()
              and like.is_contiguous(memory_format=torch.channels_last)
              else torch.contiguous_format)
    full = torch.empty((n * size, *like.shape[1:]), device=like.device, dtype=like.dtype,
                       memory_format=layout).normal_()
    return full[rank::size]                 # the process's samples: see World.shard


# Buffers that training updates from the batch (BatchNorm's running statistics, StyleGAN2's
# w_avg and path-length mean, StyleGAN3's input magnitudes): the ones processes average after
# each step.
RUNNING_BUFFERS = ("running_mean", "running_var", "w_avg", "pl_mean", "magnitude_ema")


def running_buffers(module: nn.Module) -> list[torch.Tensor]:
    return [b for name, b in module.named_buffers()
            if name.rsplit(".", 1)[-1] in RUNNING_BUFFERS]


class SumOverProcesses(torch.autograd.Function):
    """x summed over all processes; its gradient is the sum of theirs (each process's loss
    depends on every process's x through the sum)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return SumOverProcesses.apply(grad)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the global batch of all processes (one
    differentiable all-reduce of the per-channel sums), on any device: torch's SyncBatchNorm
    refuses CPU tensors, and Gloo on CPUs is how many-process training is tested. Same
    parameters and buffers as BatchNorm2d, so its state dict loads into one. Outside a
    process group or in eval mode it is BatchNorm2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        xf = x.float()
        count = x.numel() // c * dist.get_world_size()
        sums = SumOverProcesses.apply(torch.cat([xf.sum(dim=(0, 2, 3)),
                                                 xf.square().sum(dim=(0, 2, 3))]))
        mean = sums[:c] / count
        var = (sums[c:] / count - mean.square()).clamp_min(0)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(var.detach() * count / max(count - 1, 1), self.momentum)
        scale = torch.rsqrt(var + self.eps) * self.weight
        y = (xf - mean[None, :, None, None]) * scale[None, :, None, None] \
            + self.bias[None, :, None, None]
        return y.to(x.dtype)


def global_batchnorm(module: nn.Module) -> nn.Module:
    """Every BatchNorm2d of `module` made a GlobalBatchNorm2d, in place (same tensors)."""
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = GlobalBatchNorm2d
    return module


def first_layer_weights(conv: nn.ConvTranspose2d, z_dim: int,
                        layers: list[int] | None = None) -> torch.Tensor:
    """(out * k * k, z_dim): a ConvTranspose2d on a 1x1 latent as the linear map it is, its
    z inputs only (a class embedding may follow them)."""
    if layers is not None:
        raise ValueError("layers select w indices; this generator has no w space")
    weight = conv.weight.detach().float()[:z_dim]            # (z_dim, out, k, k)
    return weight.reshape(z_dim, -1).t()


def state_resolutions(module: nn.Module, owners: dict[str, int]) -> dict[str, int]:
    """{state_dict key: resolution} for the family contract's G.layer_resolutions: each key of
    `module`'s state dict (parameters and buffers) gets the resolution of the longest name in
    `owners` (a submodule, parameter or buffer name) that it is or lies under. A key without
    an owner is a bug in the family (ValueError), never a silent default."""
    out = {}
    for key in module.state_dict():
        parts = key.split(".")
        owner = next((".".join(parts[:n]) for n in range(len(parts), 0, -1)
                      if ".".join(parts[:n]) in owners), None)
        if owner is None:
            raise ValueError(f"{type(module).__name__}.layer_resolutions: no resolution "
                             f"for {key}")
        out[key] = owners[owner]
    return out


def truncate_w(ws: torch.Tensor, w_avg: torch.Tensor, truncation) -> torch.Tensor:
    """ws lerped towards w_avg by psi (a float, or a (1,) tensor as in an exported graph):
    the truncation of the families with a w space."""
    if isinstance(truncation, torch.Tensor) or truncation != 1:
        avg = w_avg.to(ws.dtype)
        ws = avg + truncation * (ws - avg)
    return ws
