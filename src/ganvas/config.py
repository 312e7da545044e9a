"""Typed configuration: one dataclass per concern, presets, and validation before any work.

A run's resolved configuration is `RunConfig` (model + training); it is saved as config.json in
the run directory and can be read back with `RunConfig.from_dict`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields

from .errors import ConfigError
from .registry import Registry


def is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return isinstance(n, int) and n > 0 and n & (n - 1) == 0


@dataclass
class ModelConfig:
    """What a generator/discriminator pair is; stored in every checkpoint's model.json."""

    family: str = "dcgan"      # registered model family (ganvas.models.MODELS)
    resolution: int = 64       # output height = width, a power of two
    channels: int = 3          # 1 (grey), 3 (RGB) or 4 (RGBA)
    num_classes: int = 0       # 0 = unconditional
    z_dim: int = 100           # latent size
    g_width: int = 64          # G channels at its last (highest-resolution) hidden layer
    d_width: int = 64          # D channels at its first layer
    max_width: int = 512       # cap on channels at low resolutions

    def validate(self) -> None:
        if not is_power_of_two(self.resolution) or not 16 <= self.resolution <= 256:
            raise ConfigError(f"resolution must be a power of two from 16 to 256, "
                              f"not {self.resolution}")
        if self.channels not in (1, 3, 4):
            raise ConfigError(f"channels must be 1, 3 or 4, not {self.channels}")
        for name in ("z_dim", "g_width", "d_width", "max_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.num_classes < 0:
            raise ConfigError("num_classes must be 0 (unconditional) or more")


@dataclass
class TrainConfig:
    """How to train: data, length, optimisation and the tricks; saved in config.json."""

    data: str = ""                     # archive path, image folder or demo:NAME
    preset: str = "dcgan"              # preset the defaults came from
    loss: str = "nonsaturating"        # registered loss (ganvas.losses.LOSSES)
    kimg: float | None = 500.0         # stop after this many thousand real images shown to D
    minutes: float | None = None       # ... or after this many minutes of training
    batch: int = 64
    seed: int = 0
    snap_kimg: float = 10.0            # a checkpoint and a sample grid every this many kimg
    tick_kimg: float = 1.0             # a stats.jsonl line every this many kimg
    keep_snapshots: int = 3            # newest checkpoints kept (older ones are deleted)
    mirror: bool = False               # random x-flips of the reals
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    label_smoothing: float = 0.0       # one-sided: D's target for reals is 1 - this
    instance_noise: float = 0.0        # std of Gaussian noise added to D's inputs at kimg 0 ...
    instance_noise_kimg: float = 50.0  # ... annealed linearly to 0 over this many kimg
    ema_kimg: float = 10.0             # half-life of G_ema in kimg ...
    ema_rampup: float | None = 0.05    # ... capped at this fraction of the images seen so far
    grid_size: int = 64                # images in the snapshot grids (seeds 0..grid_size-1)
    device: str = "auto"               # auto, cpu, cuda, cuda:N or mps

    def validate(self) -> None:
        if self.kimg is not None and self.minutes is not None:
            raise ConfigError("give either --kimg or --minutes, not both")
        if self.kimg is not None and self.kimg <= 0:
            raise ConfigError("kimg must be positive")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError("minutes must be positive")
        if self.batch < 2:
            raise ConfigError("batch must be at least 2")
        for name in ("snap_kimg", "tick_kimg", "lr_g", "lr_d", "ema_kimg"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.replace('_', '-')} must be positive")
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ConfigError("Adam betas must be in [0, 1)")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError("label smoothing must be in [0, 0.5)")
        if self.instance_noise < 0 or self.instance_noise_kimg <= 0:
            raise ConfigError("instance noise and its annealing length must be positive")
        if self.keep_snapshots < 1:
            raise ConfigError("keep-snapshots must be at least 1")
        if not 1 <= self.grid_size <= 1024:
            raise ConfigError("grid size must be from 1 to 1024")


@dataclass
class RunConfig:
    """Everything a run needs; the content of config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Rebuild from config.json; unknown keys are a ConfigError naming them."""
        unknown = set(d) - {"model", "train"}
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        return cls(model=build(ModelConfig, d.get("model", {})),
                   train=build(TrainConfig, d.get("train", {})))


def build(cls, values: dict):
    """Instantiate dataclass `cls` from `values`, rejecting unknown keys with the valid ones."""
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} option(s) {', '.join(sorted(unknown))}; "
                          f"valid: {', '.join(sorted(names))}")
    return cls(**values)


def override(obj, values: dict):
    """A copy of dataclass `obj` with the non-None entries of `values` replaced."""
    return dataclasses.replace(obj, **{k: v for k, v in values.items() if v is not None})


# A preset is the defaults of one recipe: {"model": {...}, "train": {...}} overrides.
PRESETS: Registry[dict] = Registry("model")

PRESETS.register("dcgan")({
    # Radford et al. 2015: Adam(2e-4, beta1 0.5), batch 128 in the paper; 64 suits one GPU/CPU.
    "model": {"family": "dcgan", "z_dim": 100, "g_width": 64, "d_width": 64},
    "train": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "batch": 64},
})
PRESETS.register("dcgan-tiny")({
    # For tests and laptop CPUs: a quarter of the width, everything else as dcgan.
    "model": {"family": "dcgan", "z_dim": 64, "g_width": 16, "d_width": 16, "max_width": 128},
    "train": {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "batch": 32},
})


def preset_config(name: str, model: dict | None = None, train: dict | None = None) -> RunConfig:
    """RunConfig from preset `name` with user overrides (None values mean "not given")."""
    p = PRESETS.get(name)
    m = override(build(ModelConfig, p["model"]), model or {})
    t = override(build(TrainConfig, {**p["train"], "preset": name}), train or {})
    return RunConfig(model=m, train=t)
