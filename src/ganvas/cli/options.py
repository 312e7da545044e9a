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
