"""Projection: find the latent whose picture is closest to a given image.

The idea follows Karras et al. 2020 (StyleGAN2, section 5) and NVlabs' projector; the code is
ganvas's own.

- A family with a w space (StyleGAN2) optimises w. It starts at w_avg, estimated from
  W_AVG_SAMPLES mapped random z (of the class asked for; of every class for a conditional model
  without one, starting from the class average closest to the target). By default ONE w is
  optimised and used for every layer (space "w", as NVlabs): the result stays in the part of W
  the mapping network produces, so it interpolates and edits well. `w_plus` optimises one w per
  layer (space "w+"): closer reconstructions, less well-behaved latents. The per-layer noise
  inputs stay the model's constant noise (noise_mode "const") and are not optimised: the latents
  file holds only w, and with the same noise it reproduces the reconstruction exactly.
- The other families optimise z. They start from the closest of `starts` seeded random z
  (with the class asked for, or classes 0, 1, 2, ... in turn) and a prior term
  prior_weight * (|z| / sqrt(z_dim) - 1)^2 keeps z near the shell where Gaussian latents live
  (the generator never saw latents far from it).
- Both: Adam (betas 0.9, 0.999); the learning rate ramps up over the first lr_rampup of the
  steps and down (cosine) over the last lr_rampdown; Gaussian noise of noise * latent scale
  (|w - w_avg| RMS, or sqrt(z_dim)) is added to the latent in each step, fading to 0 (squared)
  at noise_ramp of the steps, which shakes the latent out of poor local minima early on.

The distance is latent.perceptual's: VGG-16 features when available, else a Laplacian-pyramid
pixel loss. Images are float (N, C, H, W) in [-1, 1] inside, uint8 (N, H, W, C) at the edge.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.images import load_image
from ..errors import GanvasError
from ..durable import atomic_save, removed_on_failure
from ..imaging import make_grid, save_png, to_uint8
from ..limits import check_seed
from .keyframes import save_latents
from .perceptual import Distance, build_distance
from ..outputs import check_scale
from .video import check_fps, gif_fits, write_gif, write_mp4

W_AVG_SAMPLES = 10_000
START_CHUNK = 16            # candidate starts rendered and compared per batch
MAX_STEPS = 100_000


@dataclass
class ProjectOptions:
    """How to project (see the module docstring).
    steps: optimisation steps (1-100000); seed: all randomness (starts, w_avg samples, noise);
    label: class (name or index) of a conditional model, None = choose the closest start;
    w_plus: StyleGAN2, one w per layer; lr: Adam's peak learning rate; noise, noise_ramp,
    lr_rampup, lr_rampdown: fractions as described above; prior_weight, starts: z only."""
    steps: int = 1000
    seed: int = 0
    label: int | str | None = None
    w_plus: bool = False
    lr: float = 0.1
    noise: float = 0.05
    noise_ramp: float = 0.75
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    prior_weight: float = 0.1
    starts: int = 64

    def check(self, sampler) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise GanvasError(f"steps must be from 1 to {MAX_STEPS}, not {self.steps}")
        check_seed(self.seed)
        if self.w_plus:
            sampler.need("w_space", "w+ projection")
        if self.label is not None:
            sampler.class_index(self.label)          # a clear error for a bad class
        if self.starts < 1 or self.lr <= 0:
            raise GanvasError("starts must be >= 1 and lr > 0")


def load_targets(sampler, paths: list) -> torch.Tensor:
    """Image files -> float (K, C, H, W) in [-1, 1] at the model's shape and channels,
    prepared as `ganvas prepare` does (centre crop to the model's aspect, LANCZOS resize, alpha
    on white unless the
    model has 4 channels). Any unusable file is a GanvasError naming it."""
    if not paths:
        raise GanvasError("give at least one target image")
    images = []
    for path in paths:
        loaded = load_image(path, sampler.resolution, sampler.channels, min_size=1,
                            aspect=sampler.aspect)
        if not loaded.ok:
            detail = f" ({loaded.detail})" if loaded.detail else ""
            raise GanvasError(f"cannot use {path} as a target: {loaded.reason}{detail}")
        images.append(loaded.pixels)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1


def saturate_like(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Images beyond [-1, 1] where the target is saturated the same way (0 or 255) are set to
    the target: they are saved as that very pixel, so nothing should pull them back."""
    over = ((targets >= 1) & (images > 1)) | ((targets <= -1) & (images < -1))
    return torch.where(over, targets, images)


def lr_at(t: float, o: ProjectOptions) -> float:
    """Learning rate at progress t in [0, 1): linear ramp-up, cosine ramp-down."""
    down = min(1.0, (1.0 - t) / o.lr_rampdown) if o.lr_rampdown > 0 else 1.0
    up = min(1.0, t / o.lr_rampup) if o.lr_rampup > 0 else 1.0
    return o.lr * (0.5 - 0.5 * math.cos(down * math.pi)) * up


class Projector:
    """Optimises one latent per target image. latent: StyleGAN2 (K, 1 or num_ws, w_dim),
    else z (K, z_dim); labels: int64 (K,) or None; scale: the latent's typical length."""

    def __init__(self, sampler, targets: torch.Tensor, distance: Distance, options: ProjectOptions):
        self.sampler, self.G, self.o, self.distance = sampler, sampler.G, options, distance
        self.device = sampler.device
        self.in_w = sampler.capabilities.default_space() == "w"
        self.gen = torch.Generator().manual_seed(options.seed)
        self.targets = targets.to(self.device)
        with torch.no_grad():
            self.target_features = distance.features(self.targets)
        start, self.labels, self.scale, self.start_distance = self.pick_starts()
        self.latent = start.clone().requires_grad_(True)
        self.opt = torch.optim.Adam([self.latent], lr=options.lr, betas=(0.9, 0.999))

    def randn(self, *shape: int) -> torch.Tensor:
        """Seeded normal noise, drawn on the CPU (the same numbers on every device)."""
        return torch.randn(*shape, generator=self.gen).to(self.device)

    def render(self, latent: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """latent -> images float (K, C, H, W), differentiable."""
        if self.in_w:
            return self.G.from_w(latent.expand(-1, self.G.num_ws, -1), "const")
        return self.G.synthesize(latent, labels)

    def distances(self, images: torch.Tensor) -> torch.Tensor:
        """(K,) distance of each image to its target."""
        images = saturate_like(images, self.targets)
        return self.distance.between(self.distance.features(images), self.target_features)

    @torch.no_grad()
    def pick_starts(self):
        """Per target the closest candidate start: -> (latent, labels, scale, distances)."""
        cands, cand_labels, scale = (self.w_starts() if self.in_w else self.z_starts())
        columns = []
        for i in range(0, len(cands), START_CHUNK):      # VGG activations of 64 starts are big
            images = self.render(cands[i:i + START_CHUNK],
                                 None if cand_labels is None else cand_labels[i:i + START_CHUNK])
            feats = self.distance.features(images)
            rows = []
            for k in range(len(self.targets)):
                seen = saturate_like(images, self.targets[k:k + 1])
                own = feats if torch.equal(seen, images) else self.distance.features(seen)
                rows.append(self.distance.between(own, [f[k:k + 1]
                                                        for f in self.target_features]))
            columns.append(torch.stack(rows))
        d = torch.cat(columns, dim=1)                                          # (K, S)
        best = d.argmin(dim=1)
        start = cands[best]
        if self.in_w and self.o.w_plus:
            start = start.repeat(1, self.G.num_ws, 1)
        labels = None if cand_labels is None else cand_labels[best]
        return start, labels, scale, d.gather(1, best[:, None])[:, 0].cpu()

    def candidate_labels(self, n: int) -> torch.Tensor | None:
        if not self.sampler.num_classes:
            return None
        if self.o.label is not None:
            return torch.full((n,), self.sampler.class_index(self.o.label), dtype=torch.int64)
        return torch.arange(n, dtype=torch.int64) % self.sampler.num_classes

    def z_starts(self):
        """`starts` seeded z (S, z_dim), their labels, and z's typical length sqrt(z_dim)."""
        labels = self.candidate_labels(self.o.starts)
        z = self.randn(self.o.starts, self.sampler.z_dim)
        return z, None if labels is None else labels.to(self.device), \
            math.sqrt(self.sampler.z_dim)

    def w_starts(self):
        """w_avg of each candidate class (S, 1, w_dim) (one when unconditional or a class is
        given), their labels, and the RMS length of w - w_avg."""
        classes = (self.candidate_labels(self.sampler.num_classes) if self.o.label is None
                   else self.candidate_labels(1))
        n_cls = 1 if classes is None else len(classes)
        per = max(1000, W_AVG_SAMPLES // n_cls)
        avgs, sq = [], []
        for c in range(n_cls):
            z = self.randn(per, self.sampler.z_dim)
            lab = None if classes is None else classes[c].repeat(per).to(self.device)
            w = self.G.to_w(z, lab)[:, 0]                               # (per, w_dim)
            avgs.append(w.mean(dim=0))
            sq.append((w - avgs[-1]).square().sum(dim=1).mean())
        scale = float(torch.stack(sq).mean().sqrt())
        labels = None if classes is None else classes.to(self.device)
        return torch.stack(avgs)[:, None], labels, scale

    def step(self, i: int) -> torch.Tensor:
        """One Adam step at step i of `steps`; returns the (K,) distances before it."""
        o = self.o
        t = i / o.steps
        for group in self.opt.param_groups:
            group["lr"] = lr_at(t, o)
        noise_scale = self.scale * o.noise * max(0.0, 1.0 - t / o.noise_ramp) ** 2
        noisy = self.latent + self.randn(*self.latent.shape) * noise_scale
        d = self.distances(self.render(noisy, self.labels))
        loss = d.sum()
        if not self.in_w:
            shell = self.latent.norm(dim=1) / math.sqrt(self.sampler.z_dim) - 1
            loss = loss + o.prior_weight * shell.square().sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return d.detach()

    @torch.no_grad()
    def current(self) -> torch.Tensor:
        """The images of the current latents (no noise) float (K, C, H, W) on the CPU."""
        return self.render(self.latent, self.labels).float().cpu()

    def run(self, progress: bool = False, frames: bool = False, callback=None):
        """Optimise, a generator: with `frames` it yields the current images float
        (K, C, H, W) before the first step and after every step (steps + 1 in all), else
        nothing (iterate it to run). callback(step, steps, mean distance) after each step."""
        if frames:
            yield self.current()
        with tqdm(total=self.o.steps, unit="step", desc="project",
                  disable=not progress) as bar:
            for i in range(self.o.steps):
                d = self.step(i)
                bar.update()
                if i % 10 == 0 or i == self.o.steps - 1:
                    bar.set_postfix(distance=f"{float(d.mean()):.4f}")
                if callback is not None:
                    callback(i + 1, self.o.steps, float(d.mean()))
                if frames:
                    yield self.current()

    def result(self) -> dict[str, torch.Tensor]:
        """The latents as a latents file stores them: {"w": (K, w_dim) or (K, num_ws, w_dim)}
        for StyleGAN2, else {"z": (K, z_dim)} [+ "labels" (K,)]."""
        latent = self.latent.detach().float().cpu()
        if self.in_w:
            return {"w": latent if self.o.w_plus else latent[:, 0]}
        out = {"z": latent}
        if self.labels is not None:
            out["labels"] = self.labels.cpu()
        return out

    def final_images(self) -> torch.Tensor:
        """The result rendered exactly as a walk renders its keyframes (the sampler's chunked calls,
        noise const): float (K, C, H, W) on the CPU."""
        latent = self.latent.detach().float().cpu()
        if self.in_w:
            return self.sampler.images_from_w(latent.expand(-1, self.G.num_ws, -1).contiguous())
        return self.sampler.images(latent, None if self.labels is None else self.labels.cpu())


def pixel_mse(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(K,) mean squared error of float (K, C, H, W) images, clamped to [-1, 1] as they are
    saved, against the targets."""
    return (images.clamp(-1, 1) - targets).square().mean(dim=(1, 2, 3))


def sig(x) -> float:
    """A float rounded to 6 significant digits (for the JSON)."""
    return float(f"{float(x):.6g}")


def side_by_side(targets: np.ndarray, images: np.ndarray) -> np.ndarray:
    """uint8 (K, H, W, C) twice -> one uint8 picture: a row per target, target on the left."""
    pairs = np.stack([targets, images], axis=1).reshape(-1, *targets.shape[1:])
    return make_grid(pairs, cols=2, pad=1)


def project(sampler, targets: list, out: str | os.PathLike, options: ProjectOptions,
            feature_weights: str | os.PathLike | None = None, video: str | None = None,
            fps: float = 30, scale: int = 1, progress: bool = True, callback=None) -> dict:
    """Project the image files `targets` into the latent space of `sampler`'s model; write
    into folder `out` latent.npz (one row per target; ganvas.latent.keyframes format),
    reconstruction.png
    (targets left, reconstructions right, `scale` times enlarged), projection.json (the
    returned dict) and, when `video` names a file (.mp4 or .gif), the optimisation as a video
    at `fps`, one frame before and one after every step. callback(step, steps, distance) is
    called after every step."""
    options.check(sampler)
    check_scale(scale)
    if video is not None:
        check_fps(fps)
    if video is not None and Path(video).suffix.lower() not in (".mp4", ".gif"):
        raise GanvasError(f"the video must be an .mp4 or .gif, not {video!r}")
    x = load_targets(sampler, list(targets))
    out = Path(out)
    if video is not None and video.lower().endswith(".gif"):
        h, w = sampler.shape
        gif_fits(options.steps + 1, h * 2 + 1, w * len(x) + len(x), scale)
    started = time.perf_counter()
    distance = build_distance(vgg16_weights(feature_weights))
    if distance.info.get("fallback"):
        print(f"project: VGG-16 weights unavailable, using the {distance.name} pixel distance "
              f"instead ({distance.info['reason']})")
    if distance.net is not None:
        distance.net.to(sampler.device)
    proj = Projector(sampler, x, distance, options)
    target_u8 = to_uint8(x)
    start_mse = pixel_mse(proj.current(), x)
    with removed_on_failure(out):           # a failed projection leaves no new folder
        if video is None:
            for _ in proj.run(progress, callback=callback):
                pass
        else:
            frames = (side_by_side(target_u8, to_uint8(img))[None]
                      for img in proj.run(progress, frames=True, callback=callback))
            write = write_gif if video.lower().endswith(".gif") else write_mp4
            write(out / video, frames, fps=fps, scale=scale)
        final = proj.final_images()
        with torch.no_grad():
            dist = proj.distances(final.to(proj.device)).cpu()
        mse = pixel_mse(final, x)
        latents = proj.result()
        atomic_save(out / "latent.npz", lambda tmp: save_latents(tmp, **latents))
        save_png(side_by_side(target_u8, to_uint8(final)), out / "reconstruction.png", scale=scale)
        report = summary(sampler, targets, proj, options, distance, dist, mse, start_mse)
        report.update(seconds=round(time.perf_counter() - started, 2), latents="latent.npz",
                      reconstruction="reconstruction.png", video=video)
        atomic_save(out / "projection.json",
                    lambda tmp: Path(tmp).write_text(json.dumps(report, indent=1)))
    return report


def vgg16_weights(weights: str | os.PathLike | None) -> str | os.PathLike | None:
    """The VGG-16 weight file from `weights`: "PATH", or "vgg16=PATH" (the form eval's
    --feature-weights takes, so one habit works for both); another network's NAME=PATH is a
    GanvasError, since projection only uses VGG-16."""
    if not isinstance(weights, str):
        return weights
    name, sep, path = weights.partition("=")
    if sep and name.strip() == "vgg16":
        return path.strip()
    from ..metrics.extractors import EXTRACTORS
    if sep and name.strip() in EXTRACTORS.names():
        raise GanvasError(f"projection uses VGG-16 weights only, not {name.strip()}: give "
                          f"vgg16=PATH or PATH")
    return weights


def summary(sampler, targets: list, proj: Projector, options: ProjectOptions,
            distance: Distance, dist: torch.Tensor, mse: torch.Tensor,
            start_mse: torch.Tensor) -> dict:
    """projection.json: what was projected how, and per target the distances before (at the
    chosen start) and after; mse is over pixels in [-1, 1] (pixel_mse), psnr_db for that
    range (peak-to-peak 2)."""
    space = ("w+" if options.w_plus else "w") if proj.in_w else "z"
    labels = proj.labels.tolist() if proj.labels is not None else [None] * len(targets)
    rows = [{"target": str(t), "label": lab,
             "class": None if lab is None else sampler.class_names[lab],
             "start_distance": sig(d0), "distance": sig(d), "start_mse": sig(m0),
             "mse": sig(m),
             "psnr_db": round(10 * math.log10(4 / max(float(m), 1e-12)), 2)}
            for t, lab, d0, d, m0, m in zip(targets, labels, proj.start_distance, dist,
                                            start_mse, mse)]
    return {"model": sampler.name, "family": sampler.family, "space": space,
            "distance": {"name": distance.name, **distance.info},
            "options": asdict(options), "targets": rows}
