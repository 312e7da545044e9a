"""The Trainer: networks, optimisers, data and randomness of one run, and one training step.

Everything a resume needs is in `state_dict()`; every random draw comes from one of three
explicit torch.Generators (data order, latents, instance noise) whose states are saved, so a
run stopped at a snapshot and resumed ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ..config import RunConfig
from ..data.dataset import ImageBank
from ..losses import LOSSES
from ..models import build_discriminator, build_generator
from .ema import ema_beta, recalibrate_batchnorm, update_ema


def pick_device(name: str) -> torch.device:
    """'auto' -> cuda if present, else mps, else cpu; otherwise torch.device(name)."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Trainer:
    """One GAN being trained: G, D, G_ema, their Adam optimisers, the data and the RNGs."""

    def __init__(self, cfg: RunConfig, bank: ImageBank, device: torch.device):
        self.cfg, self.bank, self.device = cfg, bank, device
        t = cfg.train
        # Seeds of the three streams differ so that no two draw the same numbers.
        self.gen_data = torch.Generator().manual_seed(t.seed * 3 + 0)
        self.gen_z = torch.Generator().manual_seed(t.seed * 3 + 1)
        self.gen_noise = torch.Generator().manual_seed(t.seed * 3 + 2)
        torch.manual_seed(t.seed)                     # weight initialisation
        fmt = torch.channels_last                      # faster convolutions on CPU and GPU
        self.G = build_generator(cfg.model).to(device, memory_format=fmt).train()
        self.D = build_discriminator(cfg.model).to(device, memory_format=fmt).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        betas = (t.beta1, t.beta2)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=betas)
        self.loss = LOSSES.get(t.loss)
        self.images_seen = 0
        self.step = 0

    # ---- one step of the algorithm -------------------------------------------------------
    def noise_sigma(self) -> float:
        """Instance noise std at the current kimg: linear from its start value down to 0."""
        t = self.cfg.train
        left = 1.0 - self.images_seen / (t.instance_noise_kimg * 1000.0)
        return t.instance_noise * max(0.0, left)

    def noisy(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """x + N(0, sigma^2) noise drawn from the noise stream (x unchanged when sigma is 0)."""
        if sigma <= 0:
            return x
        noise = torch.randn(x.shape, generator=self.gen_noise).to(self.device)
        return x + sigma * noise

    def train_step(self) -> dict[str, torch.Tensor]:
        """One D update and one G update on a fresh batch; returns detached statistics."""
        t = self.cfg.train
        reals, labels = self.bank.batch(t.batch, self.gen_data)
        reals = reals.to(self.device, memory_format=torch.channels_last)
        labels = None if labels is None else labels.to(self.device)
        z = torch.randn(t.batch, self.cfg.model.z_dim, generator=self.gen_z).to(self.device)
        sigma = self.noise_sigma()

        # D: push D(real) up and D(G(z)) down.
        fake = self.G(z, labels)
        d_real = self.D(self.noisy(reals, sigma), labels)
        d_fake = self.D(self.noisy(fake.detach(), sigma), labels)
        loss_d = self.loss.d(d_real, d_fake, t.label_smoothing)
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()

        # G: fool the updated D with the same fakes (as the DCGAN recipe does).
        self.D.requires_grad_(False)
        loss_g = self.loss.g(self.D(self.noisy(fake, sigma), labels))
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()
        self.D.requires_grad_(True)

        self.images_seen += t.batch
        self.step += 1
        update_ema(self.G_ema, self.G, ema_beta(t.ema_kimg, t.ema_rampup, self.images_seen, t.batch))
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "d_real": torch.sigmoid(d_real.detach()).mean(),
                "d_fake": torch.sigmoid(d_fake.detach()).mean()}

    # ---- sampling and state ------------------------------------------------------------------
    def prepare_ema_for_sampling(self) -> nn.Module:
        """G_ema with batch-norm statistics re-estimated for its weights, in eval mode."""
        recalibrate_batchnorm(self.G_ema, self.cfg.model.z_dim,
                              num_classes=self.cfg.model.num_classes)
        return self.G_ema

    def state_dict(self) -> dict:
        """Trainer state for trainer.pt: only tensors, numbers and dicts (weights_only-safe)."""
        return {"images_seen": self.images_seen, "step": self.step,
                "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "gen_data": self.gen_data.get_state(), "gen_z": self.gen_z.get_state(),
                "gen_noise": self.gen_noise.get_state(), "bank": self.bank.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.images_seen, self.step = int(state["images_seen"]), int(state["step"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.gen_data.set_state(state["gen_data"])
        self.gen_z.set_state(state["gen_z"])
        self.gen_noise.set_state(state["gen_noise"])
        self.bank.load_state_dict(state["bank"])
