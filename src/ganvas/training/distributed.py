"""Many processes training one GAN: the process group torchrun starts, and the few collective
operations the Trainer and the loop need, on torch.distributed (NCCL on GPUs, Gloo on CPUs).

A `World` of one process (the default) does nothing in each operation, so the training code
has no branch for it. With more, every process holds the same G, D and G_ema and the same
optimiser state; each takes its slice of the global batch; after each backward the gradients
are averaged across processes in one flat all-reduce (as StyleGAN2-ADA's reference does,
rather than the DistributedDataParallel wrapper, whose reducer cannot follow the lazy R1's
double backward, two forwards of D before one backward, or D frozen during G's step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor

from ..errors import ConfigError

# How long a collective may wait for a process that stopped answering before the run ends.
TIMEOUT = timedelta(seconds=60)
# torchrun's variables (the launcher sets them for each process it starts).
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The one process that writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, n: int) -> slice:
        """This process's part of a global batch of n (n divisible by the world size): every
        size-th sample from its rank on. Strided rather than contiguous because StyleGAN2's
        minibatch-std groups are strided (sample i in group i mod n/G): each process then
        holds whole groups, and D sees what it sees in one process."""
        return slice(self.rank, n, self.size)

    def local_batch(self, n: int) -> int:
        if n % self.size:
            raise ConfigError(f"--batch {n} does not split evenly over {self.size} processes; "
                              f"use a multiple of {self.size}")
        return n // self.size

    # ---- collectives (no-ops for one process) -----------------------------------------------
    def mean_(self, tensors: list[Tensor]) -> None:
        """Average the tensors across processes, in place, in one all-reduce."""
        if not self.distributed or not tensors:
            return
        flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset:offset + n].view_as(t))
            offset += n

    def mean_grads_(self, params) -> None:
        """Average the .grad of `params` across processes (a parameter no process gave a
        gradient keeps None; one with a gradient on some processes only counts zeros for the
        rest, which cannot happen in one training step: all run the same graph)."""
        grads = [p.grad for p in params if p.grad is not None]
        self.mean_(grads)

    def mean(self, x: Tensor) -> Tensor:
        """x averaged across processes (a new tensor; x itself for one process)."""
        if not self.distributed:
            return x
        y = x.detach().clone().float()
        dist.all_reduce(y)
        return (y / self.size).to(x.dtype)

    def sum(self, x: Tensor) -> Tensor:
        if not self.distributed:
            return x
        y = x.detach().clone()
        dist.all_reduce(y)
        return y


SINGLE = World()


def from_environment() -> World:
    """The World torchrun describes in the environment (one process when it does not), with
    its process group started: NCCL when CUDA is available, else Gloo."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return SINGLE
    missing = [k for k in ENV if k not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE is set but {', '.join(missing)} is not: start many "
                          f"processes with torchrun")
    world = World(rank=int(os.environ["RANK"]), size=int(os.environ["WORLD_SIZE"]),
                  local_rank=int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend, timeout=TIMEOUT)
    return world
