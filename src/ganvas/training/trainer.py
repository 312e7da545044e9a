"""The Trainer: networks, optimisers, data and randomness of one run, and one training step.

Everything a resume needs is in `state_dict()`; every random draw comes from one of four
explicit torch.Generators (data order, latents, D's noise and labels, augmentation) whose
states are saved, so a run stopped at a snapshot and resumed ends with the same weights as one
that never stopped.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import AUGMENTS, diff_augment, parse_policy
from ..augment.ada import AdaController, AugmentPipe
from ..config.schema import RunConfig
from ..data.dataset import ImageBank
from ..losses import LOSSES
from ..losses.penalties import gradient_penalty, r1_penalty
from ..models import build_discriminator, build_generator, family_of
from ..models.batchnorm import recalibrate_batchnorm
from ..models.layers import batch_shard, freeze_blocks, global_batchnorm, running_buffers
from .distributed import SINGLE, World
from .ema import ema_beta, update_ema
from .reconstruction import reconstruction_distance, reconstruction_term

Tensor = torch.Tensor
STREAMS = ("data", "z", "noise", "aug")      # one torch.Generator each, seeded seed * 8 + index
# Augmentation draws per process (each augments its own shard): rank r's stream is offset.
AUG_RANK_OFFSET = 1_000_003
Views = Tensor | tuple[Tensor, ...]     # what D sees of one batch: images, or G.views' pair


def image_of(x: Views) -> Tensor:
    """The images of what D sees (the first of G.views' pair)."""
    return x[0] if isinstance(x, tuple) else x


def blur_images(x: Tensor, sigma: float) -> Tensor:
    """x (N, C, H, W) low-passed as StyleGAN3's loss blurs D's inputs: the separable filter
    2^-(k / sigma)^2 for k = -3 sigma .. 3 sigma (whole pixels), normalised to sum 1, over
    zero padding (same size out); x itself when that leaves one tap. Differentiable."""
    size = int(3 * sigma)
    if size <= 0:
        return x
    k = torch.arange(-size, size + 1, device=x.device, dtype=torch.float32)
    f = (k / sigma).square().neg().exp2()
    f = (f / f.sum()).to(x.dtype)
    c = x.shape[1]
    x = F.conv2d(x, f.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, size), groups=c)
    return F.conv2d(x, f.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(size, 0), groups=c)


def detach(x: Views) -> Views:
    return tuple(v.detach() for v in x) if isinstance(x, tuple) else x.detach()


def per_logit(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Logits (N,) or patch logits (N, P) and per-sample targets (N,), both flattened to one
    value per logit (each patch has its sample's target)."""
    if logits.dim() == 1:
        return logits, targets
    return logits.reshape(-1), targets[:, None].expand_as(logits).reshape(-1)


def cpu_copy(obj):
    """obj (nested dicts, lists and tensors) with every tensor copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


def make_augment_pipe(cfg: RunConfig, world: World = SINGLE
                      ) -> tuple[AugmentPipe | None, AdaController | None]:
    """The ADA pipeline for --aug ada/fixed (None otherwise) and, for ada, its controller
    (whose statistic covers the reals of every process)."""
    a = cfg.augment
    if a.mode not in ("ada", "fixed"):
        return None, None
    pipe = AugmentPipe(a.augpipe)
    pipe.p = a.p
    if a.mode == "fixed":
        return pipe, None
    return pipe, AdaController(pipe, target=a.target, interval=a.ada_interval,
                               speed_kimg=a.ada_kimg, batch=cfg.train.batch, total=world.sum)


def adam(params, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam; on the CPU its fused kernel (one pass over each tensor instead of about ten small
    kernels per parameter; torch's default there is the per-tensor loop). Other devices keep
    torch's default (multi-tensor on CUDA)."""
    fused = True if device.type == "cpu" else None
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused)


class Trainer:
    """One GAN being trained: G, D, G_ema, their Adam optimisers, the data and the RNGs.

    With a `world` of many processes each Trainer holds the same networks and takes its shard
    of every global batch: the draws of data order, mirroring, z, instance and label noise and
    torch's own RNG are the whole batch's on every process (sliced), so together they compute
    what one process would; augmentation draws per process. Gradients and the running
    buffers are averaged across processes, batch norm covers the global batch.

    `cfg` is a resolved configuration (config.resolve: validated, precision settled, the
    data's values filled in by resolve.with_data); the Trainer reads it and decides nothing."""

    def __init__(self, cfg: RunConfig, bank: ImageBank, device: torch.device,
                 world: World = SINGLE):
        if cfg.train.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision {cfg.train.precision!r}: the Trainer takes a resolved "
                             f"configuration (config.resolve settles the precision)")
        self.cfg, self.bank, self.device, self.world = cfg, bank, device, world
        t = cfg.train
        self.local_batch = world.local_batch(t.batch)
        self.shard = world.shard(t.batch)
        self.rng = {name: torch.Generator().manual_seed(
                        t.seed * 8 + i + (AUG_RANK_OFFSET * world.rank if name == "aug" else 0))
                    for i, name in enumerate(STREAMS)}
        torch.manual_seed(t.seed)                     # weight initialisation
        fmt = torch.channels_last                      # faster convolutions on CPU and GPU
        self.G = build_generator(cfg.model).to(device, memory_format=fmt).train()
        self.D = build_discriminator(cfg.model).to(device, memory_format=fmt).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if world.distributed:                 # G_ema (sampled by one process) keeps plain BN
            global_batchnorm(self.G)
            global_batchnorm(self.D)
        self.freeze_d(t.freeze_d)
        betas = (t.beta1, t.beta2)
        self.opt_G = adam(self.G.parameters(), t.lr_g, betas, device)
        self.opt_D = adam(self.d_params, t.lr_d, betas, device)
        self.loss = LOSSES.get(t.loss)
        caps = family_of(cfg.model.family).capabilities
        if caps.style_mixing:
            self.G.mixing_prob = t.style_mixing
        self.two_views = caps.two_views
        self.rec_distance = (reconstruction_distance(t.rec_distance, device)
                             if caps.d_reconstruction else None)
        self.policy = parse_policy(cfg.augment.diffaug)
        self.pipe, self.ada = make_augment_pipe(cfg, world)
        self.autocast = (torch.autocast(device.type, dtype=torch.bfloat16)
                         if t.precision == "bf16" else nullcontext())
        self.images_seen = round(t.start_kimg * 1000)   # fine-tuning an NVlabs snapshot
        self.step = 0
        self.lr_scale = 1.0            # lowered by each rollback after NaN/Inf losses

    def freeze_d(self, n: int) -> None:
        """Keep D's first n blocks fixed (FreezeD); only the rest is optimised."""
        freeze_blocks(self.D, n)
        self.d_params = [p for p in self.D.parameters() if p.requires_grad]

    # ---- what D sees -------------------------------------------------------------------------
    def noise_sigma(self) -> float:
        """Instance noise std at the current kimg: linear from its start value down to 0."""
        t = self.cfg.train
        left = 1.0 - self.images_seen / (t.instance_noise_kimg * 1000.0)
        return t.instance_noise * max(0.0, left)

    def blur_sigma(self) -> float:
        """The std (px) of the blur of D's inputs at the current kimg (StyleGAN3-R's recipe):
        linear from --blur-sigma down to 0 over --blur-fade-kimg."""
        t = self.cfg.train
        if t.blur_sigma <= 0:
            return 0.0
        return t.blur_sigma * max(0.0, 1.0 - self.images_seen / (t.blur_fade_kimg * 1000.0))

    def d_view(self, x: Views, sigma: float) -> Views:
        """Images as D sees them: blurred (--blur-sigma), instance noise, then the DiffAugment
        policy or the ADA pipe
        (all differentiable, so G learns through them). x: (N, C, H, W) in [-1, 1], or G's
        views, each augmented with draws of its own (as FastGAN's code does).

        Called outside autocast, and in float32 whatever G's output precision: reals and fakes,
        in D's step and in G's, are augmented with the same numerics (D's forward that
        follows runs under autocast)."""
        if isinstance(x, tuple):
            return tuple(self.d_view(v, sigma) for v in x)
        x = blur_images(x.float(), self.blur_sigma())
        if sigma > 0:
            noise = torch.randn((self.cfg.train.batch, *x.shape[1:]), generator=self.rng["noise"])
            x = x + sigma * noise[self.shard].to(self.device)
        if self.policy:
            x = diff_augment(x, self.policy, self.rng["aug"])
        if self.pipe is not None:
            x = self.pipe(x, self.rng["aug"])
        return x

    def targets(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """D's targets for this process's part of n (default: the batch) reals (1 -
        smoothing) and fakes (0), label noise flipped."""
        t = self.cfg.train
        n = t.batch if n is None else n
        real = torch.full((n,), 1.0 - t.label_smoothing)
        fake = torch.zeros(n)
        if t.label_noise > 0:
            flip = torch.rand(2, n, generator=self.rng["noise"]) < t.label_noise
            real = torch.where(flip[0], 0.0, real)
            fake = torch.where(flip[1], 1.0, fake)
        part = self.world.shard(n)
        return real[part].to(self.device), fake[part].to(self.device)

    def margins(self, logits: Tensor) -> tuple[Tensor, ...]:
        """The loss's random hinge margins for this process's `logits` (one per logit, drawn
        for the global batch from the noise stream), or () for a loss without them."""
        low = self.loss.margin_low
        if low >= 1:
            return ()
        u = torch.rand((self.cfg.train.batch, *logits.shape[1:]), generator=self.rng["noise"])
        return ((low + (1 - low) * u[self.shard]).reshape(-1).to(self.device),)

    def generate(self, z: Tensor, labels: Tensor | None) -> Views:
        """What D sees of G on latents z (with G's graph): the images, or G.views."""
        with self.autocast:
            return self.G.views(z, labels) if self.two_views else self.G(z, labels)

    def latents(self, n: int) -> Tensor:
        """z for this process's part of n latents (n global), from the z stream."""
        z = torch.randn(n, self.cfg.model.z_dim, generator=self.rng["z"])
        return z[self.world.shard(n)].to(self.device)

    def next_batch(self) -> tuple[Tensor, Tensor | None]:
        """Reals (N, C, H, W) in [-1, 1] on the device, classic-augmented when asked, and their
        labels (N,) for a conditional model (None otherwise)."""
        t, a = self.cfg.train, self.cfg.augment
        reals, labels = self.bank.batch(t.batch, self.rng["data"], shard=self.shard)
        reals = reals.to(self.device, memory_format=torch.channels_last)
        if a.classic:
            reals = AUGMENTS.get("classic").fn(reals, self.rng["aug"], **a.classic_params())
        if self.cfg.model.num_classes == 0 or labels is None:
            return reals, None
        return reals, labels.to(self.device)

    # ---- one step of the algorithm -------------------------------------------------------
    def train_step(self) -> dict[str, Tensor]:
        """n_critic D updates, then one G update on the last D step's fakes (as the DCGAN recipe
        does); returns detached statistics (tensors, so no device sync)."""
        stats: dict[str, Tensor] = {}
        start = self.images_seen
        with batch_shard(self.world.rank, self.world.size):
            for _ in range(self.cfg.train.n_critic):
                fake, labels, stats = self.d_step()
            stats.update(self.g_step(fake, labels))
        # The buffers each process moved by its own shard: their average is what the global
        # batch would give (each update is linear in the batch mean).
        self.world.mean_(running_buffers(self.G) + running_buffers(self.D))
        self.step += 1
        t = self.cfg.train
        # The half-life is in the images kimg counts: this update follows n_critic batches.
        update_ema(self.G_ema, self.G, ema_beta(t.ema_kimg, t.ema_rampup, self.images_seen,
                                                self.images_seen - start))
        return stats

    def d_step(self) -> tuple[Tensor, Tensor | None, dict[str, Tensor]]:
        """One D update on a fresh batch; returns the fakes (with G's graph), their labels and
        statistics."""
        t = self.cfg.train
        reals, labels = self.next_batch()
        z = self.latents(t.batch)
        sigma = self.noise_sigma()
        fake = self.generate(z, labels)
        # Lazy R1 (StyleGAN2): every r1_interval-th D step, scaled up by the interval. Its
        # gradient is taken w.r.t. the reals before augmentation, through the (differentiable)
        # augmentation, as in StyleGAN2-ADA and DiffAugment, whose gammas assume that.
        do_r1 = t.r1_gamma > 0 and (self.images_seen // t.batch) % t.r1_interval == 0
        if do_r1:
            reals = reals.detach().requires_grad_(True)
        x_real = self.d_view(reals, sigma)
        x_fake = self.d_view(detach(fake), sigma)
        with self.autocast:
            if self.rec_distance is not None:
                # Self-supervised D (FastGAN, Liu et al. 2021): D also decodes its features of
                # the reals back to images, so they must describe the image, not only separate
                # reals from fakes; a regulariser that keeps D from overfitting few images.
                d_real, pairs = self.D.reconstruct(x_real, labels)
            else:
                d_real = self.D(x_real, labels)
            d_fake = self.D(x_fake, labels)
        d_real, d_fake = d_real.float(), d_fake.float()
        real_t, fake_t = self.targets()
        margins = self.margins(d_real) + self.margins(d_fake)
        (real_logits, real_t), (fake_logits, fake_t) = (per_logit(d_real, real_t),
                                                        per_logit(d_fake, fake_t))
        loss_d = self.loss.d(real_logits, fake_logits, real_t, fake_t, *margins)
        total = loss_d
        stats = {}
        if self.loss.gradient_penalty:
            alpha = torch.rand(t.batch, generator=self.rng["noise"])[self.shard].to(self.device)
            with self.autocast:
                gp = gradient_penalty(lambda x: self.D(x, labels), x_real,
                                      image_of(x_fake), alpha)
            total = total + t.gp_lambda * gp
            stats["gp"] = gp.detach()
        if self.rec_distance is not None:
            rec = reconstruction_term(self.rec_distance, pairs, t.batch)
            total = total + rec
            stats["d_rec"] = rec.detach()
        if do_r1:
            r1 = r1_penalty(d_real, reals)
            total = total + 0.5 * t.r1_gamma * t.r1_interval * r1
            stats["r1"] = r1.detach()
        if self.ada is not None:
            self.ada.update(d_real.detach())
        skip = t.gate_d is not None and self.world.mean(loss_d).item() < t.gate_d
        if not skip:
            self.opt_D.zero_grad(set_to_none=True)
            total.backward()
            self.world.mean_grads_(self.d_params)
            self.opt_D.step()
        self.images_seen += t.batch
        if self.pipe is not None:
            stats["aug_p"] = torch.tensor(self.pipe.p)
        d_real, d_fake = d_real.detach(), d_fake.detach()
        stats.update({"loss_d": loss_d.detach(), "d_real": d_real.mean(),
                      "d_fake": d_fake.mean(),
                      # D's accuracy: the share of reals it scores > 0 and fakes < 0.
                      "d_acc": ((d_real > 0).float().mean() + (d_fake < 0).float().mean()) / 2,
                      "d_skipped": torch.tensor(float(skip))})
        return fake, labels, stats

    def g_step(self, fake: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """One G update: fool D (frozen for this step) with `fake`."""
        t = self.cfg.train
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            x_fake = self.d_view(fake, self.noise_sigma())
            with self.autocast:
                d_out = self.D(x_fake, labels).float()
            loss_g = self.loss.g(d_out.reshape(-1))
            total, stats = loss_g, {}
            if t.pl_weight > 0 and self.step % t.pl_interval == 0:
                # Lazy path length regularisation (StyleGAN2) on half a batch of new latents.
                n = max(self.local_batch // 2, 1) * self.world.size
                z = self.latents(n)
                with self.autocast:
                    pl = self.G.path_length_penalty(z, None if labels is None else labels[:len(z)])
                total = total + t.pl_weight * t.pl_interval * pl
                stats["pl"] = pl.detach()
            skip = t.gate_g is not None and self.world.mean(loss_g).item() < t.gate_g
            if not skip:
                self.opt_G.zero_grad(set_to_none=True)
                total.backward()
                self.world.mean_grads_(self.G.parameters())
                self.opt_G.step()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        return {"loss_g": loss_g.detach(), "g_skipped": torch.tensor(float(skip)), **stats}

    # ---- rollback after divergence ------------------------------------------------------------
    def scale_learning_rates(self, factor: float) -> None:
        """Multiply both learning rates by `factor` (remembered in the trainer state)."""
        self.lr_scale *= factor
        self.apply_lr_scale()

    def apply_lr_scale(self) -> None:
        t = self.cfg.train
        for opt, lr in ((self.opt_G, t.lr_g), (self.opt_D, t.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * self.lr_scale

    def finite(self) -> bool:
        """True when every weight of G, D and G_ema is finite."""
        return all(bool(torch.isfinite(p).all())
                   for m in (self.G, self.D, self.G_ema) for p in m.parameters())

    def capture(self) -> dict:
        """A copy, on the CPU (no extra GPU memory), of everything `restore` needs."""
        return cpu_copy({"G": self.G.state_dict(), "D": self.D.state_dict(),
                         "G_ema": self.G_ema.state_dict(), "trainer": self.state_dict()})

    def restore(self, saved: dict) -> None:
        """Go back to a state from `capture` or from a snapshot on disk (same layout)."""
        for name in ("G", "D", "G_ema"):
            getattr(self, name).load_state_dict(saved[name])
        # A copy: Adam's load_state_dict may keep CPU tensors as they are and then update them
        # in place, which would change `saved` (the start state may be restored again).
        self.load_state_dict(cpu_copy(saved["trainer"]))
        self.apply_lr_scale()

    # ---- sampling and state ------------------------------------------------------------------
    def prepare_ema_for_sampling(self) -> nn.Module:
        """G_ema with batch-norm statistics re-estimated for its weights, in eval mode."""
        recalibrate_batchnorm(self.G_ema, self.cfg.model.z_dim,
                              num_classes=self.cfg.model.num_classes)
        return self.G_ema

    def state_dict(self) -> dict:
        """Trainer state for trainer.pt: only tensors, numbers and dicts (weights_only-safe).
        With many processes every one must call it (the augmentation streams are gathered);
        what the main process returns is complete: the whole-batch streams are the same on
        every process, and `aug_ranks` holds each process's augmentation stream (None on the
        others: their state is for their own rollback only)."""
        aug_ranks = self.world.gather(self.rng["aug"].get_state())   # None off the main one
        return {"images_seen": self.images_seen, "step": self.step, "lr_scale": self.lr_scale,
                "world_size": self.world.size, "aug_ranks": aug_ranks,
                "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "rng": {k: g.get_state() for k, g in self.rng.items()},
                # Random noise inputs and style mixing of StyleGAN2 draw from torch's own RNG.
                "torch_rng": torch.get_rng_state(),
                # This process's GPU only: every process draws alike on its own GPU, so the
                # first one's state is every one's (the states of the others' GPUs are not).
                "cuda_rng": ([torch.cuda.get_rng_state(self.device)]
                             if self.device.type == "cuda" else []),
                "ada": self.ada.state_dict() if self.ada is not None else {},
                "bank": self.bank.state_dict()}

    def aug_state(self, state: dict) -> Tensor:
        """This process's augmentation stream from a saved state: its own when the run had a
        process of this rank, else a new one seeded by the seed, the rank and the images seen
        (a run resumed on more processes than it had)."""
        if "aug_ranks" in state and state["aug_ranks"] is None:
            return state["rng"]["aug"]                  # this process's own capture()
        saved = state.get("aug_ranks") or [state["rng"]["aug"]]    # [] or absent: one process
        if self.world.rank < len(saved):
            return saved[self.world.rank]
        seed = (self.cfg.train.seed * 8 + STREAMS.index("aug")
                + AUG_RANK_OFFSET * self.world.rank + self.images_seen)
        return torch.Generator().manual_seed(seed).get_state()

    def load_state_dict(self, state: dict) -> None:
        self.images_seen, self.step = int(state["images_seen"]), int(state["step"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        for k, g in self.rng.items():
            g.set_state(state["rng"][k])
        self.rng["aug"].set_state(self.aug_state(state))
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and len(state["cuda_rng"]) == 1:
            torch.cuda.set_rng_state(state["cuda_rng"][0], self.device)
        elif self.device.type == "cuda" and state["cuda_rng"]:     # older: every GPU's
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"], first=self.world.main)
        self.bank.load_state_dict(state["bank"])
