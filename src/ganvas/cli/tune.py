"""The tune verb: a hyperparameter search whose trials are ordinary runs (ganvas.tune)."""

from __future__ import annotations

from ..errors import GanvasError
from .data import add_option_flags
from .options import model_help

FINAL_NUM, SNAPSHOT_NUM = 500, 128      # search's defaults (imported lazily, with Optuna)
# The defaults tune's help shows where they differ from train's: the length and the metric,
# which tune sets itself (search.OWN_OPTIONS), and its cheaper snapshot measurements.
TUNE_DEFAULTS = {"kimg": "set by --kimg-per-trial", "minutes": "set by --minutes-per-trial",
                 "metrics": "set by --metric", "metrics_num": f"default {SNAPSHOT_NUM}",
                 "snap_kimg": "default: K/4 with --kimg-per-trial K, else train's"}


def add_tune(sub) -> None:
    p = sub.add_parser(
        "tune", help="search training options for the best KID/FID/SWD (Optuna)",
        description="Train trial runs of --model on DATA with values of the searched options "
                    "chosen by Optuna, each measured at every snapshot; a median or Hyperband "
                    "pruner ends hopeless ones. The study lives in a database (SQLite "
                    "OUT/tune.db, or --storage), so running the same command again continues "
                    "it and several machines can share one. The other flags below fix "
                    "training options for every trial.")
    p.add_argument("data", nargs="?", help="dataset archive, image folder or demo:NAME")
    p.add_argument("--out", default="tune", help="folder for the trial runs, tune.db and "
                                                 "study.json (default tune)")
    p.add_argument("--model", metavar="PRESET", help=model_help("the preset of every trial"))
    p.add_argument("--trials", type=int, default=20,
                   help="finished trials the study should have in all (default 20)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes-per-trial", type=float, metavar="M")
    budget.add_argument("--kimg-per-trial", type=float, metavar="K",
                        help="(a snapshot and a cheap measurement every K/4 unless --snap-kimg)")
    p.add_argument("--metric", default="kid", help="the objective, lower is better: kid "
                                                   "(default; needs Inception weights), fid "
                                                   "or swd (needs none: works offline)")
    p.add_argument("--final-num", type=int, default=FINAL_NUM, metavar="N",
                   help="generated images (against as many training images) of the "
                        "measurement of each trial's best snapshot that is its value (default "
                        f"{FINAL_NUM}); the snapshots' measurements use --metrics-num (default "
                        f"{SNAPSHOT_NUM} in tune) against as many training images")
    p.add_argument("--space", metavar="FILE", help="search space (JSON or YAML) replacing the "
                                                   "preset's default one")
    p.add_argument("--storage", metavar="URL", help="Optuna database, e.g. postgresql://user:"
                                                    "pass@host/db (default sqlite OUT/tune.db)")
    p.add_argument("--study", metavar="NAME", help="study name (default preset-data-metric)")
    p.add_argument("--pruner", default="median", help="median (default), hyperband or none")
    p.add_argument("--show", action="store_true",
                   help="print the study's trials and best one, run nothing")
    p.set_defaults(run=run_tune, options=add_option_flags(p, TUNE_DEFAULTS))


def run_tune(a) -> None:
    from ..search import show, table, tune
    options = {f: getattr(a, f) for f in a.options if getattr(a, f) is not None}
    if a.show:
        if a.data or options:
            raise GanvasError("--show takes only --out, --storage and --study")
        summary = show(a.out, storage=a.storage, study=a.study)
        print(table(summary))
        if summary.get("report"):
            print(f"report {summary['report']}")
        return
    if not a.data:
        raise GanvasError("give a dataset (archive, image folder or demo:emoji)")
    tune(a.data, out=a.out, model=a.model, trials=a.trials,
         minutes_per_trial=a.minutes_per_trial, kimg_per_trial=a.kimg_per_trial,
         metric=a.metric, space=a.space, storage=a.storage, study=a.study, pruner=a.pruner,
         final_num=a.final_num, **options)
