"""The option machinery: training options declared once on the schema's dataclasses.

Every field of ModelConfig, TrainConfig, AugmentConfig and MetricsConfig (config.schema) is
declared with
`option(default, help=...)` (or `internal(...)`); from that one declaration come the keyword of
`ganvas.train` (the field name, or `api=`), the flag of `ganvas train` (the kebab-case of the
keyword: z_dim -> --z-dim, aug_crop -> --aug-crop), its help, choices and value type
(`schema.all_options()` maps each keyword to its `Option`). This module knows no section.

Internal fields have no keyword or flag of their own because they come from elsewhere:
model.family (the preset's architecture; --model picks the preset), model.channels (the
dataset's; an image folder is prepared in RGB), train.data (the DATA argument),
train.preset (--model; preset_chosen_by says why when the device's default was taken),
train.precision_chosen_by (why `--precision auto` became what it did) and
augment.small_data / large_data / chosen_by (the preset's `--aug auto` choices and the
reason for the one taken). model.num_classes is reached through
`conditional`: True = the dataset's class count (FROM_DATA, filled in when the data is
opened), False = unconditional.

Values: None always means "not given, keep the lower layer's" (preset, config file); an
optional field (None = off, e.g. gate_d) is turned off explicitly with OFF (`--gate-d none`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError


class Off:
    """The explicit "off" of an optional option (stored as None); `--gate-d none` on the CLI."""

    def __repr__(self) -> str:
        return "OFF"


OFF = Off()
OFF_WORDS = ("none", "off")


def option(default: Any, help: str, api: str | None = None, choices: tuple | None = None,
           metavar: str | None = None, kind: type | None = None,
           encode: Callable | None = None, exclusive: str | None = None,
           registry: str | None = None):
    """A dataclass field that is also a training option.

    api: the keyword/flag name when it is not the field's (aug_crop for AugmentConfig.crop);
    choices: a tuple checked by argparse; registry: the value names an entry of that registry
    (config.validation checks it and gives the CLI the names for the help); kind: the value
    type of the keyword when it differs from the field's, with `encode` mapping keyword value
    -> field value (conditional: bool -> num_classes); exclusive: flags of one name are
    mutually exclusive (--kimg / --minutes)."""
    meta = {"help": help, "api": api, "choices": choices, "metavar": metavar, "kind": kind,
            "encode": encode, "exclusive": exclusive, "registry": registry}
    return dataclasses.field(default=default, metadata={"option": meta})


def internal(default: Any, why: str):
    """A dataclass field that is not an option: its value comes from the preset or the data."""
    return dataclasses.field(default=default, metadata={"internal": why})


@dataclass(frozen=True)
class Option:
    """One training option: where it lives (section.field) and how it is given."""

    section: str            # "model", "train", "augment" or "metrics"
    field: str              # the dataclass field
    api: str                # keyword of ganvas.train
    help: str
    kind: type              # int, float, str or bool
    optional: bool          # None is a valid value of the field (= off)
    choices: tuple | None = None
    metavar: str | None = None
    encode: Callable | None = None
    exclusive: str | None = None
    registry: str | None = None      # the value names an entry of this registry ("loss")

    @property
    def flag(self) -> str:
        return "--" + self.api.replace("_", "-")

    @property
    def key(self) -> str:
        return f"{self.section}.{self.field}"

    def to_field(self, value: Any) -> Any:
        """A keyword value (already type-checked) -> the field's value."""
        if value is OFF:
            return None
        return self.encode(value) if self.encode else value


def field_kind(annotation: str) -> tuple[type, bool]:
    """A field annotation ("float | None") -> (float, True); the schema's annotations are
    strings (from __future__ import annotations) naming int, float, str or bool."""
    parts = [p.strip() for p in str(annotation).split("|")]
    names = {"int": int, "float": float, "str": str, "bool": bool}
    base = [names[p] for p in parts if p in names]
    if len(base) != 1:
        raise TypeError(f"option fields must be int, float, str or bool, not {annotation}")
    return base[0], "None" in parts


def declared(section: str, cls) -> list[Option]:
    """The options declared on dataclass `cls` (a RunConfig section)."""
    found = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("option")
        if meta is None:
            if "internal" not in f.metadata:
                raise TypeError(f"{cls.__name__}.{f.name} is neither an option nor internal")
            continue
        kind, optional = field_kind(f.type)
        found.append(Option(section, f.name, meta["api"] or f.name, meta["help"],
                            meta["kind"] or kind, optional, meta["choices"], meta["metavar"],
                            meta["encode"], meta["exclusive"], meta["registry"]))
    return found


# Every number option, whatever its own range: finite and at most this big (ints: what a C
# int64 holds; floats: far above any sensible kimg, minutes or rate, far below overflow).
MAX_INT = 2**63 - 1
MAX_FLOAT = 1e9


def check_number(name: str, value: Any, origin: str = "option") -> Any:
    """`value` unless it is a number that is NaN, infinite or beyond MAX_INT / MAX_FLOAT
    (a ConfigError naming `name`); the one check every number option passes through (the
    options, the config file and the schema's checks)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{origin}: {name} must be a finite number, not {value!r}")
    limit = MAX_INT if isinstance(value, int) else MAX_FLOAT
    if abs(value) > limit:
        shown = f"{limit:,}" if isinstance(limit, int) else f"{limit:g}"
        raise ConfigError(f"{origin}: {name} = {value:g} is too big (at most {shown})")
    return value


def check_type(name: str, value: Any, kind: type, optional: bool, origin: str) -> Any:
    """`value` if it is a `kind` (ints pass as floats; paths as str; None when `optional`)
    and, for numbers, finite and not huge (check_number), else a ConfigError naming `name`
    and where it came from."""
    if value is None and optional:
        return None
    if kind is str and isinstance(value, os.PathLike):
        return os.fspath(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return check_number(name, value, origin)
    if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
        return check_number(name, value, origin)
    raise ConfigError(f"{origin}: {name} must be {'an' if kind is int else 'a'} "
                      f"{kind.__name__}{' or null' if optional else ''}, not {value!r}")


def parse_number(text: str) -> float:
    """argparse type of float options: finite numbers only ('nan', 'inf' and overflowing
    literals are argparse errors: one line, exit 2)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


parse_number.__name__ = "number"          # argparse says "invalid number value: 'x'"


def parse_off(parse: Callable) -> Callable:
    """argparse type of an optional option: 'none' or 'off' -> OFF, else parse(text)."""
    def parse_or_off(text: str):
        return OFF if text.lower() in OFF_WORDS else parse(text)
    parse_or_off.__name__ = getattr(parse, "__name__", "value")
    return parse_or_off


def check_fields(cls, values: dict, origin: str) -> dict:
    """`values` for dataclass `cls` with every value type-checked against its field (the
    file's values must not reach validation as strings); unknown keys are ConfigErrors."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"{origin}: unknown {cls.__name__} option(s) "
                          f"{', '.join(sorted(unknown))}; valid: {', '.join(known)}")
    return {k: check_type(k, v, *field_kind(known[k].type), origin) for k, v in values.items()}


def argparse_spec(opt: Option, names: list[str] | None = None, default: str = "") -> dict:
    """The add_argument keywords of an option's flag: booleans are --x / --no-x with None =
    not given; optional ones also take 'none' (= OFF). names: the entries of the option's
    registry, listed in the help; default: what the help says of its default ("default
    500"), if anything."""
    help_text = opt.help
    if names:
        help_text += f": {', '.join(names)}"
    notes = [default] if default else []
    if opt.optional and opt.kind is not bool:
        notes.append("'none' = off")
    if notes:
        help_text += f" ({'; '.join(notes)})"
    if opt.kind is bool:
        return {"action": argparse.BooleanOptionalAction, "default": None, "help": help_text}
    parse = {int: int, float: parse_number, str: str}[opt.kind]
    if opt.optional:
        parse = parse_off(parse)
    metavar = opt.metavar or {int: "N", float: "X"}.get(opt.kind)
    spec = {"type": parse, "default": None, "help": help_text, "metavar": metavar}
    if opt.choices:
        spec["choices"] = opt.choices
    return spec
