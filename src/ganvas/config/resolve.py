"""From a training request to the configuration it trains with, and where each value came from.

Layers, lowest first: the dataclass defaults, the preset (at the model resolution), a config
file (`config=`: a run's config.json, or any part of it), then the options given (keywords of
`ganvas.train`, flags of `ganvas train`). What follows from other values is settled here, in
one place: the DiffAugment policy of `--aug diffaug`, `--precision auto` for the device (with
the family's own float16 layers: Family.own_fp16), `--rec-distance auto` (VGG-16 weights at
hand or not) and `--aug auto` when the image count is known, each derived from values
already validated (config.validation, once); a run that names no preset gets the device's
default, on a GPU the one for the data's image count (config.presets.default_preset; `plan`
counts before the data opens). The result is handed out as a `Resolved`, which everything
downstream trusts. `plan` writes nothing, so a dry run and a real run fail on the same
mistakes before any folder is touched. What only the data can tell (channels, aspect, the
class count, and `--aug auto` for an image folder) is filled in when the data opens
(`with_data`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..data.archive import read_meta
from ..data.dataset import locate_dataset, peek_image_count, peek_resolution
from ..device import fast_precision, pick_device
from ..errors import ConfigError, GanvasError
from ..metrics.weights import at_hand
from ..models import family_of
from ..runfolder.locate import finetune_source
from ..threads import auto_threads, many_processes
from .options import OFF, check_fields, check_type
from .presets import PRESETS, default_preset
from .schema import AUTO, FROM_DATA, SECTION_TYPES, SECTIONS, RunConfig, all_options
from .validation import validate

# Where a value came from (Resolved.sources).
DEFAULT, PRESET, FILE, GIVEN = "default", "preset", "config file", "option"
DATASET, SOURCE, DERIVED = "dataset", "init-from model", "derived"
FROM_THE_DATA = {"model.channels", "model.aspect"}   # the dataset's, set when it is opened


@dataclass(frozen=True)
class Resolved:
    """A resolved training configuration: `config` (validated, settled for its device;
    num_classes, channels and aspect may still be the data's to fill in) and `sources`,
    "section.field" -> default, preset, config file, option, dataset (the data's
    resolution), init-from model or derived (from another value). Only this module makes
    one; training takes it as it is."""

    config: RunConfig
    sources: dict[str, str]

    def rows(self, given: str = GIVEN, only: Callable[[str], bool] | None = None
             ) -> list[tuple[str, str, str]]:
        """(name, value, source) of every value (or of those whose "section.field" key
        `only` keeps), preset and data first, then section by section; options are named by
        keyword, or by flag when `given` is "flag" (internal fields by section.field)."""
        table = {opt.key: opt for opt in all_options().values()}
        t = self.config.train
        rows = [("preset", t.preset, self.label("train.preset", given)),
                ("data", t.data, self.label("train.data", given))]
        for section in SECTIONS:
            for name, value in dataclasses.asdict(getattr(self.config, section)).items():
                key, opt = f"{section}.{name}", table.get(f"{section}.{name}")
                if key not in ("train.preset", "train.data") and (only is None or only(key)):
                    shown = key if opt is None else opt.flag if given == "flag" else opt.api
                    rows.append((shown, show_value(key, value), self.label(key, given)))
        return rows

    def render(self, given: str = GIVEN, only: Callable[[str], bool] | None = None) -> str:
        """The rows (`only`: as rows) as aligned text, one line each."""
        rows = self.rows(given, only)
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
    facts = source_facts(top(layers, "train", "init_from"), top(layers, "train", "preset"))
    if facts:
        layers.insert(0, (SOURCE, facts))
    if top(layers, "model", "resolution") is None:
        # Presets may follow the resolution (StyleGAN2's auto config): the data's.
        layers.insert(0, (DATASET, {"model": {"resolution": peek_resolution(spec)}}))
    # The default preset follows the data's size: counted now (an image folder's files too).
    size = None if top(layers, "train", "preset") else peek_image_count(spec)
    return assemble(layers, peek_num_images(spec), size)


def preset(name: str, **options: Any) -> Resolved:
    """Preset `name` with `options` (keywords of ganvas.train), no data: the configuration
    tests and benchmarks build a Trainer from, made as `plan` makes one (merged, settled for
    its device, validated); the data's values (channels, aspect, the class count, `--aug
    auto`) stay until the data opens (`with_data`)."""
    given = to_sections(options)
    given["train"]["preset"] = check_type("model", name, str, False, "option")
    return assemble([(GIVEN, given)], None)


def assemble(layers: list[tuple[str, dict]], num_images: int | None,
             data_size: int | None = None) -> Resolved:
    """Defaults, the preset (at the layers' resolution, or its 64 px values) and `layers`
    merged and validated once; then settled (the DiffAugment policy, precision for the device,
    `--aug auto` when `num_images` is known), which derives values only from checked ones.
    Without a preset in `layers`, the device's default for `data_size` images (None: not
    known) at the layers' resolution."""
    device = pick_device(top(layers, "train", "device") or "auto")   # a device error now
    chosen = top(layers, "train", "preset")
    resolution = top(layers, "model", "resolution") or 0
    name, why = (chosen, "") if chosen else default_preset(device.type, data_size, resolution)
    batch = top(layers, "train", "batch")
    values, sources = merge([(PRESET, preset_layer(name, resolution, batch)), *layers])
    # Why the preset is the default for the device and data; one given (or replayed) needs none.
    values["train"]["preset_chosen_by"] = why
    sources["train.preset_chosen_by"] = DERIVED
    if not chosen:
        sources["train.preset"] = f"{DEFAULT} on {device.type}"
    explicit_augmentation(values["augment"], sources)
    # An option a GPU's default cannot take says which preset the data chose, and why.
    note = "" if chosen or device.type == "cpu" else f"preset {name}: {why}; --model NAME to choose"
    cfg = checked(values, note)
    settled = settle(cfg, device, num_images)
    for key, source in changed(cfg, settled).items():
        sources[key] = source
    return Resolved(settled, sources)


def checked(values: dict[str, dict], note: str = "") -> RunConfig:
    """The RunConfig of merged `values`, validated; a ConfigError ends with `note` (if any)."""
    try:
        cfg = RunConfig(**{s: SECTION_TYPES[s](**values[s]) for s in SECTIONS})
        validate(cfg)
    except ConfigError as e:
        if not note:
            raise
        raise ConfigError(f"{e} ({note})") from None
    return cfg


def settle(cfg: RunConfig, device, num_images: int | None = None) -> RunConfig:
    """`cfg` with what follows from other values filled in: the DiffAugment policy of `--aug
    diffaug`, `--precision auto` for torch.device `device` (the rule: device.fast_precision,
    told whether the family runs float16 layers of its own), `--rec-distance auto` for a
    family whose D reconstructs (metrics.weights.at_hand), `--aug auto` for `num_images`
    (None: not known yet). A concrete precision or augmentation (a resumed run's) stays."""
    augment = dataclasses.replace(cfg.augment, diffaug=cfg.augment.policy())
    if num_images is not None:
        augment = augment.settled(num_images)
    train = cfg.train
    family = family_of(cfg.model.family)
    if train.precision == AUTO:
        precision, why = fast_precision(device, family.own_fp16(cfg.model))
        train = dataclasses.replace(train, precision=precision, precision_chosen_by=why)
    if train.threads == 0 and device.type == "cpu" and not many_processes():
        threads, why = auto_threads()
        train = dataclasses.replace(train, threads=threads, threads_chosen_by=why)
    if train.rec_distance == AUTO and family.capabilities.d_reconstruction:
        train = dataclasses.replace(train, rec_distance=("vgg16-lpips" if at_hand("vgg16")
                                                         else "laplacian-l1"))
    return dataclasses.replace(cfg, train=train, augment=augment)


def changed(before: RunConfig, after: RunConfig) -> dict[str, str]:
    """The sources of what `settle` changed: the reason for precision and augment.mode,
    "derived" for the rest."""
    out = {}
    for section in ("train", "augment"):
        old, new = dataclasses.asdict(getattr(before, section)), dataclasses.asdict(
            getattr(after, section))
        out.update({f"{section}.{k}": DERIVED for k in new if new[k] != old[k]})
    if "train.threads" in out:
        out["train.threads"] = after.train.threads_chosen_by
    if "train.precision" in out:
        out["train.precision"] = after.train.precision_chosen_by
    if "augment.mode" in out:
        out["augment.mode"] = after.augment.chosen_by
    if "train.rec_distance" in out:
        out["train.rec_distance"] = REC_DISTANCE_WHY[after.train.rec_distance]
    return out


REC_DISTANCE_WHY = {
    "vgg16-lpips": "auto: VGG-16 weights at hand",
    "laplacian-l1": "auto: the fallback without VGG-16 weights (GANVAS_WEIGHTS_VGG16 or the "
                    "cache; training does not download them)"}


def replay(cfg: RunConfig) -> RunConfig:
    """A run's recorded configuration (config.json, with a resume's --kimg, --minutes or
    --device put in) validated and settled as a new one is."""
    validate(cfg)
    return settle(cfg, pick_device(cfg.train.device))


def with_data(cfg: RunConfig, archive) -> RunConfig:
    """`cfg` with channels, aspect and num_classes taken from `archive` (a checked dataset)
    and `--aug auto` settled by its size, or a GanvasError for what only the data can tell:
    a conditional model without labels, another class count."""
    m = cfg.model
    classes = len(archive.class_names) if archive.labels is not None else 0
    if m.num_classes != 0 and classes == 0:
        raise GanvasError(f"model {cfg.train.preset} is conditional but {cfg.train.data} has no "
                          f"class labels: prepare it with --labels folders (a sub-folder "
                          f"per class)")
    if m.num_classes not in (0, FROM_DATA, classes):
        raise GanvasError(f"the model has {m.num_classes} classes but "
                          f"{cfg.train.data} has {classes}")
    model = dataclasses.replace(m, channels=archive.channels, aspect=archive.aspect,
                                num_classes=classes if m.num_classes == FROM_DATA
                                else m.num_classes)
    return dataclasses.replace(cfg, model=model, augment=cfg.augment.settled(len(archive)))


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
    path = locate_dataset(spec)
    return None if path.is_dir() else int(read_meta(path)["num_images"])


def preset_layer(name: str, resolution: int, batch: int | None = None) -> dict:
    """Preset `name` at `resolution` (and the batch asked for, None: the preset's) as a
    layer, with its name as train.preset."""
    layer = PRESETS.get(name)(resolution, batch)
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


# What a fine-tuned model takes from its source rather than from the data or the preset.
SOURCE_MODEL_SKIPS = ("channels", "aspect", "num_classes")


def source_facts(init_from: str | None, preset: str | None) -> dict:
    """Fine-tuning keeps the source's preset (an imported model: its family's recipe) and,
    unless another `preset` is named (whose model must then be the source's), its model;
    what the data decides is checked against it when the data opens. Also the augmentation
    p it reached and, for an NVlabs snapshot, its kimg; options given still win."""
    if not init_from:
        return {}
    source = finetune_source(init_from)
    model = {k: v for k, v in source.info["model"].items() if k not in SOURCE_MODEL_SKIPS}
    facts = {"model": {"resolution": model["resolution"]} if preset else model,
             "train": {"preset": source.info.get("preset") or "dcgan",
                       "start_kimg": source.start_kimg}}
    if source.augment_p is not None:
        facts["augment"] = {"p": source.augment_p}
    return facts


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


def to_sections(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ganvas.train keywords -> {section: {field: value}}; None = not given (dropped), OFF =
    off (None). Unknown keywords and values of the wrong type are ConfigErrors."""
    table = all_options()
    unknown = set(options) - set(table)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}; valid: "
                          f"{', '.join(sorted(table))}")
    out: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for name, value in options.items():
        if value is None:
            continue
        opt = table[name]
        if value is not OFF:
            value = check_type(name, value, opt.kind, False, "option")
        elif not opt.optional:
            raise ConfigError(f"option {name} cannot be turned off (OFF)")
        out[opt.section][opt.field] = opt.to_field(value)
    return out
