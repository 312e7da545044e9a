"""Typed configuration: one dataclass per concern, presets, and validation before any work.

A run's resolved configuration is `RunConfig` (model + training); it is saved as config.json in
the run directory and can be read back with `RunConfig.from_dict`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields

from .errors import ConfigError


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
    # StyleGAN2 only:
    w_dim: int = 512           # intermediate latent (style) size
    mapping_layers: int = 8    # depth of the mapping network z -> w
    mbstd_group: int = 4       # minibatch standard deviation group size in D
    num_fp16_res: int = 0      # on CUDA, the N highest resolutions of G and D run in float16
    conv_clamp: float | None = None  # clamp conv outputs to +-this (with float16; 256 in papers)

    def validate(self) -> None:
        from .models import MODELS                         # registry import, no cycle at load
        low, high = MODELS.get(self.family).resolutions
        if not is_power_of_two(self.resolution) or not low <= self.resolution <= high:
            raise ConfigError(f"resolution must be a power of two from {low} to {high} for "
                              f"{self.family}, not {self.resolution}")
        if self.channels not in (1, 3, 4):
            raise ConfigError(f"channels must be 1, 3 or 4, not {self.channels}")
        for name in ("z_dim", "g_width", "d_width", "max_width", "w_dim", "mapping_layers",
                     "mbstd_group"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.num_classes < 0:
            raise ConfigError("num_classes must be 0 (unconditional) or more")
        if self.d_norm not in D_NORMS:
            raise ConfigError(f"unknown d-norm {self.d_norm!r}; choose from {', '.join(D_NORMS)}")


D_NORMS = ("batch", "layer", "none")
AUGMENT_MODES = ("none", "ada", "fixed", "diffaug")
DEFAULT_DIFFAUG = "color,translation,cutout"
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
    r1_interval: int = 1               # lazy R1: every N D steps, scaled by N (StyleGAN2: 16)
    pl_weight: float = 0.0             # path length regularisation of G (StyleGAN2; 0 = off)
    pl_interval: int = 4               # lazy path length: every N G steps, scaled by N
    style_mixing: float = 0.0          # style-mixing regularisation probability (StyleGAN2)
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
        if self.gp_lambda < 0 or self.r1_gamma < 0 or self.pl_weight < 0:
            raise ConfigError("gp-lambda, r1-gamma and pl-weight must not be negative")
        if self.r1_interval < 1 or self.pl_interval < 1:
            raise ConfigError("r1-interval and pl-interval must be at least 1")
        if not 0 <= self.style_mixing <= 1:
            raise ConfigError("style-mixing must be a probability in [0, 1]")
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
    """Augmentation of what D sees: ADA's pipeline or DiffAugment on reals and fakes, classic
    augmentation on reals only."""

    mode: str = "none"                 # none, ada (adaptive p), fixed (constant p), diffaug
    p: float = 0.0                     # augmentation probability (ada: its starting value)
    target: float = 0.6                # ada: the r_t = E[sign(D(real))] it steers towards
    augpipe: str = "bgc"               # ada/fixed: the pipeline (bgc, bgcfnc, b, g, c, ...)
    ada_kimg: float = 500.0            # ada: p can move from 0 to 1 in this many kimg
    ada_interval: int = 4              # ada: adjust p every this many D steps
    diffaug: str = ""                  # DiffAugment policy, e.g. "color,translation,cutout"
    classic: bool = False              # classic augmentation of the reals (tiny datasets)
    crop: float = 0.8                  # classic: random resized crop keeps [crop, 1] of a side
    rotate: float = 15.0               # classic: rotation up to +-this many degrees
    shear: float = 10.0                # classic: shear up to +-this many degrees
    brightness: float = 0.2            # classic: brightness shift up to +-this (in [-1, 1] units)
    contrast: float = 0.2              # classic: contrast factor in [1 - this, 1 + this]

    def validate(self) -> None:
        from .augment import parse_policy, validate_classic   # registry import, no cycle at load
        from .augment.ada import PIPES
        if self.mode not in AUGMENT_MODES:
            raise ConfigError(f"unknown --aug {self.mode!r}; choose from "
                              f"{', '.join(AUGMENT_MODES)}")
        if self.mode == "diffaug" and not self.diffaug:
            self.diffaug = DEFAULT_DIFFAUG
        parse_policy(self.diffaug)
        if self.mode in ("ada", "fixed") and self.diffaug:
            raise ConfigError("use either ADA (--aug ada/fixed) or DiffAugment (--diffaug), "
                              "not both")
        if self.augpipe not in PIPES:
            raise ConfigError(f"unknown --augpipe {self.augpipe!r}; choose from "
                              f"{', '.join(PIPES)}")
        if not 0 <= self.p <= 1 or not 0 <= self.target <= 1:
            raise ConfigError("--p and --target must be in [0, 1]")
        if self.ada_kimg <= 0 or self.ada_interval < 1:
            raise ConfigError("ada-kimg must be positive and ada-interval at least 1")
        validate_classic(**self.classic_params())

    def classic_params(self) -> dict:
        return {"crop": self.crop, "rotate": self.rotate, "shear": self.shear,
                "brightness": self.brightness, "contrast": self.contrast}


@dataclass
class MetricsConfig:
    """Metrics measured during training (metrics.jsonl) and the snapshot kept as `best`."""

    metrics: str = ""                  # comma-separated METRICS names; "" = none
    every_kimg: float = 0.0            # measure every N kimg; 0 = at every snapshot
    num: int = 1000                    # generated images (and as many reals) per measurement
    best: str = ""                     # result key choosing checkpoints/best ("" = the first)
    extractor: str | None = None       # features for fid/kid/is/pr (None: the standard ones)
    feature_weights: str | None = None  # [NAME=]PATH of local weight files

    def names(self) -> list[str]:
        return [n.strip() for n in self.metrics.split(",") if n.strip()]

    def validate(self) -> None:
        from .metrics.evaluate import METRICS, extractor_plan   # registries, no cycle at load
        names = self.names()
        if not names:
            return
        for name in names:
            METRICS.get(name)
        extractor_plan(names, self.extractor)
        if self.num < 2:
            raise ConfigError(f"metrics num must be at least 2, got {self.num}")
        if self.every_kimg < 0:
            raise ConfigError(f"metrics every_kimg must be >= 0, got {self.every_kimg}")
        ranked = [k for n in names for k in METRICS.get(n).better]
        if self.best and self.best not in ranked:
            raise ConfigError(f"--best-metric {self.best!r} is not measured; choose from: "
                              f"{', '.join(ranked)}")

    def best_key(self) -> str | None:
        """The result key that picks the best snapshot (None when no metrics are measured)."""
        from .metrics.evaluate import METRICS
        names = self.names()
        return self.best or (next(iter(METRICS.get(names[0]).better)) if names else None)


@dataclass
class RunConfig:
    """Everything a run needs; the content of config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        self.augment.validate()
        self.metrics.validate()
        self.check_combination()

    def check_combination(self) -> None:
        """Options that are valid alone but not together."""
        from .losses import LOSSES                             # registry import, no cycle at load
        from .models import check_options
        check_options(self.model, self.train)                  # what the family cannot do
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
        unknown = set(d) - {"model", "train", "augment", "metrics"}
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        return cls(model=build(ModelConfig, d.get("model", {})),
                   train=build(TrainConfig, d.get("train", {})),
                   augment=build(AugmentConfig, d.get("augment", {})),
                   metrics=build(MetricsConfig, d.get("metrics", {})))


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


# Presets live in presets.py; imported here so `from ganvas.config import preset_config` works.
from .presets import FROM_DATA, PRESETS, preset_config  # noqa: E402,F401
