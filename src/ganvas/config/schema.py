"""The configuration schema: one frozen dataclass per concern and the checks each can make alone.

A run's configuration is `RunConfig` (model, train, augment, metrics); it is saved as
config.json in the run directory and read back with `RunConfig.from_dict`. Each field is
declared with `option(...)` (its help, keyword and flag: config.options) or `internal(...)`.
`check` methods look only at the section's own values (types, bounds, known words); what needs
a registry (a family's resolutions and rules, a loss, a metric, an augmentation pipeline) is
checked by config.validation, which every configuration passes once (config.resolve).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields

from ..aspect import SQUARE, block_shape, image_shape
from ..errors import ConfigError
from ..limits import MAX_GENERATED, check_seed
from .options import Option, check_number, declared, internal, option


def check_numbers(section) -> None:
    """Every number field of dataclass `section` finite and not huge (options.check_number):
    the one check of NaN, inf and 1e300 for every section, whatever the value came from."""
    for f in fields(section):
        check_number(f.name.replace("_", "-"), getattr(section, f.name), "config")


def check_range(name: str, value: int | float, low: int | float, high: int | float) -> None:
    """A ConfigError unless low <= value <= high (counts and sizes with an upper bound)."""
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low:,} to {high:,}, not {value:,}")


MAX_WIDTH = 4096            # z_dim, w_dim and the channel widths
MAX_BATCH = 16384
MAX_CLASSES = 100_000


def check_widths(section, names: tuple[str, ...]) -> None:
    """Each named size of `section` from 1 to MAX_WIDTH (a ConfigError naming the first)."""
    for name in names:
        if getattr(section, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
        check_range(name.replace("_", "-"), getattr(section, name), 1, MAX_WIDTH)


def is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return isinstance(n, int) and n > 0 and n & (n - 1) == 0


D_NORMS = ("batch", "layer", "none")
AUTO = "auto"                # --aug auto: the preset's choice for the data's size (SMALL_DATA)
CONCRETE_AUGMENT_MODES = ("none", "ada", "fixed", "diffaug")
AUGMENT_MODES = (AUTO, *CONCRETE_AUGMENT_MODES)
DEFAULT_DIFFAUG = "color,translation,cutout"
# Below this many images `--aug auto` takes the preset's small-data augmentation. DiffAugment
# (Zhao et al. 2020) gains on CIFAR-10 at 10-20% of its 50k images and less; ADA (Karras et
# al. 2020) finds augmentation matters below tens of thousands of images; our measurement at
# 300 images: benchmarks/README.md (few_shot.py).
SMALL_DATA = 30_000
# FastGAN's D reconstruction distance (training.reconstruction); auto: config.resolve.settle.
REC_DISTANCES = (AUTO, "vgg16-lpips", "laplacian-l1")
PRECISIONS = (AUTO, "fp32", "bf16")    # auto: device.fast_precision, settled at the start
FROM_DATA = -1          # num_classes = the dataset's class count (conditional presets)


def classes_of(conditional: bool) -> int:
    """The `conditional` option -> num_classes: the dataset's count, or 0 (unconditional)."""
    return FROM_DATA if conditional else 0


@dataclass(frozen=True)
class ModelConfig:
    """What a generator/discriminator pair is; stored in every checkpoint's model.json."""

    family: str = internal("dcgan", "the preset's architecture (ganvas.models.MODELS)")
    resolution: int = option(64, "model resolution, a power of two (default: the dataset's)")
    channels: int = internal(3, "the dataset's: 1 (grey), 3 (RGB) or 4 (RGBA)")
    aspect: str = internal(SQUARE, "the dataset's width:height (ganvas.aspect); resolution is "
                                   "the short side")
    num_classes: int = option(0, "condition any preset on the dataset's class labels",
                              api="conditional", kind=bool, encode=classes_of)
    z_dim: int = option(100, "latent size")
    g_width: int = option(64, "G's channels at its last (highest-resolution) hidden layer")
    d_width: int = option(64, "D's channels at its first layer")
    max_width: int = option(512, "cap on the channels at low resolutions")
    d_norm: str = option("batch", "normalisation in D (per-sample layer norm for gradient "
                         "penalties)", choices=D_NORMS)
    spectral_norm: bool = option(False, "spectral normalisation of D's weights "
                                 "(Miyato et al. 2018)")
    # Read by the families that list them in Family.reads (StyleGAN2), which bound them and
    # own their rules (Family.check, Family.own_fp16); fields of this one flat record because
    # model.json and config.json store it as it is. A family that does not read them refuses
    # any value but the default (models.check_options).
    w_dim: int = option(512, "intermediate latent (style) size (StyleGAN2)")
    mapping_layers: int = option(8, "depth of the mapping network z -> w (StyleGAN2)")
    mbstd_group: int = option(4, "minibatch standard deviation group size in D (StyleGAN2)")
    num_fp16_res: int = option(0, "on CUDA, the N highest resolutions of G and D run in "
                               "float16 (StyleGAN2)", metavar="N")
    conv_clamp: float | None = option(None, "clamp conv outputs to +-this (with float16; 256 "
                                      "in the papers; StyleGAN2)")
    # StyleGAN3's (stylegan3-t, stylegan3-r).
    synthesis_layers: int = option(14, "layers of the synthesis network between the Fourier "
                                   "input and toRGB (StyleGAN3; 14 in the paper)", metavar="N")
    synthesis_margin: int = option(10, "pixels the synthesis maps extend beyond the picture on "
                                   "each side (StyleGAN3; 10 in the paper)", metavar="PX")
    magnitude_ema_beta: float = option(0.999, "decay per step of each synthesis layer's running "
                                       "input magnitude (StyleGAN3; 0.5 ** (batch / 20,000) "
                                       "in its recipe)")
    g_max_width: int | None = option(None, "cap on G's channels when it differs from D's "
                                     "max_width (StyleGAN3-R doubles G's; none: max_width)")

    def check(self, classes_from_data: bool = False) -> None:
        """A ConfigError for the first bad value the record shows by itself (the family's
        resolutions and rules: models.check_model); nothing is changed.
        classes_from_data: accept num_classes FROM_DATA, which training replaces with the
        dataset's count."""
        if not is_power_of_two(self.resolution):
            raise ConfigError(f"resolution must be a power of two, not {self.resolution}")
        block_shape(self.aspect)
        if self.channels not in (1, 3, 4):
            raise ConfigError(f"channels must be 1, 3 or 4, not {self.channels}")
        check_numbers(self)
        check_widths(self, ("z_dim", "g_width", "d_width", "max_width"))
        if self.num_classes < 0 and not (classes_from_data and self.num_classes == FROM_DATA):
            raise ConfigError("num_classes must be 0 (unconditional) or more")
        if self.num_classes > MAX_CLASSES:
            raise ConfigError(f"num_classes must be at most {MAX_CLASSES:,}, not "
                              f"{self.num_classes:,}")
        if self.d_norm not in D_NORMS:
            raise ConfigError(f"unknown d-norm {self.d_norm!r}; choose from {', '.join(D_NORMS)}")

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of the pictures: resolution is the short side, aspect W:H."""
        return image_shape(self.resolution, self.aspect)

    @property
    def block_shape(self) -> tuple[int, int]:
        """(H0, W0) of the first (lowest-resolution) block: 4 x 4 for a square model."""
        return block_shape(self.aspect)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data, length, optimisation and the tricks; saved in config.json."""

    data: str = internal("", "the DATA argument: archive path, image folder or demo:NAME")
    preset: str = internal("dcgan", "--model: the preset the defaults came from")
    preset_chosen_by: str = internal("", "why preset is what it is when --model was not given")
    loss: str = option("nonsaturating", "the GAN objective", registry="loss")
    n_critic: int = option(1, "D steps per G step (WGAN-GP: 5)")
    gp_lambda: float = option(10.0, "gradient penalty weight (losses that use one: wgan-gp)")
    r1_gamma: float = option(0.0, "R1 penalty on reals, gamma/2 * |grad D(x)|^2 (0 = off)")
    r1_interval: int = option(1, "lazy R1: every N D steps, scaled by N (StyleGAN2: 16)",
                              metavar="N")
    pl_weight: float = option(0.0, "path length regularisation of G (StyleGAN2; 0 = off)")
    pl_interval: int = option(4, "lazy path length regularisation: every N G steps",
                              metavar="N")
    style_mixing: float = option(0.0, "style-mixing regularisation probability (StyleGAN2)")
    kimg: float | None = option(500.0, "train until this many thousand real images were shown "
                                "to D", metavar="KIMG", exclusive="length")
    minutes: float | None = option(None, "... or for this many minutes", metavar="MINUTES",
                                   exclusive="length")
    batch: int = option(64, "images per batch")
    seed: int = option(0, "seed of the weights, the latents and the data order")
    snap_kimg: float = option(10.0, "a checkpoint and a sample grid every N kimg")
    tick_kimg: float = option(1.0, "a stats.jsonl line every N kimg")
    grid_minutes: float = option(1.0, "a sample grid by wall time too: N minutes in, then "
                                 "spaced out as the run grows (0 = only at snapshots)",
                                 metavar="N")
    snap_minutes: float = option(10.0, "a snapshot at least every N minutes too (0 = only "
                                 "every --snap-kimg)", metavar="N")
    health_warmup_kimg: float = option(5.0, "no d_won/mode_collapse warnings in a run's "
                                       "first N kimg (early G and D look like both)",
                                       metavar="N")
    print_seconds: float = option(15.0, "the console's tick line at most every S seconds "
                                  "(spaced out as the run grows; 0 = every tick)", metavar="S")
    keep_snapshots: int = option(3, "newest checkpoints kept (older ones are deleted)",
                                 metavar="N")
    mirror: bool = option(False, "random x-flips of the reals")
    lr_g: float = option(2e-4, "G's learning rate")
    lr_d: float = option(2e-4, "D's learning rate")
    beta1: float = option(0.5, "Adam's beta1 (G and D)")
    beta2: float = option(0.999, "Adam's beta2 (G and D)")
    label_smoothing: float = option(0.0, "one-sided: D's target for reals is 1 - this, e.g. 0.1")
    label_noise: float = option(0.0, "fraction of D's real/fake labels flipped each step, "
                                "e.g. 0.05")
    gate_d: float | None = option(None, "skip D's update while its loss is under this")
    gate_g: float | None = option(None, "skip G's update while its loss is under this")
    instance_noise: float = option(0.0, "std of Gaussian noise on D's inputs at the start ...")
    instance_noise_kimg: float = option(50.0, "... annealed linearly to 0 over this many kimg")
    blur_sigma: float = option(0.0, "std (px) of a Gaussian blur of every image D sees, at the "
                               "start ... (StyleGAN3-R: 10)")
    blur_fade_kimg: float = option(0.0, "... faded linearly to 0 over this many kimg "
                                   "(StyleGAN3-R: 200 batch / 32)")
    ema_kimg: float = option(10.0, "half-life of G_ema in kimg ...")
    ema_rampup: float | None = option(0.05, "... capped at this fraction of the images seen")
    grid_size: int = option(64, "images in the snapshot grids (seeds 0..N-1)", metavar="N")
    device: str = option("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    precision: str = option(AUTO, "auto (bf16 autocast on a CPU with native bfloat16 and on "
                            "CUDA GPUs with it, unless the model has its own float16 layers; "
                            "else fp32), fp32, or bf16", choices=PRECISIONS)
    precision_chosen_by: str = internal("", "why precision is what it is when auto chose it")
    threads: int = option(0, "CPU threads of a CPU run: 0 = auto (the cores other programs "
                          "leave free when it starts; a resumed run keeps its count)",
                          metavar="N")
    threads_chosen_by: str = internal("", "why threads is what it is when auto chose it")
    init_from: str | None = option(None, "fine-tune: start from this run's, snapshot's, "
                                   "imported folder's or NVlabs .pkl's G, G_ema and D (its "
                                   "ADA p and a snapshot's kimg carried on)", metavar="MODEL")
    freeze_d: int = option(0, "with --init-from: keep D's first N blocks frozen (FreezeD)",
                           metavar="N")
    start_kimg: float = internal(0.0, "with --init-from: the kimg the run counts on from (an "
                                 "NVlabs snapshot's, from its file name); kimg is this run's "
                                 "length on top of it")
    rec_distance: str = option(AUTO, "FastGAN's self-supervised D: the distance of its "
                               "reconstructions, auto (vgg16-lpips when VGG-16 weights are at "
                               "hand: GANVAS_WEIGHTS_VGG16 or the cache; else laplacian-l1), "
                               "vgg16-lpips, laplacian-l1")
    max_rollbacks: int = option(3, "NaN/Inf losses: roll back this many times, then stop",
                                metavar="N")

    def target_images(self) -> int | None:
        """The images seen at which a --kimg run ends: its start (a fine-tuned NVlabs
        snapshot's kimg, else 0) plus kimg; None for a --minutes run."""
        return None if self.kimg is None else round((self.start_kimg + self.kimg) * 1000)

    def threads_line(self) -> str | None:
        """The one line training says about CPU threads (None when auto left torch's)."""
        if not self.threads:
            return None
        why = f" ({self.threads_chosen_by}; --threads to choose)" if self.threads_chosen_by \
            else ""
        return f"threads: {self.threads}{why}"

    def precision_line(self) -> str:
        """The one line training says about precision, with why when auto chose it."""
        why = f" ({self.precision_chosen_by}; --precision to choose)" if self.precision_chosen_by \
            else ""
        return f"precision: {self.precision}{why}"

    def check(self) -> None:
        """A ConfigError for the first bad value (the loss's name: config.validation)."""
        check_numbers(self)
        if self.kimg is not None and self.minutes is not None:
            raise ConfigError("give either --kimg or --minutes, not both")
        if self.kimg is not None and self.kimg <= 0:
            raise ConfigError("kimg must be positive")
        if self.start_kimg < 0:
            raise ConfigError("start_kimg must be at least 0")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError("minutes must be positive")
        if self.batch < 2:
            raise ConfigError("batch must be at least 2")
        check_range("batch", self.batch, 2, MAX_BATCH)
        check_seed(self.seed, ConfigError)
        for name in ("snap_kimg", "tick_kimg", "lr_g", "lr_d", "ema_kimg"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.replace('_', '-')} must be positive")
        check_range("threads", self.threads, 0, 4096)
        for name in ("grid_minutes", "snap_minutes", "print_seconds", "health_warmup_kimg"):
            check_range(name.replace("_", "-"), getattr(self, name), 0, 1e6)
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ConfigError("Adam betas must be in [0, 1)")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError("label smoothing must be in [0, 0.5)")
        if not 0 <= self.label_noise < 0.5:
            raise ConfigError("label noise must be in [0, 0.5)")
        if self.n_critic < 1:
            raise ConfigError("n-critic must be at least 1")
        check_range("n-critic", self.n_critic, 1, 100)
        if self.gp_lambda < 0 or self.r1_gamma < 0 or self.pl_weight < 0:
            raise ConfigError("gp-lambda, r1-gamma and pl-weight must not be negative")
        if self.r1_interval < 1 or self.pl_interval < 1:
            raise ConfigError("r1-interval and pl-interval must be at least 1")
        check_range("r1-interval", self.r1_interval, 1, 10_000)
        check_range("pl-interval", self.pl_interval, 1, 10_000)
        if not 0 <= self.style_mixing <= 1:
            raise ConfigError("style-mixing must be a probability in [0, 1]")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; "
                              f"choose from {', '.join(PRECISIONS)}")
        if self.rec_distance not in REC_DISTANCES:
            raise ConfigError(f"unknown --rec-distance {self.rec_distance!r}; "
                              f"choose from {', '.join(REC_DISTANCES)}")
        if self.freeze_d < 0 or self.max_rollbacks < 0:
            raise ConfigError("freeze-d and max-rollbacks must not be negative")
        check_range("freeze-d", self.freeze_d, 0, 64)
        check_range("max-rollbacks", self.max_rollbacks, 0, 1000)
        if self.instance_noise < 0 or self.instance_noise_kimg <= 0:
            raise ConfigError("instance noise and its annealing length must be positive")
        check_range("blur-sigma", self.blur_sigma, 0, 1000)
        check_range("blur-fade-kimg", self.blur_fade_kimg, 0, 1e6)
        if self.blur_sigma > 0 and self.blur_fade_kimg <= 0:
            raise ConfigError("--blur-sigma needs --blur-fade-kimg, the kimg it fades over")
        if self.keep_snapshots < 1:
            raise ConfigError("keep-snapshots must be at least 1")
        check_range("keep-snapshots", self.keep_snapshots, 1, 10_000)
        if not 1 <= self.grid_size <= 1024:
            raise ConfigError("grid size must be from 1 to 1024")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation of what D sees: ADA's pipeline or DiffAugment on reals and fakes, classic
    augmentation on reals only."""

    mode: str = option(AUTO, "augmentation of what D sees: auto (the preset's choice for the "
                       "data's size), ada (adaptive p), fixed (--p), diffaug, none", api="aug",
                       choices=AUGMENT_MODES)
    p: float = option(0.0, "augmentation probability (ada: its starting value)")
    target: float = option(0.6, "ada: the r_t = E[sign(D(real))] it steers towards")
    augpipe: str = option("bgc", "ada/fixed pipeline: bgc, bgcfnc, b, g, c, f, n, ...")
    ada_kimg: float = option(500.0, "ada: p can move from 0 to 1 in this many kimg")
    ada_interval: int = option(4, "ada: adjust p every N D steps", metavar="N")
    diffaug: str = option("", "DiffAugment on reals and fakes, e.g. color,translation,cutout "
                          "(--aug diffaug: that one)", metavar="POLICY")
    classic: bool = option(False, "classic augmentation of the reals: crop, rotation, shear, "
                           "brightness, contrast (tiny datasets)", api="classic_aug")
    crop: float = option(0.8, "classic: random resized crop keeps [this, 1] of a side",
                         api="aug_crop")
    rotate: float = option(15.0, "classic: rotation up to +-this many degrees", api="aug_rotate")
    shear: float = option(10.0, "classic: shear up to +-this many degrees", api="aug_shear")
    brightness: float = option(0.2, "classic: brightness shift up to +-this (in [-1, 1] units)",
                               api="aug_brightness")
    contrast: float = option(0.2, "classic: contrast factor in [1 - this, 1 + this]",
                             api="aug_contrast")
    small_data: str = internal("none", f"the preset's: what --aug auto becomes below "
                               f"{SMALL_DATA:,} images")
    large_data: str = internal("none", f"the preset's: what --aug auto becomes from "
                               f"{SMALL_DATA:,} images on")
    chosen_by: str = internal("", "why mode is what it is when auto chose it, e.g. 'auto: "
                              "300 images < 30,000' (empty: the preset's or the user's)")

    def check(self) -> None:
        """A ConfigError for the first bad value (the policy, pipeline and classic parameters
        against the augmentations themselves: config.validation)."""
        check_numbers(self)
        if self.mode not in AUGMENT_MODES:
            raise ConfigError(f"unknown --aug {self.mode!r}; choose from "
                              f"{', '.join(AUGMENT_MODES)}")
        for name in ("small_data", "large_data"):
            if getattr(self, name) not in CONCRETE_AUGMENT_MODES:
                raise ConfigError(f"augment {name} must be one of "
                                  f"{', '.join(CONCRETE_AUGMENT_MODES)}, not "
                                  f"{getattr(self, name)!r}")
        modes = (self.small_data, self.large_data) if self.mode == AUTO else (self.mode,)
        if {"ada", "fixed"} & set(modes) and self.diffaug:
            raise ConfigError("use either ADA (--aug ada/fixed) or DiffAugment (--diffaug), "
                              "not both")
        if not 0 <= self.p <= 1 or not 0 <= self.target <= 1:
            raise ConfigError("--p and --target must be in [0, 1]")
        if self.ada_kimg <= 0 or self.ada_interval < 1:
            raise ConfigError("ada-kimg must be positive and ada-interval at least 1")
        check_range("ada-interval", self.ada_interval, 1, 10_000)

    def policy(self) -> str:
        """The DiffAugment policy in effect: --diffaug, or for --aug diffaug without one the
        default policy."""
        return self.diffaug or (DEFAULT_DIFFAUG if self.mode == "diffaug" else "")

    def settled(self, num_images: int) -> "AugmentConfig":
        """`auto` replaced by the preset's choice for `num_images` (small_data below
        SMALL_DATA, else large_data), with the reason in chosen_by and the DiffAugment policy
        filled in; any other mode is already concrete (a resume keeps its recorded choice)."""
        if self.mode != AUTO:
            return self
        small = num_images < SMALL_DATA
        chosen = dataclasses.replace(
            self, mode=self.small_data if small else self.large_data,
            chosen_by=f"auto: {num_images:,} images {'<' if small else '>='} {SMALL_DATA:,}")
        return dataclasses.replace(chosen, diffaug=chosen.policy())

    def describe(self) -> str:
        """The augmentation in words, for the console: "DiffAugment color,translation"."""
        if self.mode == AUTO:
            return (f"auto ({self.small_data} below {SMALL_DATA:,} images, else "
                    f"{self.large_data}; decided when the data is opened)")
        what = {"ada": f"ADA (adaptive p from {self.p:g}, target {self.target:g}, pipeline "
                       f"{self.augpipe})",
                "fixed": f"fixed-p augmentation (p {self.p:g}, pipeline {self.augpipe})"}.get(
            self.mode, f"DiffAugment {self.policy()}" if self.policy() else "none")
        return what + (" + classic augmentation of the reals" if self.classic else "")

    def console_line(self) -> str:
        """The one line training says about augmentation, with why and how to change it."""
        if not self.chosen_by:
            return f"augmentation: {self.describe()}"
        hint = "--aug none to turn off" if self.mode != "none" else "--aug diffaug to turn on"
        return f"augmentation: {self.describe()} ({self.chosen_by}; {hint})"

    def classic_params(self) -> dict:
        return {"crop": self.crop, "rotate": self.rotate, "shear": self.shear,
                "brightness": self.brightness, "contrast": self.contrast}


@dataclass(frozen=True)
class MetricsConfig:
    """Metrics measured during training (metrics.jsonl) and the snapshot kept as `best`."""

    metrics: str = option("", "measure G_ema at snapshots into metrics.jsonl: swd, fid, kid, "
                          "is, pr (comma-separated)")
    every_kimg: float = option(0.0, "measure every N kimg (0: at every snapshot)",
                               api="metrics_every", metavar="KIMG")
    num: int = option(1000, "generated images per measurement, compared with all training "
                      "images (up to 50,000)",
                      api="metrics_num")
    best: str = option("", "keep checkpoints/best by this value (default: the first metric's, "
                       "e.g. fid; precision/recall/is: higher is better)", api="best_metric")
    extractor: str | None = option(None, "features for fid/kid/is/pr instead of the standard "
                                   "ones (e.g. random-conv, offline)")
    feature_weights: str | None = option(None, "local weight files of the feature networks, "
                                         "e.g. inception-v3=pt_inception.pth,vgg16=vgg16.pth "
                                         "(offline use)", metavar="[NAME=]PATH")

    def names(self) -> list[str]:
        return [n.strip() for n in self.metrics.split(",") if n.strip()]

    def check(self) -> None:
        """A ConfigError for the first bad count (the names: config.validation)."""
        check_numbers(self)
        if not self.names():
            return
        if self.num < 2:
            raise ConfigError(f"metrics num must be at least 2, got {self.num}")
        check_range("metrics-num", self.num, 2, MAX_GENERATED)
        if self.every_kimg < 0:
            raise ConfigError(f"metrics every_kimg must be >= 0, got {self.every_kimg}")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; the content of config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def check(self) -> None:
        """Every section's own checks (config.validation adds what needs the registries);
        num_classes may still be FROM_DATA."""
        self.model.check(classes_from_data=True)
        self.train.check()
        self.augment.check()
        self.metrics.check()

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


SECTIONS = tuple(f.name for f in fields(RunConfig))     # config.json's keys, in order
SECTION_TYPES = {f.name: f.default_factory for f in fields(RunConfig)}


def all_options() -> dict[str, Option]:
    """keyword -> Option over every section, in declaration order."""
    table = {}
    for section in SECTIONS:
        for opt in declared(section, SECTION_TYPES[section]):
            if opt.api in table:
                raise TypeError(f"option {opt.api} is declared twice")
            table[opt.api] = opt
    return table
