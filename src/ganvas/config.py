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
    num_classes: int = 0       # 0 = unconditional; -1 in a preset = "from the dataset's labels"
    z_dim: int = 100           # latent size
    g_width: int = 64          # G channels at its last (highest-resolution) hidden layer
    d_width: int = 64          # D channels at its first layer
    max_width: int = 512       # cap on channels at low resolutions
    d_norm: str = "batch"      # D's normalisation: batch, layer (per-sample) or none
    spectral_norm: bool = False  # spectral normalisation of D's weights (Miyato et al. 2018)

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
        if self.d_norm not in D_NORMS:
            raise ConfigError(f"unknown d-norm {self.d_norm!r}; choose from {', '.join(D_NORMS)}")


D_NORMS = ("batch", "layer", "none")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """How to train: data, length, optimisation and the tricks; saved in config.json."""

    data: str = ""                     # archive path, image folder or demo:NAME
    preset: str = "dcgan"              # preset the defaults came from
    loss: str = "nonsaturating"        # registered loss (ganvas.losses.LOSSES)
    n_critic: int = 1                  # D steps per G step (WGAN-GP: 5)
    gp_lambda: float = 10.0            # weight of the gradient penalty (losses that use one)
    r1_gamma: float = 0.0              # R1 penalty on reals, gamma/2 * |grad D(x)|^2 (0 = off)
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
    label_noise: float = 0.0           # fraction of D's real/fake labels flipped each step
    gate_d: float | None = None        # skip D's update while its loss is under this
    gate_g: float | None = None        # skip G's update while its loss is under this
    instance_noise: float = 0.0        # std of Gaussian noise added to D's inputs at kimg 0 ...
    instance_noise_kimg: float = 50.0  # ... annealed linearly to 0 over this many kimg
    ema_kimg: float = 10.0             # half-life of G_ema in kimg ...
    ema_rampup: float | None = 0.05    # ... capped at this fraction of the images seen so far
    grid_size: int = 64                # images in the snapshot grids (seeds 0..grid_size-1)
    device: str = "auto"               # auto, cpu, cuda, cuda:N or mps
    precision: str = "fp32"            # fp32, or bf16 autocast for G and D (AVX-512/AMX, GPUs)
    init_from: str | None = None       # fine-tune: start from this model's G, G_ema and D
    freeze_d: int = 0                  # keep D's first N blocks frozen (FreezeD, Mo et al. 2020)
    max_rollbacks: int = 3             # NaN/Inf losses: roll back this many times, then stop

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
        if not 0 <= self.label_noise < 0.5:
            raise ConfigError("label noise must be in [0, 0.5)")
        if self.n_critic < 1:
            raise ConfigError("n-critic must be at least 1")
        if self.gp_lambda < 0 or self.r1_gamma < 0:
            raise ConfigError("gp-lambda and r1-gamma must not be negative")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; "
                              f"choose from {', '.join(PRECISIONS)}")
        if self.freeze_d < 0 or self.max_rollbacks < 0:
            raise ConfigError("freeze-d and max-rollbacks must not be negative")
        if self.instance_noise < 0 or self.instance_noise_kimg <= 0:
            raise ConfigError("instance noise and its annealing length must be positive")
        if self.keep_snapshots < 1:
            raise ConfigError("keep-snapshots must be at least 1")
        if not 1 <= self.grid_size <= 1024:
            raise ConfigError("grid size must be from 1 to 1024")


@dataclass
class AugmentConfig:
    """Augmentation of what D sees: DiffAugment on reals and fakes, classic on reals only."""

    diffaug: str = ""                  # DiffAugment policy, e.g. "color,translation,cutout"
    classic: bool = False              # classic augmentation of the reals (tiny datasets)
    crop: float = 0.8                  # classic: random resized crop keeps [crop, 1] of a side
    rotate: float = 15.0               # classic: rotation up to +-this many degrees
    shear: float = 10.0                # classic: shear up to +-this many degrees
    brightness: float = 0.2            # classic: brightness shift up to +-this (in [-1, 1] units)
    contrast: float = 0.2              # classic: contrast factor in [1 - this, 1 + this]

    def validate(self) -> None:
        from .augment import parse_policy, validate_classic   # registry import, no cycle at load
        parse_policy(self.diffaug)
        validate_classic(**self.classic_params())

    def classic_params(self) -> dict:
        return {"crop": self.crop, "rotate": self.rotate, "shear": self.shear,
                "brightness": self.brightness, "contrast": self.contrast}


@dataclass
class RunConfig:
    """Everything a run needs; the content of config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        self.augment.validate()
        self.check_combination()

    def check_combination(self) -> None:
        """Options that are valid alone but not together."""
        from .losses import LOSSES                             # registry import, no cycle at load
        loss = LOSSES.get(self.train.loss)
        if loss.gradient_penalty and self.model.d_norm == "batch":
            raise ConfigError(f"loss {self.train.loss} penalises D's gradient per sample, which "
                              f"batch norm mixes; use --d-norm layer or none")
        if not loss.soft_targets and self.train.label_smoothing > 0:
            raise ConfigError(f"label smoothing needs a loss with targets (nonsaturating or "
                              f"least-squares), not {self.train.loss}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Rebuild from config.json; unknown keys are a ConfigError naming them."""
        unknown = set(d) - {"model", "train", "augment"}
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        return cls(model=build(ModelConfig, d.get("model", {})),
                   train=build(TrainConfig, d.get("train", {})),
                   augment=build(AugmentConfig, d.get("augment", {})))


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


# A preset is the defaults of one recipe: {"model": {...}, "train": {...}} overrides. Every
# preset NAME has a NAME-tiny twin (a quarter of the width, batch 32) for tests and laptop CPUs.
PRESETS: Registry[dict] = Registry("model")
TINY = {"model": {"z_dim": 64, "g_width": 16, "d_width": 16, "max_width": 128},
        "train": {"batch": 32}}
FROM_DATA = -1          # num_classes of conditional presets: the dataset's number of classes


def register_preset(name: str, model: dict, train: dict) -> None:
    """Register preset `name` and its `name-tiny` twin."""
    PRESETS.register(name)({"model": model, "train": train})
    PRESETS.register(f"{name}-tiny")({"model": {**model, **TINY["model"]},
                                      "train": {**train, **TINY["train"]}})


# Radford et al. 2015: Adam(2e-4, beta1 0.5); batch 128 in the paper, 64 suits one GPU or CPU.
DCGAN = ({"family": "dcgan", "z_dim": 100, "g_width": 64, "d_width": 64},
         {"loss": "nonsaturating", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
          "batch": 64})
# Gulrajani et al. 2017: no batch norm in the critic (layer norm, their recommended drop-in),
# lambda 10, 5 critic steps per G step, Adam(1e-4, beta1 0, beta2 0.9), batch 64, z of 128.
WGAN_GP = ({"family": "dcgan", "z_dim": 128, "g_width": 64, "d_width": 64, "d_norm": "layer"},
           {"loss": "wgan-gp", "gp_lambda": 10.0, "n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4,
            "beta1": 0.0, "beta2": 0.9, "batch": 64})
register_preset("dcgan", *DCGAN)
register_preset("wgan-gp", *WGAN_GP)
# Conditional twins (Mirza & Osindero 2014; projection D of Miyato & Koyama 2018): the same
# recipes with a class embedding in G and D; labels from `prepare --labels folders`.
register_preset("cgan", {**DCGAN[0], "num_classes": FROM_DATA}, DCGAN[1])
register_preset("cwgan-gp", {**WGAN_GP[0], "num_classes": FROM_DATA}, WGAN_GP[1])


def preset_config(name: str, model: dict | None = None, train: dict | None = None,
                  augment: dict | None = None) -> RunConfig:
    """RunConfig from preset `name` with user overrides (None values mean "not given")."""
    p = PRESETS.get(name)
    m = override(build(ModelConfig, p["model"]), model or {})
    t = override(build(TrainConfig, {**p["train"], "preset": name}), train or {})
    a = override(AugmentConfig(), augment or {})
    return RunConfig(model=m, train=t, augment=a)
