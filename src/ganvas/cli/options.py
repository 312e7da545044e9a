"""Options shared by several verbs, declared once so every verb spells them the same."""

from __future__ import annotations

from ..device import DEVICE_HELP


def add_device_option(p) -> None:
    """--device: where a verb computes (resolved by ganvas.device.pick_device, so a device
    this machine lacks is a one-line error before any work)."""
    p.add_argument("--device", default="auto", help=f"where to compute: {DEVICE_HELP}")
