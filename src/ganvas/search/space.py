"""Search spaces of `ganvas tune`: which training options a study varies, and over what.

A space maps training options (the keywords of ganvas.train, e.g. lr_g, label_smoothing) to
a range. Written in a --space file (JSON or YAML):

    lr_g: {low: 1.0e-4, high: 1.0e-3, log: true}     # a float (an int for int options)
    batch: [16, 32, 64]                              # one of these values
    r1_gamma: default                                # this option's range in the default space

Options that set a trial's length, output or measurement (kimg, minutes, snap_kimg, ...:
NOT_SEARCHABLE) are refused: the study fixes them. The file's space replaces the default
one (`default` entries narrow it to some of its options). The default space follows what
the preset uses (its values, its loss, its augmentation), not its family's name: learning
rates a factor 4 either side, beta1, the batch halved and doubled, label smoothing for
losses with targets, R1's gamma a factor 8 either side (log scale) when the preset uses R1,
the gradient penalty's weight and n_critic for WGAN-GP, ADA's target or the DiffAugment
policy when the preset augments that way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config.schema import AUTO, RunConfig, all_options
from ..errors import GanvasError
from ..losses import LOSSES

FLOAT, INT, CHOICE = "float", "int", "categorical"
DIFFAUG_POLICIES = ("color,translation,cutout", "color,translation", "translation,cutout",
                    "translation")
# Options a space may not vary, with the flag that fixes them for the whole study: a trial's
# budget (its length), what it writes (snapshots, grids, stats lines) and how it is measured
# (a value searched there would make trials unbounded, or their measurements incomparable).
NOT_SEARCHABLE = {"kimg": "--kimg-per-trial", "minutes": "--minutes-per-trial",
                  "snap_kimg": "--snap-kimg", "tick_kimg": "--tick-kimg",
                  "keep_snapshots": "--keep-snapshots", "grid_size": "--grid-size",
                  "max_rollbacks": "--max-rollbacks", "metrics": "--metric",
                  "metrics_every": "--metric", "best_metric": "--metric",
                  "metrics_num": "--metrics-num", "extractor": "--extractor",
                  "feature_weights": "--feature-weights"}


@dataclass(frozen=True)
class Param:
    """One searched option: a float or int range (log scale or not), or a list of values."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        """This option's value for an Optuna trial."""
        if self.kind == CHOICE:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == INT:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def candidates(self) -> list:
        """The values checked before the first trial: the ends of a range, every choice."""
        return list(self.choices) if self.kind == CHOICE else [self.low, self.high]

    def to_dict(self) -> Any:
        if self.kind == CHOICE:
            return list(self.choices)
        out = {"low": self.low, "high": self.high}
        return {**out, "log": True} if self.log else out

    def describe(self) -> str:
        if self.kind == CHOICE:
            return f"{self.name} in {list(self.choices)}"
        return f"{self.name} in [{self.low:g}, {self.high:g}]{' (log)' if self.log else ''}"


Space = dict[str, Param]


def default_space(cfg: RunConfig) -> Space:
    """The options that matter most for this configuration, around its values."""
    t, a = cfg.train, cfg.augment
    loss = LOSSES.get(t.loss)
    space = [Param("lr_g", FLOAT, t.lr_g / 4, t.lr_g * 4, log=True),
             Param("lr_d", FLOAT, t.lr_d / 4, t.lr_d * 4, log=True),
             Param("beta1", CHOICE, choices=tuple(sorted({0.0, 0.5, t.beta1}))),
             Param("batch", CHOICE, choices=tuple(sorted({max(2, t.batch // 2), t.batch,
                                                          t.batch * 2})))]
    if loss.soft_targets:
        space.append(Param("label_smoothing", FLOAT, 0.0, 0.2))
    if t.r1_gamma > 0:
        space.append(Param("r1_gamma", FLOAT, t.r1_gamma / 8, t.r1_gamma * 8, log=True))
    if loss.gradient_penalty:
        space.append(Param("gp_lambda", FLOAT, t.gp_lambda / 4, t.gp_lambda * 4, log=True))
        space.append(Param("n_critic", INT, 1, max(5, t.n_critic)))
    mode = a.small_data if a.mode == AUTO else a.mode
    if mode == "ada":
        space.append(Param("target", FLOAT, 0.4, 0.8))
    elif mode == "diffaug":
        space.append(Param("diffaug", CHOICE, choices=DIFFAUG_POLICIES))
    return {p.name: p for p in space}


def read_space_file(path: str | Path) -> dict:
    """A --space file (JSON, or YAML by its .yaml/.yml name) as a dict, or a one-line error."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise GanvasError(f"--space {path}: cannot read it ({type(e).__name__})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml
            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as e:                    # noqa: BLE001 (either parser's errors)
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise GanvasError(f"--space {path} is not valid "
                          f"{'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: "
                          f"{first}") from None
    if not isinstance(values, dict) or not values:
        raise GanvasError(f"--space {path}: give an object of option: range (e.g. "
                          f"lr_g: {{low: 1.0e-4, high: 1.0e-3, log: true}})")
    return values


def parse_space(values: dict, defaults: Space, origin: str = "--space") -> Space:
    """A space from its file form (see the module's docstring), each entry checked."""
    options = all_options()
    space = {}
    for name, spec in values.items():
        where = f"{origin} {name}"
        if name not in options:
            raise GanvasError(f"{where}: not a training option (ganvas train --help lists them)")
        if name in NOT_SEARCHABLE:
            raise GanvasError(f"{where}: not searchable (a trial's budget, output and "
                              f"measurement are the study's): give {NOT_SEARCHABLE[name]} "
                              f"instead")
        if spec == "default":
            if name not in defaults:
                raise GanvasError(f"{where}: the default space has no range for it; give one")
            space[name] = defaults[name]
            continue
        space[name] = parse_param(name, spec, options[name].kind, where)
    return space


def parse_param(name: str, spec: Any, kind: type, where: str) -> Param:
    if isinstance(spec, list):
        if not spec or len(spec) != len({json.dumps(v) for v in spec}):
            raise GanvasError(f"{where}: give a list of different values")
        return Param(name, CHOICE, choices=tuple(spec))
    if not isinstance(spec, dict) or set(spec) - {"low", "high", "log"} or \
            not {"low", "high"} <= set(spec):
        raise GanvasError(f"{where}: give [values...] or {{low: L, high: H, log: true|false}}")
    if kind not in (int, float):
        raise GanvasError(f"{where}: a {kind.__name__} option takes a list of values")
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                  and math.isfinite(v) for v in (low, high))
    if not numbers or not isinstance(log, bool):
        raise GanvasError(f"{where}: low and high must be numbers, log true or false")
    if kind is int and not all(float(v).is_integer() for v in (low, high)):
        raise GanvasError(f"{where}: an int option takes whole low and high")
    if not low < high:
        raise GanvasError(f"{where}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise GanvasError(f"{where}: a log range needs low > 0")
    return Param(name, INT if kind is int else FLOAT, low, high, log)


def check_space(space: Space, validate: Callable[[dict], None]) -> None:
    """Every candidate value of every option through `validate` (the training options with
    that one value changed), so a value train would refuse stops the study before its
    first trial, with train's reason."""
    for param in space.values():
        for value in param.candidates():
            try:
                validate({param.name: value})
            except GanvasError as e:
                raise GanvasError(f"search space {param.name} = {value!r}: {e}") from None


def usable(space: Space, validate: Callable[[dict], None]) -> Space:
    """The default space without the values this configuration refuses (a batch the
    minibatch-std group does not divide, ...), and without options left with none."""
    out = {}
    for name, param in space.items():
        ok = []
        for value in param.candidates():
            try:
                validate({name: value})
                ok.append(value)
            except GanvasError:
                pass
        if param.kind == CHOICE and len(ok) > 1:
            out[name] = Param(name, CHOICE, choices=tuple(ok))
        elif param.kind != CHOICE and len(ok) == 2:
            out[name] = param
    return out
