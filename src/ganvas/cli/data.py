"""Verbs that make datasets and models: prepare, train, demo."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanvasError


def add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="turn a folder of images into a dataset archive",
                       description="Scan SRC for images, clean them, write one archive OUT.")
    p.add_argument("src", help="folder of images (searched recursively)")
    p.add_argument("out", help="archive file to write, e.g. frogs.zip")
    p.add_argument("--resolution", type=int, default=64,
                   help="power of two (default 64); the short side with --aspect")
    p.add_argument("--aspect", default="1:1", metavar="W:H",
                   help="picture shape, e.g. 16:9, 3:2, 2:1 or 1:2 (default 1:1): the nearest "
                        "the models make (quarter steps from 1:4 to 4:1; 16:9 -> 7:4)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3, 4))
    p.add_argument("--crop", default="center", choices=("center", "pad"),
                   help="center: crop the largest centred box of the aspect; pad: fit the "
                        "whole picture and pad with white (transparent for 4 channels)")
    p.add_argument("--labels", default="none", choices=("folders", "none"),
                   help="folders: class = first-level sub-folder")
    p.add_argument("--min-size", type=int, default=1, metavar="N",
                   help="skip images whose shorter side is below N px (default: keep every "
                        "image, upscaling those smaller than the resolution)")
    p.set_defaults(run=run_prepare)


def run_prepare(a) -> None:
    from ..data.prepare import prepare
    summary = prepare(a.src, a.out, resolution=a.resolution, channels=a.channels,
                      crop=a.crop, labels=a.labels, min_size=a.min_size, aspect=a.aspect)
    print(summary)


SECTION_TITLES = {"model": "model options", "train": "training options",
                  "augment": "augmentation options", "metrics": "metrics options"}


def add_train(sub) -> None:
    from .options import model_help
    p = sub.add_parser("train", help="train a GAN on a dataset (or resume a run)",
                       description="Train on DATA (archive, image folder or demo:emoji), or "
                                   "continue a run with --resume RUN_DIR. Each option says its "
                                   "default; --dry-run shows the values a run would use.")
    p.add_argument("data", nargs="?", help="dataset archive, image folder or demo:NAME "
                                           "(with --config: default its train.data)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last snapshot")
    p.add_argument("--config", metavar="CONFIG_JSON",
                   help="replay a run's config.json; the other flags override its values")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved configuration and where each value came from, "
                        "then exit without writing anything")
    p.add_argument("--out", default="runs", help="folder for numbered run directories "
                                                 "(default runs); the same command run again "
                                                 "into it continues the run it made")
    p.add_argument("--new-run", action="store_true",
                   help="start a new run even if --out holds one with these data and options")
    p.add_argument("--model", metavar="PRESET", help=model_help("a preset"))
    p.add_argument("--gpus", type=int, metavar="N",
                   help="train on N GPUs of this machine: starts N processes with torchrun "
                        "(--batch stays the global batch); with --device cpu, N processes "
                        "on the CPU")
    p.set_defaults(run=run_train, options=add_option_flags(p))


def add_option_flags(p, defaults: dict[str, str] | None = None) -> list[str]:
    """One flag per training option (config.options), grouped by section, each help with its
    real default (option_defaults; `defaults`: keyword -> the default a verb sets itself);
    returns the keywords of ganvas.train they set (argparse dests)."""
    from ..config.options import argparse_spec
    from ..config.schema import all_options
    from ..config.validation import registered_names
    from .option_defaults import default_text
    defaults = defaults or {}
    groups, exclusive = {}, {}
    for opt in all_options().values():
        if opt.section not in groups:
            groups[opt.section] = p.add_argument_group(SECTION_TITLES[opt.section])
        group = groups[opt.section]
        if opt.exclusive:
            if opt.exclusive not in exclusive:
                exclusive[opt.exclusive] = group.add_mutually_exclusive_group()
            group = exclusive[opt.exclusive]
        default = default_text(opt, defaults.get(opt.api))
        group.add_argument(opt.flag, dest=opt.api,
                           **argparse_spec(opt, registered_names(opt), default))
    return list(all_options())


def run_train(a) -> None:
    from ..api import resume, train
    from ..training.distributed import World, main_process
    from ..training.runs import prepare_data
    from .launch import check_launch, launch
    options = {f: getattr(a, f) for f in a.options if getattr(a, f) is not None}
    if a.gpus is not None and a.gpus != 1:
        if a.dry_run:
            raise GanvasError("--gpus and --dry-run do not go together (drop --gpus to see "
                              "the configuration)")
        check_launch(a.gpus, options.get("device"))
        if a.resume:
            cfg = check_resume(a, options)
        else:               # options checked and the data prepared once, before N processes
            cfg = train(a.data, out=a.out, model=a.model, config=a.config, dry_run=True,
                        **options).config
            prepare_data(cfg)
        World(size=a.gpus).local_batch(cfg.train.batch)
        raise SystemExit(launch(a.gpus, a.argv))
    if a.resume:
        check_resume(a, options)
        if a.dry_run:
            from ..training.runs import resume_dry_run
            print(resume_dry_run(Path(a.resume), a.kimg, a.minutes, a.device))
            return
        run = resume(a.resume, kimg=a.kimg, minutes=a.minutes, device=a.device)
        if main_process():
            print(run)
        return
    result = train(a.data, out=a.out, model=a.model, config=a.config, dry_run=a.dry_run,
                   new_run=a.new_run, **options)
    if a.dry_run:
        from .dry_run import dry_run_table
        print(dry_run_table(result))
    elif main_process():
        print(result)


def check_resume(a, options: dict):
    """--resume's own rules: only --kimg, --minutes, --device (and --gpus) beside it; with
    --gpus, the run's configuration (checked before the processes start)."""
    from ..config.options import OFF
    if a.data or a.config or a.new_run or set(options) - {"kimg", "minutes", "device"}:
        raise GanvasError("--resume takes only --kimg, --minutes, --device or --dry-run; "
                          "the rest comes from the run")
    if OFF in (a.kimg, a.minutes):
        raise GanvasError("--resume needs a number of --kimg or --minutes, not none")
    if a.gpus is not None:                   # the run's configuration, checked
        from ..training.runs import resume_config
        return resume_config(Path(a.resume), a.kimg, a.minutes, a.device)
    return None


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="train on the bundled emoji for a few minutes, show results")
    p.add_argument("--minutes", type=float, default=5.0, help="training time (default 5)")
    p.add_argument("--out", default="ganvas-demo", help="folder for the run, grid and GIF")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_demo)


def run_demo(a) -> None:
    from ..api import demo
    if a.minutes <= 0:
        raise GanvasError("--minutes must be positive")
    paths = demo(out=a.out, minutes=a.minutes, seed=a.seed)
    print(f"run:  {paths['run']}\ngrid: {paths['grid']}\nwalk: {paths['walk']}")
