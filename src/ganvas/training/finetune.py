"""Fine-tuning (transfer learning): start a run from another model's G, G_ema and D (a ganvas
run, snapshot or imported folder, or an NVlabs pickle: runfolder/locate.finetune_source).

The model's configuration follows the source (config/resolve.py layers it under the options);
what the data decides must fit it: the picture size, shape and channels (a one-line error
naming what would), while another number of classes gets a new class embedding."""

from __future__ import annotations

from dataclasses import asdict, fields

import torch

from ..aspect import describe
from ..config.schema import ModelConfig
from ..errors import GanvasError
from ..runfolder.locate import NETWORKS, FinetuneSource

CHANNELS = {1: "grey", 3: "RGB", 4: "RGBA"}


def _data_fits(cfg: ModelConfig, source: dict, model: str) -> None:
    """The data's picture (size, shape, channels) against the source's, in the user's words."""
    theirs = (source.get("resolution"), source.get("aspect", "1:1"), source.get("channels"))
    if (cfg.resolution, cfg.aspect, cfg.channels) == theirs:
        return
    res, aspect, channels = theirs
    wanted = f"{describe(res, aspect)} px {CHANNELS.get(channels, channels)}"
    have = f"{describe(cfg.resolution, cfg.aspect)} px {CHANNELS.get(cfg.channels, cfg.channels)}"
    raise GanvasError(f"cannot fine-tune from {model}: it makes {wanted} pictures, this run's "
                      f"are {have}; prepare the data as it needs (ganvas prepare FOLDER "
                      f"--resolution {res} --aspect {aspect} --channels {channels})")


SHOWN_DIFFERENCES = 2        # fields a mismatch names (the first in ModelConfig's order)
ADVICE = "drop --model and the model options: the run then takes the source's model"


def check_compatible(cfg: ModelConfig, source: dict, model: str) -> bool:
    """A one-line error when the new model differs from the source beside the number of
    classes: the family when it differs, else the first differing fields (ModelConfig's
    order: the picture before the widths), how many more, and how to fix it; True when
    only the classes differ (a new class embedding)."""
    _data_fits(cfg, source, model)
    ours = asdict(cfg)
    names = [f.name for f in fields(ModelConfig) if f.name != "num_classes"]
    differ = [n for n in names if source.get(n) != ours[n]]
    if not differ:
        return source.get("num_classes") != cfg.num_classes
    if "family" in differ:
        what = (f"it is a {source.get('family')} model, this run a {cfg.family} one "
                f"({len(differ) - 1} more fields differ)")
    else:
        shown = "; ".join(f"{n} {source.get(n)!r} there, {ours[n]!r} here"
                          for n in differ[:SHOWN_DIFFERENCES])
        more = len(differ) - SHOWN_DIFFERENCES
        what = f"its {shown}" + (f" (+{more} more)" if more > 0 else "")
    raise GanvasError(f"cannot fine-tune from {model}: {what}; {ADVICE}")


def load_weights(trainer, source: FinetuneSource, new_classes: bool) -> list[str]:
    """G, G_ema and D of the source into the trainer (optimisers start fresh). With another
    number of classes, tensors whose shape the classes decide (the class embeddings and the
    layers reading them) keep their fresh initialisation and a class embedding the new model
    lacks is left out; returns the names of both."""
    changed = []
    for name in NETWORKS:
        module = getattr(trainer, name)
        state = source.state(name)
        if not new_classes:
            _load_strict(module, state, name, source.name)
            continue
        ours = module.state_dict()
        keep = {key: state[key] if key in state and state[key].shape == tensor.shape
                else tensor for key, tensor in ours.items()}
        changed += [f"{name}.{key}" for key in ours if keep[key] is ours[key]]
        changed += [f"{name}.{key}" for key in state if key not in ours]
        module.load_state_dict(keep)
    return changed


def _load_strict(module: torch.nn.Module, state: dict, name: str, model: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise GanvasError(f"cannot fine-tune from {model}: its {name} does not fit "
                          f"({lines[-1]})") from None


def console_lines(source: FinetuneSource, cfg, fresh: list[str]) -> list[str]:
    """What the console says of a fine-tuning start."""
    lines = [f"fine-tuning from {source.name}"
             + (f", counting on from its {source.start_kimg:g} kimg"
                if source.start_kimg else "")]
    if source.augment_p is not None and cfg.augment.mode in ("ada", "fixed"):
        lines.append(f"augmentation p starts at {cfg.augment.p:g} (the source's)"
                     if cfg.augment.p == source.augment_p else
                     f"augmentation p starts at {cfg.augment.p:g} (the source reached "
                     f"{source.augment_p:g})")
    if fresh:
        was, now = source.info["model"].get("num_classes"), cfg.model.num_classes
        what = (f"a new class embedding for {now} classes" if now else
                "unconditional (no --conditional), its class embedding left out")
        lines.append(f"{what} (the source had {was or 'none'}): {len(fresh)} tensors start "
                     f"fresh or are left out ({', '.join(fresh[:4])}"
                     + (", ..." if len(fresh) > 4 else "") + ")")
    return lines
