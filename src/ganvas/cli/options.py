"""Options shared by several verbs, declared once so every verb spells them the same."""

from __future__ import annotations

from ..device import DEVICE_HELP


# What a MODEL argument may be, in every verb's help.
MODEL_HELP = ("run directory, snapshot, exported model, or an NVlabs StyleGAN .pkl (path or "
              "URL; URL#sha256=HEX pins it), read without running its code")


def add_device_option(p) -> None:
    """--device: where a verb computes (resolved by ganvas.device.pick_device, so a device
    this machine lacks is a one-line error before any work)."""
    p.add_argument("--device", default="auto", help=f"where to compute: {DEVICE_HELP}")


def model_help(what: str) -> str:
    """--model's help in train and tune (`what` the value is): the presets and what a run
    without --model gets (config.presets.default_preset's rule, in words)."""
    from ..config.presets import (CPU_DEFAULT_PRESET, DEFAULT_PRESET, FEW_SHOT_MAX_IMAGES,
                                  FEW_SHOT_PRESET, LIMITED_DATA_PRESET, PRESETS)
    from ..models import family_of
    full = [n for n in PRESETS.names() if not n.endswith("-tiny")]
    smallest = max(family_of(PRESETS.get(n)(0)["model"]["family"]).resolutions[0]
                   for n in (FEW_SHOT_PRESET, LIMITED_DATA_PRESET))
    return (f"{what}: {', '.join(full)}, each with a -tiny twin (default: "
            f"{CPU_DEFAULT_PRESET} on a CPU; on a GPU {FEW_SHOT_PRESET} below "
            f"{FEW_SHOT_MAX_IMAGES:,} images, {LIMITED_DATA_PRESET} from there, "
            f"{DEFAULT_PRESET} below {smallest} px; with --init-from the source model's)")
