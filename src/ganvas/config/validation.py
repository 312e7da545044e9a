"""The one check of a whole configuration across the registries.

The schema checks what each section shows by itself; this adds what needs a registry: the
family (its resolutions, its rules, the options it cannot do), the loss and what it asks of D,
the augmentation's policy, pipeline and classic parameters, the metrics and their extractors.
config.resolve calls `validate` once on every configuration it hands out; everything after it
trusts the configuration.
"""

from __future__ import annotations

from ..augment import parse_policy
from ..augment.ada import PIPES
from ..augment.classic import validate_classic
from ..errors import ConfigError
from ..losses import LOSSES
from ..metrics.evaluate import METRICS, extractor_plan
from ..models import check_model, check_options
from .options import Option
from .schema import AugmentConfig, MetricsConfig, RunConfig

# Options whose value names an entry of a registry (Option.registry -> the registry).
REGISTRIES = {"loss": LOSSES}


def registered_names(opt: Option) -> list[str] | None:
    """The names an option's value may take when it names a registry entry (for the help)."""
    return REGISTRIES[opt.registry].names() if opt.registry else None


def validate(cfg: RunConfig, classes_from_data: bool = True) -> None:
    """A ConfigError for the first bad value or combination of `cfg`; nothing is changed.
    classes_from_data: num_classes may still be FROM_DATA (filled in when the data opens)."""
    check_model(cfg.model, classes_from_data)
    cfg.train.check()
    check_augment(cfg.augment)
    check_metrics(cfg.metrics)
    check_combination(cfg)


def check_augment(augment: AugmentConfig) -> None:
    """The augmentation's own checks, then its policy, pipeline and classic parameters."""
    augment.check()
    parse_policy(augment.policy())
    if augment.augpipe not in PIPES:
        raise ConfigError(f"unknown --augpipe {augment.augpipe!r}; choose from "
                          f"{', '.join(PIPES)}")
    validate_classic(**augment.classic_params())


def check_metrics(metrics: MetricsConfig) -> None:
    """Known metric names, an extractor that serves them, counts, and a best-metric key that
    one of them measures."""
    names = metrics.names()
    for name in names:
        METRICS.get(name)
    if names:
        extractor_plan(names, metrics.extractor)
    metrics.check()
    ranked = [k for n in names for k in METRICS.get(n).better]
    if metrics.best and metrics.best not in ranked:
        raise ConfigError(f"--best-metric {metrics.best!r} is not measured; choose from: "
                          f"{', '.join(ranked)}")


def check_combination(cfg: RunConfig) -> None:
    """Options that are valid alone but not together."""
    check_options(cfg.model, cfg.train)                    # what the family cannot do
    loss = LOSSES.get(cfg.train.loss)
    if loss.gradient_penalty and cfg.model.d_norm == "batch":
        raise ConfigError(f"loss {cfg.train.loss} penalises D's gradient per sample, which "
                          f"batch norm mixes; use --d-norm layer or none")
    if not loss.soft_targets and cfg.train.label_smoothing > 0:
        raise ConfigError(f"label smoothing needs a loss with targets (nonsaturating or "
                          f"least-squares), not {cfg.train.loss}")
