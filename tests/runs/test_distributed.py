"""Many-process training on torch.distributed (Gloo, 2 CPU processes): the Trainer of each
family on 2 processes computes what it computes on one with the same global batch."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from ganvas.config.resolve import preset
from ganvas.data.dataset import ImageBank, load_archive
from ganvas.errors import ConfigError
from ganvas.models.layers import GlobalBatchNorm2d, batch_randn, batch_shard
from ganvas.training.distributed import World, from_environment
from ganvas.training.trainer import Trainer, make_augment_pipe

from tests.helpers import assert_trained_alike, free_port, make_toy_archive

REPO = Path(__file__).resolve().parents[2]
STEPS = 3
BATCH = 8
# One entry per family (its tiny preset); augmentation off: it draws per process by design.
FAMILIES = {"dcgan-tiny": {}, "wgan-gp-tiny": {}, "stylegan2-tiny": {"r1_interval": 2},
            "fastgan-tiny": {}}


# How far apart rounding alone leaves a family after STEPS steps (in lr; see
# assert_trained_alike): FastGAN's spectrally normalised G has many weights whose gradient is
# rounding noise, and each moves by Adam's sign step either way. Measured on 2 CPUs, one
# process with 1 thread against 2 threads: up to 5.8 lr (0.6% of G.init's elements, every
# step the other way, 6.01 lr between processes) and 0.15-0.18 lr on average per tensor; so
# 3 lr per step (Adam's step with beta1 0.5 can exceed lr) and lr / 3 on average, still under
# the half step a missing process's gradients make.
APART = {"fastgan-tiny": {"steps_apart": 3.0 * STEPS, "mean_apart": 1 / 3}}

# ADA that moves p by 0.16 at every D step, from 0.5.
FAST_ADA = {"aug": "ada", "p": 0.5, "target": 0.0, "ada_interval": 1, "ada_kimg": 0.05}


def make_trainer(archive, name: str, world: World, augment: dict | None = None) -> Trainer:
    cfg = preset(name, resolution=32, batch=BATCH, precision="fp32", seed=5,
                 **(augment or {"aug": "none"}), **FAMILIES[name]).config
    return Trainer(cfg, ImageBank(load_archive(archive)), torch.device("cpu"), world)


def weights_after_steps(archive, preset: str, world: World,
                        augment: dict | None = None) -> dict[str, torch.Tensor]:
    trainer = make_trainer(archive, preset, world, augment)
    for _ in range(STEPS):
        trainer.train_step()
    out = {"aug_p": torch.tensor(trainer.pipe.p if trainer.pipe else 0.0, dtype=torch.float64),
           "ada_r_t": torch.tensor(trainer.ada.r_t if trainer.ada else 0.0, dtype=torch.float64)}
    out.update({f"G.{k}": v for k, v in trainer.G.state_dict().items()})
    out.update({f"D.{k}": v for k, v in trainer.D.state_dict().items()})
    out.update({f"G_ema.{k}": v for k, v in trainer.G_ema.state_dict().items()})
    return {k: v.detach().clone() for k, v in out.items()}


def worker(archive: str, preset: str, out: str, ada: str = "") -> None:
    """One process of a 2-process run (rank and rendezvous from the environment, as torchrun
    sets them): train (with FAST_ADA when `ada`), then rank 0 saves the weights and every
    process's weight sums."""
    torch.set_num_threads(1)
    world = from_environment(torch.device("cpu"))
    try:
        w = weights_after_steps(archive, preset, world, FAST_ADA if ada else None)
        gathered = [None] * world.size
        dist.all_gather_object(gathered, {k: v.sum().item() for k, v in w.items()})
        if world.rank == 0:
            torch.save({"weights": w, "sums": gathered}, out)
    finally:
        dist.destroy_process_group()


def run_processes(n: int, *args: str, timeout: float = 120) -> None:
    """`worker(*args)` in n fresh processes (plain subprocesses with torchrun's variables:
    no multiprocessing, which would re-run whatever __main__ the test session has)."""
    port = free_port()
    code = "import sys; from tests.runs.test_distributed import worker; worker(*sys.argv[1:])"
    procs = [subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], cwd=REPO, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                        "RANK": str(rank), "WORLD_SIZE": str(n), "LOCAL_RANK": str(rank),
                        "OMP_NUM_THREADS": "1"}) for rank in range(n)]
    try:
        errors = [p.communicate(timeout=timeout)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, err in zip(procs, errors):
        assert p.returncode == 0, err[-3000:]


def one_process(archive, preset: str) -> dict[str, torch.Tensor]:
    """The one-process run, on one thread like each worker; the session's thread count is put
    back (a later test that compares a subprocess's run with its own must keep it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return weights_after_steps(archive, preset, World())
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def archive32(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("data") / "toy32.zip", resolution=32)


@pytest.mark.parametrize("preset", list(FAMILIES))
def test_two_processes_train_like_one_with_the_same_global_batch(preset, archive32, tmp_path):
    out = tmp_path / "rank0.pt"
    run_processes(2, archive32, preset, out)
    result = torch.load(out)
    two, sums = result["weights"], result["sums"]
    assert sums[0] == sums[1]                # every process holds the same networks
    one = one_process(archive32, preset)
    assert one.keys() == two.keys()
    # See assert_trained_alike; a tensor that starts at zero (biases, StyleGAN2's noise
    # strengths) is nothing but Adam's sign steps, so those must also be within half a step
    # (on an AVX-512 CPU one StyleGAN2 conv weight element in 50,000 moved one step apart).
    trainer = make_trainer(archive32, preset, World())
    start = {f"{name}.{k}": v for name, net in (("G", trainer.G), ("D", trainer.D),
                                                 ("G_ema", trainer.G_ema))
             for k, v in net.state_dict().items()}
    lr = max(trainer.cfg.train.lr_g, trainer.cfg.train.lr_d)
    zero = {k for k, v in start.items() if v.is_floating_point() and not v.any()}
    # Spectral norm's power-iteration vectors (unit vectors) and batch norm's running
    # statistics follow the weights, not Adam's steps: compared as such (rounding moved the
    # vectors' ~0.1 elements up to 1.4e-3, FastGAN D's running variances ~1e-4).
    vectors = {k for k in one if k.endswith(("._u", "._v", ".running_mean", ".running_var"))}
    for k in vectors:
        assert torch.allclose(one[k], two[k], atol=1e-2, rtol=1e-3), k
    assert_trained_alike({k: v for k, v in one.items() if k not in zero | vectors},
                         {k: v for k, v in two.items() if k not in zero | vectors}, lr,
                         **APART.get(preset, {}))
    for k in zero:
        bound = APART.get(preset, {}).get("steps_apart", 0.5)
        assert float((one[k] - two[k]).abs().max()) < bound * lr, k
    start = trainer.G.state_dict()                          # training moved G
    assert sum(not torch.equal(v, one[f"G.{k}"]) for k, v in start.items()) > len(start) // 2


def test_ada_applies_the_same_p_on_every_process(archive32, tmp_path):
    """Each process augments its own part with its own draws, but ADA's statistic covers
    every process's reals: its r_t and p are the same everywhere, and so (gradients
    averaged) are the networks."""
    out = tmp_path / "rank0.pt"
    run_processes(2, archive32, "stylegan2-tiny", out, "ada")
    result = torch.load(out)
    assert result["sums"][0] == result["sums"][1]        # aug_p and ada_r_t included
    assert result["weights"]["ada_r_t"] != 0
    assert float(result["weights"]["aug_p"]) != FAST_ADA["p"]           # it moved
    # (Here every process's reals got D outputs of one sign, so their own r_t agree too: the
    # statistic must be the all-process sum by construction.)
    world = World(rank=0, size=2)
    cfg = preset("stylegan2-tiny", aug="ada").config
    assert make_augment_pipe(cfg, world)[1].total == world.sum


def test_the_global_batch_must_split_evenly():
    with pytest.raises(ConfigError, match="does not split evenly over 3 processes"):
        World(rank=0, size=3).local_batch(8)
    assert list(range(8))[World(rank=1, size=2).shard(8)] == [1, 3, 5, 7]


def test_gradients_are_cleaned_of_nan_and_inf_after_averaging():
    """As StyleGAN2-ADA and StyleGAN3 do after their all-reduce: NaN -> 0, +-Inf -> +-1e5;
    finite values pass unchanged (bit for bit: exact resume depends on it)."""
    p = torch.nn.Parameter(torch.zeros(5))
    p.grad = torch.tensor([math.nan, math.inf, -math.inf, 0.25, -3e7])
    q = torch.nn.Parameter(torch.zeros(2))                  # no gradient: stays None
    World().mean_grads_([p, q])
    assert p.grad.tolist() == [0.0, 1e5, -1e5, 0.25, -3e7] and q.grad is None


def test_sharded_draws_are_slices_of_the_whole_batch():
    like = torch.zeros(4, 3, 5, 5).to(memory_format=torch.channels_last)
    torch.manual_seed(0)
    whole = torch.randn_like(torch.zeros(8, 3, 5, 5).to(memory_format=torch.channels_last))
    for rank in range(2):
        torch.manual_seed(0)
        with batch_shard(rank, 2):
            assert torch.equal(batch_randn(like), whole[rank::2])
    torch.manual_seed(0)
    assert torch.equal(batch_randn(like), whole[:4])          # no shard: randn_like


def test_global_batchnorm_is_batchnorm_outside_a_process_group():
    bn = torch.nn.BatchNorm2d(3)
    gbn = GlobalBatchNorm2d(3)
    gbn.load_state_dict(bn.state_dict())
    x = torch.randn(4, 3, 5, 5)
    assert torch.equal(bn(x), gbn(x))
    assert torch.equal(bn.running_var, gbn.running_var)


def test_each_process_resumes_the_augmentation_stream_of_its_rank(archive32):
    a0, a1 = (torch.Generator().manual_seed(s).get_state() for s in (1, 2))
    saved = {"rng": {"aug": a0}, "aug_ranks": [a0, a1]}
    assert torch.equal(make_trainer(archive32, "dcgan-tiny", World(1, 2)).aug_state(saved), a1)
    third = make_trainer(archive32, "dcgan-tiny", World(2, 4))
    new = third.aug_state(saved)              # a rank the run did not have: its own stream
    assert not torch.equal(new, a0) and not torch.equal(new, a1)
    assert torch.equal(new, third.aug_state(saved))
    old_file = {"rng": {"aug": a0}}           # trainer.pt from before many processes
    assert torch.equal(make_trainer(archive32, "dcgan-tiny", World()).aug_state(old_file), a0)
    assert not torch.equal(make_trainer(archive32, "dcgan-tiny", World(1, 2)).aug_state(
        old_file), a0)
    own = {"rng": {"aug": a1}, "aug_ranks": None}     # a process's own capture()
    assert torch.equal(make_trainer(archive32, "dcgan-tiny", World(1, 2)).aug_state(own), a1)
