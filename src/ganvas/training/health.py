"""Training health: read every tick and raise flags for the failures people meet in practice
(their one-line hints: runfolder/hints.py). The loop writes the flags into stats.jsonl and the
console, and rolls back on non-finite losses.

- "nonfinite": a NaN or Inf loss or weight. The loop rolls back to the last good snapshot with
  lower learning rates, and stops after `max_rollbacks` of them.
- "d_won": D tells reals from fakes almost perfectly (mean accuracy >= D_WON_ACC) over the last
  RISING_TICKS + 1 ticks while G's loss rose over them: G gets no useful gradient any more.
- "mode_collapse": a fixed batch of fakes lost its diversity (its mean pairwise distance at
  16x16, relative to a fixed batch of reals, as the median of the last COLLAPSE_WINDOW ticks,
  fell under COLLAPSE_RATIO and under COLLAPSE_DROP of the best such median this run has
  seen), or it is near copies of one picture (that median under COLLAPSE_FLOOR) that D scores
  as real as the reals: G found one output that fools D.

Neither is raised in the first `warmup_kimg` of a run (--health-warmup-kimg): in healthy runs an
untrained G is not diverse either and D wins the first rounds. Measured on real runs (64 px
dcgan-tiny and the demo's 32 px dcgan on the emoji, 64 px dcgan-tiny on 200 glyphs): their
diversity is 0.05-0.11 for up to 10 kimg while D wins (D(real) > D(fake)), then 0.25-0.8; a
collapsed run (G's learning rate 500 times D's, no augmentation) stays at 0.05-0.12 with
D(fake) > D(real) from its first kimg. tests/training/test_health_runs.py trains both kinds.
Whatever the flags, the end of a run says so when its samples are still near copies
(`still_near_copies`).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.batchnorm import has_batchnorm

D_WON_ACC = 0.98
RISING_TICKS = 3
COLLAPSE_RATIO = 0.5
COLLAPSE_DROP = 0.5
COLLAPSE_FLOOR = 0.15
COLLAPSE_WINDOW = 3         # ticks whose median diversity is judged (the demo dips for one)
PROBE_SIZE = 32            # fixed latents and reals used to measure diversity
PROBE_SEED = 0x5EED


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise L2 distance of images (N, C, H, W) in [-1, 1], compared at 16x16 so the
    number means the same at every resolution."""
    small = F.adaptive_avg_pool2d(images.float(), 16).flatten(1)
    n = len(small)
    if n < 2:
        return 0.0
    dist = torch.cdist(small, small)
    return float(dist.sum() / (n * (n - 1)))


@contextmanager
def side_effect_free(module: nn.Module):
    """Run `module` for a measurement without changing the training: its buffers (batch-norm
    statistics, StyleGAN2's w_avg) and torch's RNG are restored afterwards. A model with batch
    norm runs in training mode (batch statistics, as it trains); others run in eval mode (no
    style mixing, constant noise)."""
    has_bn = has_batchnorm(module)
    was_training = module.training
    buffers = [b.clone() for b in module.buffers()]
    rng = torch.get_rng_state()
    module.train(has_bn)
    try:
        yield
    finally:
        module.train(was_training)
        with torch.no_grad():
            for b, saved in zip(module.buffers(), buffers):
                b.copy_(saved)
        torch.set_rng_state(rng)


class Health:
    """Remembers the recent ticks and says which flags the newest one raises."""

    def __init__(self, reals: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None,
                 warmup_kimg: float = 5.0):
        """reals: a fixed batch (N, C, H, W) in [-1, 1]; z, labels: fixed latents for G."""
        self.real_diversity = diversity(reals)
        self.z, self.labels = z, labels
        self.warmup_kimg = warmup_kimg
        self.recent: list[dict] = []          # the last RISING_TICKS + 1 ticks' statistics
        self.window: list[float] = []         # the last COLLAPSE_WINDOW ticks' diversity
        self.best_typical = 0.0               # the best median of such a window so far
        self.ratio: float | None = None       # the newest tick's diversity

    def check(self, stats: dict, G: nn.Module) -> list[str]:
        """Flags raised by this tick's mean statistics and the current G."""
        values = [v for k, v in stats.items() if k.startswith("loss")]
        if not all(math.isfinite(v) for v in values):
            return ["nonfinite"]
        self.recent = (self.recent + [stats])[-(RISING_TICKS + 1):]
        ratio = self.ratio = self.diversity_ratio(G)
        stats["diversity"] = round(ratio, 4)
        # The diversity of the last COLLAPSE_WINDOW ticks, by their median (the larger middle
        # one of two): one tick's dip or spike (healthy runs have both) decides nothing.
        self.window = (self.window + [ratio])[-COLLAPSE_WINDOW:]
        typical = sorted(self.window)[len(self.window) // 2]
        self.best_typical = max(self.best_typical, typical)
        dropped = typical < COLLAPSE_RATIO and typical < COLLAPSE_DROP * self.best_typical
        fooled = stats.get("d_fake", -math.inf) >= stats.get("d_real", math.inf)
        if stats["kimg"] < self.warmup_kimg:
            return []
        flags = []
        if self.d_won():
            flags.append("d_won")
        if dropped or (typical < COLLAPSE_FLOOR and fooled):
            flags.append("mode_collapse")
        return flags

    def d_won(self) -> bool:
        """D near perfect over the last RISING_TICKS + 1 ticks (their mean accuracy), G's loss
        higher at the end of them than at the start."""
        ticks = self.recent
        return (len(ticks) > RISING_TICKS
                and sum(t.get("d_acc", 0.0) for t in ticks) / len(ticks) >= D_WON_ACC
                and ticks[-1]["loss_g"] > ticks[0]["loss_g"])

    def still_near_copies(self) -> float | None:
        """The newest diversity when the samples are near copies of each other (early or
        collapsed: either way the pictures are not what the data holds yet), else None."""
        if self.ratio is None or self.ratio >= COLLAPSE_FLOOR:
            return None
        return self.ratio

    @torch.no_grad()
    def diversity_ratio(self, G: nn.Module) -> float:
        """Diversity of G's fakes on the fixed latents over that of the fixed reals."""
        device = next(G.parameters()).device
        labels = None if self.labels is None else self.labels.to(device)
        with side_effect_free(G):
            fakes = G(self.z.to(device), labels)
        return diversity(fakes) / max(self.real_diversity, 1e-8)

    def reset(self) -> None:
        """Forget the history (after a rollback)."""
        self.recent = []
        self.window = []
        self.best_typical = 0.0


def probe(bank, z_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor,
                                                        torch.Tensor | None]:
    """The fixed reals, latents and labels Health measures with (their own seed: drawing
    them never moves the training streams)."""
    gen = torch.Generator().manual_seed(PROBE_SEED)
    idx = torch.randperm(len(bank), generator=gen)[:PROBE_SIZE]
    reals = bank.images_at(idx)
    z = torch.randn(len(idx), z_dim, generator=gen)
    labels = torch.randint(num_classes, (len(idx),), generator=gen) if num_classes else None
    return reals, z, labels
