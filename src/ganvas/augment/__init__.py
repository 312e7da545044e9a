"""Image augmentations, registered by name.

Two kinds live in one registry:

- DiffAugment ops (``reals_only=False``): applied to every image D sees, reals and fakes alike,
  and differentiable, so G's gradient flows through them (Zhao et al. 2020). A training run
  names them as a policy string, e.g. ``"color,translation,cutout"``.
- Classic augmentation (``reals_only=True``): applied to the reals only, to stretch a tiny
  dataset; D then learns the augmented distribution, so keep it mild.

Every op has the signature ``fn(x, gen, **params)``: x is float NCHW in [-1, 1], gen a CPU
``torch.Generator`` that all random numbers come from (drawn on the CPU, then moved to
x.device, so a seed gives the same augmentation on any device); the result has x's shape,
dtype and device.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..registry import Registry
from .classic import CLASSIC
from .diffaug import DIFF_AUGMENTS
from .ops import Augment


AUGMENTS: Registry[Augment] = Registry("augmentation")
AUGMENTS.register("classic")(CLASSIC)
for _name, _entry in DIFF_AUGMENTS.items():        # "color", "translation", "cutout"
    AUGMENTS.register(_name)(_entry)


def diff_augment_names() -> list[str]:
    """Names that may appear in a DiffAugment policy (those not marked reals_only)."""
    return [name for name in AUGMENTS.names() if not AUGMENTS.get(name).reals_only]


def _policy_error(what: str) -> ConfigError:
    return ConfigError(f"{what}; choose from: {', '.join(diff_augment_names())} "
                       "(comma-separated, or 'none')")


def _diff_entry(name: str) -> Augment:
    """The DiffAugment op `name`, or a ConfigError listing the valid policies."""
    if name not in AUGMENTS:
        raise _policy_error(f"unknown DiffAugment policy {name!r}")
    entry = AUGMENTS.get(name)
    if entry.reals_only:
        # A reals-only op on fakes would make D's task trivially different for the two.
        raise _policy_error(f"{name!r} is a reals-only augmentation, not a DiffAugment policy")
    return entry


def parse_policy(text: str) -> list[str]:
    """A DiffAugment policy string -> op names in order.

    "color,translation,cutout" -> ["color", "translation", "cutout"]; "" or "none" -> [].
    Spaces around names are ignored. An unknown name, a reals-only name (e.g. "classic"), an
    empty item or a repeated name raises ConfigError listing the valid policies.
    """
    text = text.strip()
    if text in ("", "none"):
        return []
    names = [part.strip() for part in text.split(",")]
    for i, name in enumerate(names):
        _diff_entry(name)
        if name in names[:i]:
            raise ConfigError(f"DiffAugment policy {name!r} is given twice in {text!r}")
    return names


def diff_augment(x: torch.Tensor, policy: list[str], gen: torch.Generator) -> torch.Tensor:
    """Apply the DiffAugment ops in `policy` to x, in order.

    x: float (N, C, H, W) in [-1, 1] (the result may leave that range slightly, as in the
    paper: D sees it as is). gen: CPU generator. Differentiable w.r.t. x.
    """
    for name in policy:
        x = _diff_entry(name).fn(x, gen)
    return x
