"""The default a training option's flag shows in the help: the value the run really starts
from, found in the presets (every preset leaves it at one value: that value; presets differ:
"the preset's"), never the bare dataclass default a preset replaces."""

from __future__ import annotations

# Resolutions the presets are asked at: the ones that follow the resolution (StyleGAN2's auto
# configuration, StyleGAN3's recipe) give each of their values at one of these.
RESOLUTIONS = (0, 16, 32, 64, 128, 256, 512, 1024)
PRESETS_VALUE = "the preset's"


def preset_values(opt) -> set:
    """The values option `opt` (a config.options.Option) takes in every registered preset, at
    every resolution of RESOLUTIONS (a field a preset does not set keeps the schema's)."""
    from ..config.presets import PRESETS
    from ..config.schema import SECTION_TYPES
    default = getattr(SECTION_TYPES[opt.section](), opt.field)
    return {PRESETS.get(name)(resolution).get(opt.section, {}).get(opt.field, default)
            for name in PRESETS.names() for resolution in RESOLUTIONS}


def shown(value) -> str:
    """A default as a user would type it (None: off)."""
    if value is None or value is False:
        return "off"
    if value is True:
        return "on"
    return f"{value:g}" if isinstance(value, float) else str(value)


def default_text(opt, override: str | None = None) -> str:
    """What the help of option `opt` says of its default ("default 500", "default: the
    preset's"): `override` when given (a verb that sets the value itself), else the one value
    every preset gives it, or "the preset's"; "" when the help already says its default, the
    value is an empty string (not set: derived from another value) or the field is not the
    flag's value (conditional: num_classes)."""
    if override is not None:
        return override
    if "default" in opt.help:
        return ""
    values = preset_values(opt)
    if len(values) > 1:
        return f"default: {PRESETS_VALUE}"
    value = values.pop()
    return "" if value == "" or opt.encode is not None else f"default {shown(value)}"
