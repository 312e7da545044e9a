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
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor

from ..errors import ConfigError, GanvasError

# How long a collective waits for a process that is alive but does not answer. The main
# process alone writes snapshots and computes the metrics of the reals (once, then cached),
# which can take minutes, so this is torch's default. A process that dies is noticed at
# once (its connections close) and torchrun stops the others: this is for a hung one.
TIMEOUT = timedelta(minutes=30)
# torchrun's variables (the launcher sets them for each process it starts).
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
RENDEZVOUS = ("MASTER_ADDR", "MASTER_PORT")     # where the processes meet (env://)


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
        flat = torch.cat([t.detach().reshape(-1).float().to(self.collective_device)
                          for t in tensors])
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
        rest, which cannot happen in one training step: all run the same graph), then clean
        them as StyleGAN2-ADA's and StyleGAN3's loops do after their all-reduce: NaN -> 0,
        +-Inf -> +-1e5, so an overflow does not write NaN into the weights (the step's
        non-finite loss is still flagged, and the loop rolls back)."""
        grads = [p.grad for p in params if p.grad is not None]
        self.mean_(grads)
        for g in grads:
            torch.nan_to_num_(g, nan=0.0, posinf=1e5, neginf=-1e5)

    def mean(self, x: Tensor) -> Tensor:
        """x averaged across processes (a new tensor; x itself for one process)."""
        if not self.distributed:
            return x
        y = x.detach().float().to(self.collective_device, copy=True)
        dist.all_reduce(y)
        return (y / self.size).to(x.device, x.dtype)

    def sum(self, x: Tensor) -> Tensor:
        if not self.distributed:
            return x
        y = x.detach().to(self.collective_device, copy=True)
        dist.all_reduce(y)
        return y.to(x.device)

    def any(self, flag: bool) -> bool:
        """True on every process when `flag` is true on one (decisions taken together)."""
        return self.any_each(flag)[0]

    def any_each(self, *flags: bool) -> tuple[bool, ...]:
        """For each flag, true on every process when it is true on one: several decisions
        taken together in one collective."""
        if not self.distributed:
            return tuple(bool(f) for f in flags)
        x = torch.tensor([float(f) for f in flags], device=self.collective_device)
        dist.all_reduce(x)
        return tuple(bool(v > 0) for v in x.tolist())

    def gather(self, obj) -> list | None:
        """Every process's `obj` (picklable) in rank order on the main process, None on the
        others."""
        if not self.distributed:
            return [obj]
        out = [None] * self.size if self.main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def from_main(self, fn):
        """fn() run on the main process, its value (picklable) given to every process; a
        GanvasError it raises is raised on every process (so all stop with the same line
        rather than wait for one that has stopped)."""
        if not self.distributed:
            return fn()
        box = [None]
        if self.main:
            try:
                box[0] = ("ok", fn())
            except GanvasError as e:
                box[0] = ("error", (type(e), str(e)))
        dist.broadcast_object_list(box, src=0)
        kind, value = box[0]
        if kind == "error":
            cls, message = value
            try:
                error = cls(message)
            except TypeError:                 # a subclass with another constructor
                error = GanvasError(message)
            raise error
        return value

    def main_first(self, fn):
        """fn() on the main process, then (when it succeeded) on the others: for work that
        fills a cache the others then read (a prepared dataset archive)."""
        value = self.from_main(fn)
        return value if self.main else fn()

    @property
    def collective_device(self) -> torch.device:
        """Where collective tensors live: the process's GPU under NCCL, else the CPU."""
        if dist.is_initialized() and dist.get_backend() == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def training_device(self, asked: torch.device) -> torch.device:
        """The device this process trains on: its own GPU (LOCAL_RANK) when the run is on CUDA."""
        if self.distributed and asked.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return asked


SINGLE = World()


class LostProcess(GanvasError):
    """Another process of the run stopped (died, was killed, lost its network): this one ends
    too, with this line, instead of waiting for it."""

    exit_code = 1


def from_environment(device: torch.device) -> World:
    """The World torchrun describes in the environment (one process when it does not), with
    its process group started: NCCL when the run trains on CUDA, else Gloo. Malformed or
    missing variables are a ConfigError naming the variable, before anything starts."""
    world = world_of(os.environ, rendezvous=not dist.is_initialized())
    if not world.distributed:
        return SINGLE
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend, timeout=TIMEOUT)
    return world


def world_of(env, rendezvous: bool = True) -> World:
    """The World that torchrun's variables in `env` describe: none set is one process; any
    set makes all three required, whole numbers with 0 <= RANK < WORLD_SIZE, and (with
    `rendezvous`: the process group is still to be started) many processes need
    MASTER_ADDR and MASTER_PORT."""
    given = [k for k in ENV if k in env]
    if not given:
        return SINGLE
    values = {k: whole_number(env, k) for k in given}
    missing = [k for k in ENV if k not in env]
    if missing:
        raise ConfigError(f"{given[0]} is set but {', '.join(missing)} is not: start many "
                          f"processes with torchrun (or unset {', '.join(given)})")
    rank, size, local_rank = (values[k] for k in ENV)
    if size < 1:
        raise ConfigError(f"WORLD_SIZE={env['WORLD_SIZE']}: give a number of processes of at "
                          f"least 1")
    if size > 1 and rendezvous:
        check_rendezvous(env)
    if not 0 <= rank < size:
        raise ConfigError(f"RANK={env['RANK']}: give a rank from 0 to {size - 1} "
                          f"(WORLD_SIZE={size})")
    if local_rank < 0:
        raise ConfigError(f"LOCAL_RANK={env['LOCAL_RANK']}: give a rank of at least 0")
    return World(rank=rank, size=size, local_rank=local_rank)


def whole_number(env, name: str) -> int:
    text = env[name].strip()
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise ConfigError(f"{name}={env[name]!r:.40}: not a whole number (torchrun sets it)")
    return int(text)


def check_rendezvous(env) -> None:
    """MASTER_ADDR and MASTER_PORT, which the process group's env:// rendezvous reads (torchrun
    sets them), present and a port a port: a ConfigError naming the one that is not."""
    missing = [k for k in RENDEZVOUS if not env.get(k, "").strip()]
    if missing:
        raise ConfigError(f"WORLD_SIZE={env['WORLD_SIZE']} but {' and '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not set: start many "
                          f"processes with torchrun")
    port = env["MASTER_PORT"].strip()
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"MASTER_PORT={env['MASTER_PORT']!r:.40}: give a TCP port from 1 "
                          f"to 65535")


def lost_contact(e: RuntimeError) -> bool:
    """Whether a collective's error says another process is gone (NCCL's and Gloo's words;
    Gloo raises plain RuntimeErrors)."""
    text = str(e)
    return isinstance(e, dist.DistError) or any(words in text for words in (
        "Connection closed by peer", "Connection reset by peer", "gloo/transport"))


def first_words(e: Exception) -> str:
    """The first sentence of a backend's error, without its source location."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(e).strip()) or type(e).__name__
    return text.split(". ")[0].splitlines()[0][:160]


def main_process() -> bool:
    """Whether this is the main process of the run (rank 0, or no torchrun): the one that
    prints results."""
    return os.environ.get("RANK", "0") == "0"


@contextmanager
def processes(device: torch.device):
    """The run's World for the body (from_environment), its process group ended afterwards;
    a collective that fails because another process is gone becomes LostProcess."""
    started = not dist.is_initialized()
    world = from_environment(device)
    try:
        yield world
    except RuntimeError as e:
        if not (world.distributed and lost_contact(e)):
            raise
        raise LostProcess(f"process {world.rank} of {world.size} lost contact with the "
                          f"others (one of them stopped; its own message says why): "
                          f"{first_words(e)}") from None
    finally:
        if world.distributed and started and dist.is_initialized():
            dist.destroy_process_group()
