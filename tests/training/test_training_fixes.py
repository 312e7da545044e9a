"""The training step's definitions: R1 through the augmentation, the G_ema half-life in the
images kimg counts, and one precision for the augmentation of reals and fakes."""

from __future__ import annotations

import copy

import pytest
import torch

from ganvas.data.dataset import ImageBank, load_archive
from ganvas.config.options import OFF
from ganvas.config.resolve import preset
from ganvas.training.trainer import Trainer


def make_trainer(toy_archive, train=None, augment=None, name="dcgan-tiny") -> Trainer:
    # float32: the references by hand run D without autocast, and auto is bf16 on a CPU with
    # native bf16. None values (gate_d=None) are given as OFF: None means "not given".
    options = {"batch": 8, "precision": "fp32", **(train or {}), **(augment or {})}
    cfg = preset(name, resolution=16,
                 **{k: OFF if v is None else v for k, v in options.items()}).config
    return Trainer(cfg, ImageBank(load_archive(toy_archive)), torch.device("cpu"))


def squared_grad_norm(out: torch.Tensor, wrt: torch.Tensor) -> float:
    (grad,) = torch.autograd.grad(out.float().sum(), wrt)
    return grad.flatten(1).pow(2).sum(dim=1).mean().item()


def r1_by_hand(trainer: Trainer) -> tuple[float, float]:
    """(||d D(aug(x)) / dx||^2, ||d D(y) / dy||^2 at y = aug(x)) for the batch the next D step
    draws, on a copy of D and with the RNG and data order put back, so that step sees the
    same batch and augmentation."""
    saved = {k: g.get_state() for k, g in trainer.rng.items()}
    bank = copy.deepcopy(trainer.bank.state_dict())
    D = copy.deepcopy(trainer.D)
    reals, labels = trainer.next_batch()
    x = reals.detach().requires_grad_(True)
    y = trainer.d_view(x, trainer.noise_sigma())
    reference = squared_grad_norm(D(y, labels), x)
    y_leaf = y.detach().requires_grad_(True)
    augmented = squared_grad_norm(D(y_leaf, labels), y_leaf)
    for k, g in trainer.rng.items():
        g.set_state(saved[k])
    trainer.bank.load_state_dict(bank)
    return reference, augmented


R1_AUGMENTS = {
    "ada-geom-scaling": {"aug": "fixed", "augpipe": "g", "p": 1.0},
    "ada-bgcfnc": {"aug": "fixed", "augpipe": "bgcfnc", "p": 0.8},
    "diffaug": {"aug": "diffaug", "diffaug": "color,translation,cutout"},
}


@pytest.mark.parametrize("name", list(R1_AUGMENTS))
def test_r1_is_taken_through_the_augmentation_wrt_the_clean_reals(name, toy_archive):
    trainer = make_trainer(toy_archive, train={"r1_gamma": 1.0, "r1_interval": 1, "seed": 3},
                           augment=R1_AUGMENTS[name])
    reference, augmented = r1_by_hand(trainer)
    _, _, stats = trainer.d_step()
    assert stats["r1"].item() == pytest.approx(reference, rel=1e-4)
    # The old definition (w.r.t. the augmented reals) is measurably different here.
    print(f"{name}: R1 old/new = {augmented / reference:.3f}")
    assert abs(augmented / reference - 1) > 0.01, (augmented, reference)


def test_r1_without_augmentation_is_the_plain_gradient(toy_archive):
    trainer = make_trainer(toy_archive, train={"r1_gamma": 1.0, "r1_interval": 1, "seed": 3})
    reference, augmented = r1_by_hand(trainer)
    _, _, stats = trainer.d_step()
    assert stats["r1"].item() == pytest.approx(reference, rel=1e-4)
    assert augmented == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("rampup", [None, 0.05])
def test_ema_half_life_counts_every_d_batch_with_n_critic(rampup, toy_archive, monkeypatch):
    import ganvas.training.trainer as trainer_module
    betas = []
    real_update = trainer_module.update_ema
    monkeypatch.setattr(trainer_module, "update_ema",
                        lambda G_ema, G, beta: (betas.append(beta), real_update(G_ema, G, beta)))
    trainer = make_trainer(toy_archive, train={"n_critic": 5, "ema_kimg": 0.5,
                                               "ema_rampup": rampup})
    for _ in range(2):
        trainer.train_step()
    images = 8 * 5                                       # batch * n_critic per G step
    assert trainer.images_seen == 2 * images
    for seen, beta in zip((images, 2 * images), betas):
        half_life = 500.0 if rampup is None else min(500.0, rampup * seen)
        assert beta == pytest.approx(0.5 ** (images / half_life), rel=1e-12)


def test_cpu_adam_is_fused_and_g_ema_update_is_the_per_tensor_lerp(toy_archive):
    from ganvas.training.ema import update_ema
    trainer = make_trainer(toy_archive)
    assert trainer.opt_G.defaults["fused"] and trainer.opt_D.defaults["fused"]
    G, G_ema = trainer.G, copy.deepcopy(trainer.G_ema)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p))
        for b in G.buffers():
            b.add_(1)
    expected = [pe.lerp(p, 1 - 0.9) for pe, p in zip(G_ema.parameters(), G.parameters())]
    update_ema(G_ema, G, 0.9)
    assert all(torch.equal(pe, e) for pe, e in zip(G_ema.parameters(), expected))
    assert all(torch.equal(be, b) for be, b in zip(G_ema.buffers(), G.buffers()))


class RecordingPipe:
    """An AugmentPipe that notes the dtype it is given and whether autocast is on."""

    def __init__(self, pipe):
        self.pipe, self.seen = pipe, []

    @property
    def p(self) -> float:
        return self.pipe.p

    def __call__(self, x, gen):
        self.seen.append((x.dtype, torch.is_autocast_enabled("cpu")))
        return self.pipe(x, gen)


def test_fakes_are_augmented_in_float32_outside_autocast_in_both_steps(toy_archive):
    trainer = make_trainer(toy_archive, train={"precision": "bf16"},
                           augment={"aug": "fixed", "augpipe": "bgc", "p": 0.5})
    trainer.pipe = RecordingPipe(trainer.pipe)
    stats = trainer.train_step()
    # D step: reals, then fakes; G step: fakes. One rule for all three.
    assert trainer.pipe.seen == [(torch.float32, False)] * 3
    assert all(torch.isfinite(v).all() for v in stats.values())
