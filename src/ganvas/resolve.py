"""From a training request to the configuration it trains with, and where each value came from.

Layers, lowest first: the dataclass defaults, the preset (at the model resolution), a config
file (`config=`: a run's config.json, or any part of it), then the options given (keywords of
`ganvas.train`, flags of `ganvas train`). `plan` validates the result completely and writes
nothing, so a dry run and a real run fail on the same mistakes before any folder is touched.
What only the data can tell (channels, the class count) is filled in by training.runs; so is
`--aug auto`'s choice from the image count, unless the data is an archive whose dataset.json
tells the count now (the dry run then shows the choice, its source "auto: N images < 30,000").
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import AUTO, FROM_DATA, RunConfig
from .device import pick_device
from .errors import ConfigError, GanvasError
from .options import SECTIONS, all_options, check_fields, check_type, to_sections
from .presets import PRESETS, default_preset

# Where a value came from (Resolved.sources).
DEFAULT, PRESET, FILE, GIVEN = "default", "preset", "config file", "option"
DATASET, SOURCE, DERIVED = "dataset", "init-from model", "derived"
SECTION_TYPES = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)}
FROM_THE_DATA = {"model.channels", "model.aspect"}   # the dataset's, set when it is opened


@dataclass(frozen=True)
class Resolved:
    """A resolved training configuration: `config` (validated; num_classes may still be
    FROM_DATA) and `sources`, "section.field" -> default, preset, config file, option,
    dataset (the data's resolution), init-from model or derived (from another value)."""

    config: RunConfig
    sources: dict[str, str]

    def rows(self, given: str = GIVEN) -> list[tuple[str, str, str]]:
        """(name, value, source) of every value, preset and data first, then section by
        section; options are named by keyword, or by flag when `given` is "flag" (internal
        fields by section.field)."""
        table = {opt.key: opt for opt in all_options().values()}
        t = self.config.train
        rows = [("preset", t.preset, self.label("train.preset", given)),
                ("data", t.data, self.label("train.data", given))]
        for section in SECTIONS:
            for name, value in dataclasses.asdict(getattr(self.config, section)).items():
                key, opt = f"{section}.{name}", table.get(f"{section}.{name}")
                if key not in ("train.preset", "train.data"):
                    shown = key if opt is None else opt.flag if given == "flag" else opt.api
                    rows.append((shown, show_value(key, value), self.label(key, given)))
        return rows

    def render(self, given: str = GIVEN) -> str:
        """The rows as aligned text, one line each."""
        rows = self.rows(given)
        name_width = max(len(r[0]) for r in rows) + 2
        value_width = max(len(r[1]) for r in rows) + 2
        return "\n".join(f"{n:<{name_width}}{v:<{value_width}}{s}" for n, v, s in rows)

    def label(self, key: str, given: str) -> str:
        source = DATASET if key in FROM_THE_DATA else self.sources[key]
        return given if source == GIVEN else source

    def __str__(self) -> str:
        return self.render()


def show_value(key: str, value: Any) -> str:
    """A value as a user would type it (none, true/false, "" for an empty string)."""
    if key in FROM_THE_DATA:
        return "the dataset's"
    if key == "model.num_classes":
        return {0: "false", FROM_DATA: "true (the dataset's classes)"}.get(
            value, f"true ({value} classes)")
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return '""' if value == "" else str(value)


def plan(data: str | os.PathLike | None, model: str | None, config: str | os.PathLike | None,
         options: dict[str, Any]) -> Resolved:
    """The configuration `ganvas.train(data, model=model, config=config, **options)` trains
    with, validated; reads the config file, a fine-tuning source's model.json and an
    archive's dataset.json, writes nothing."""
    from .data.dataset import locate_dataset, peek_resolution
    given = to_sections(options)
    for name, value, fld in (("data", data, "data"), ("model", model, "preset")):
        if value is not None:
            given["train"][fld] = check_type(name, value, str, False, "option")
    file = read_config_file(config) if config is not None else {}
    layers = [(FILE, file), (GIVEN, given)]
    spec = top(layers, "train", "data")
    if not spec:
        raise GanvasError("give a dataset (archive, image folder or demo:emoji) "
                          "or --resume RUN_DIR")
    locate_dataset(spec)
    check_preset(file, given, config)
    facts = source_facts(top(layers, "train", "init_from"))
    device = pick_device(top(layers, "train", "device") or "auto")   # a device error now
    chosen = top(layers, "train", "preset") or facts.get("preset")
    preset, why = (chosen, "") if chosen else default_preset(device.type)
    resolution = top(layers, "model", "resolution")
    if resolution is None:
        # Presets may follow the resolution (StyleGAN2's auto config): the source's or data's.
        resolution = facts.get("resolution") or peek_resolution(spec)
        layers.insert(0, (SOURCE if facts else DATASET, {"model": {"resolution": resolution}}))
    values, sources = merge([(PRESET, preset_layer(preset, resolution)), *layers])
    # Why the preset is the device's default; a preset given (or replayed) needs no reason.
    values["train"]["preset_chosen_by"] = why
    sources["train.preset_chosen_by"] = DERIVED
    if top(layers, "train", "preset") is None:
        sources["train.preset"] = SOURCE if facts else f"{DEFAULT} on {device.type}"
    explicit_augmentation(values["augment"], sources)
    cfg = RunConfig(**{s: SECTION_TYPES[s](**values[s]) for s in SECTIONS})
    resolved = cfg.resolved()
    if resolved.augment.diffaug != cfg.augment.diffaug:
        sources["augment.diffaug"] = DERIVED
    resolved.validate()
    resolved = resolved.on_device(device)
    if resolved.train.precision_chosen_by:
        sources["train.precision"] = resolved.train.precision_chosen_by
        sources["train.precision_chosen_by"] = DERIVED
    count = peek_num_images(spec)
    if resolved.augment.mode == AUTO and count is not None:
        resolved = dataclasses.replace(resolved, augment=resolved.augment.settled(count))
        resolved.validate()
        sources["augment.mode"] = resolved.augment.chosen_by
        sources["augment.chosen_by"] = DERIVED
        if resolved.augment.diffaug != cfg.augment.diffaug:
            sources["augment.diffaug"] = DERIVED
    return Resolved(resolved, sources)


def explicit_augmentation(augment: dict, sources: dict[str, str]) -> None:
    """What a user asks for beats the preset's `--aug auto` (in place): a DiffAugment policy
    given (flag or config file) is used at any data size unless `--aug auto` itself was asked
    for, and `--aug none` is no augmentation at all, also without the preset's DiffAugment
    policy (FastGAN's)."""
    asked = (GIVEN, FILE)
    if (augment["mode"] == AUTO and sources["augment.mode"] not in asked
            and augment["diffaug"] and sources["augment.diffaug"] in asked):
        augment["mode"] = "diffaug"
        sources["augment.mode"] = DERIVED
    if (augment["mode"] == "none" and sources["augment.mode"] == GIVEN
            and sources["augment.diffaug"] not in asked and augment["diffaug"]):
        augment["diffaug"] = ""
        sources["augment.diffaug"] = DERIVED


def peek_num_images(spec: str) -> int | None:
    """The image count of DATA when its dataset.json tells it without decoding (an archive or
    a demo set); None for an image folder (known once it is prepared, at training start)."""
    from .data.archive import read_meta
    from .data.dataset import locate_dataset
    path = locate_dataset(spec)
    return None if path.is_dir() else int(read_meta(path)["num_images"])


def preset_layer(name: str, resolution: int) -> dict:
    """Preset `name` at `resolution` as a layer, with its name as train.preset."""
    layer = PRESETS.get(name)(resolution)
    return {**layer, "train": {**layer.get("train", {}), "preset": name}}


def top(layers: list[tuple[str, dict]], section: str, name: str) -> Any:
    """The value of section.name in the highest layer that sets it (None: none does)."""
    for _, layer in reversed(layers):
        if name in layer.get(section, {}):
            return layer[section][name]
    return None


def merge(layers: list[tuple[str, dict]]) -> tuple[dict, dict]:
    """Defaults overlaid with each (source, {section: {field: value}}) layer in turn ->
    ({section: {field: value}}, {"section.field": source})."""
    values = {s: dataclasses.asdict(SECTION_TYPES[s]()) for s in SECTIONS}
    sources = {f"{s}.{k}": DEFAULT for s in SECTIONS for k in values[s]}
    for source, layer in layers:
        for section, given in layer.items():
            if section == "train":
                given = one_length(given)
            for k, v in given.items():
                values[section][k] = v
                sources[f"{section}.{k}"] = source
    return values, sources


def one_length(train: dict) -> dict:
    """A layer that sets one of kimg / minutes also clears the other: a time budget replaces
    the preset's (or the file's) kimg and vice versa."""
    for name, other in (("kimg", "minutes"), ("minutes", "kimg")):
        if train.get(name) is not None and other not in train:
            return {**train, other: None}
    return train


def check_preset(file: dict, given: dict, config) -> None:
    """A config file replays its own preset: --model may not name another one."""
    recorded, asked = file.get("train", {}).get("preset"), given["train"].get("preset")
    if recorded and asked and recorded != asked:
        raise ConfigError(f"{config} was made with preset {recorded}; --model {asked} cannot "
                          f"replace it (edit train.preset in the file, or leave out --model)")


def source_facts(init_from: str | None) -> dict:
    """Fine-tuning keeps the source model's preset and resolution unless told otherwise."""
    if not init_from:
        return {}
    from .runfolder.locate import finetune_source
    _, info = finetune_source(init_from)
    return {"preset": info.get("preset", "dcgan"), "resolution": info["model"]["resolution"]}


def read_config_file(path: str | os.PathLike) -> dict[str, dict]:
    """A config.json (as a run writes it, or any part of it) -> {section: {field: value}},
    every key known and every value of its field's type; else a one-line ConfigError."""
    try:
        content = json.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not JSON: {e}") from None
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path} must hold a JSON object with sections "
                          f"{', '.join(SECTIONS)}")
    unknown = set(content) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"config file {path}: unknown section(s) {', '.join(sorted(unknown))}"
                          f"; valid: {', '.join(SECTIONS)}")
    out = {}
    for section, values in content.items():
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path}: {section} must be an object")
        out[section] = check_fields(SECTION_TYPES[section], values, f"config file {path}")
    return out
