"""Hyperparameter search: `ganvas.tune(data, out=..., model=..., trials=...)` and `show`.

study.py holds the study (Optuna, a database), space.py the search spaces, summary.py what a
study is worth reading: its table and study.json.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import resolve
from ..config.options import OFF
from ..errors import GanvasError
from ..training import runs
from .space import check_space, default_space, parse_space, read_space_file, usable
from .study import (ERROR_ATTR, METRICS, RUN_ATTR, StudyKey, TrialWatch, finished_states,
                    make_pruner, open_storage, open_study, optuna, redacted, schedule,
                    storage_url, suggest)
from .report import write_tune_report
from .summary import summarize, table, write_study_json

__all__ = ["show", "table", "tune"]

# Training options a study sets itself (the budget and the objective).
OWN_OPTIONS = {"kimg": "--kimg-per-trial", "minutes": "--minutes-per-trial",
               "metrics": "--metric", "metrics_every": "--metric (at every snapshot)",
               "best_metric": "--metric"}
REPORTS_PER_TRIAL = 4       # with --kimg-per-trial, a snapshot (and a measurement) every 1/4


def tune(data: str | os.PathLike, out: str | os.PathLike = "tune", model: str | None = None,
         trials: int = 20, minutes_per_trial: float | None = None,
         kimg_per_trial: float | None = None, metric: str = "kid",
         space: str | os.PathLike | dict | None = None, storage: str | None = None,
         study: str | None = None, pruner: str = "median", progress: bool = True,
         **options) -> dict:
    """Search training options of `model` on `data` for the lowest `metric` (kid, fid or
    swd, measured at each snapshot as `ganvas eval` measures it), in an Optuna study of
    `trials` finished trials in all (a study continued counts its earlier ones). Each trial
    is an ordinary run in `out`, trained for `minutes_per_trial` or `kimg_per_trial`.

    space: a --space file (JSON/YAML) or its dict (search/space.py), default: the preset's
    default space. storage: an Optuna database URL (default SQLite out/tune.db; postgresql://
    lets several `ganvas tune` share one study). study: its name (default preset-data-metric).
    pruner: median, hyperband or none. `options`: fixed training options for every trial
    (ganvas.train's keywords). Returns the study summary (also written to out/study.json)."""
    request = plan(data, out, model, trials, minutes_per_trial, kimg_per_trial, metric,
                   space, study, pruner, options)
    op = optuna()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    url = storage_url(out, storage)
    db = open_storage(url)
    name = request["study"]
    opened = open_study(db, name, request["key"], make_pruner(pruner, *request["resource"]))
    left = trials - len(opened.get_trials(deepcopy=False, states=finished_states()))
    say = print if progress else (lambda *a, **k: None)
    say(f"study {name!r} in {redacted(url)}: {len(request['space'])} options searched "
        f"({'; '.join(p.describe() for p in request['space'].values())})")
    interrupted = False
    if left <= 0:
        say(f"the study already has {trials} finished trials; ask for more with --trials")
    else:
        callback = op.study.MaxTrialsCallback(trials, states=finished_states())
        try:
            opened.optimize(objective(request, out, progress, say), n_trials=left,
                            callbacks=[callback], catch=(Exception,), gc_after_trial=True)
        except KeyboardInterrupt:            # Ctrl-C, SIGTERM: the summary is still written
            interrupted = True
    summary = summarize(opened, url)
    summary["report"] = str(write_tune_report(summary, opened, out))
    write_study_json(summary, out / "study.json")
    say(table(summary))
    say(f"report {summary['report']}")
    if interrupted:
        raise KeyboardInterrupt
    return summary


def plan(data, out, model, trials, minutes_per_trial, kimg_per_trial, metric, space, study,
         pruner, options) -> dict:
    """Everything checked before the first trial: the budget, the metric, the fixed options
    (as train checks them), the search space and each of its values."""
    if not isinstance(trials, int) or trials < 1:
        raise GanvasError(f"--trials {trials}: give a number of trials of at least 1")
    if metric not in METRICS:
        raise GanvasError(f"--metric {metric}: choose from {', '.join(METRICS)}")
    if pruner not in ("median", "hyperband", "none"):
        raise GanvasError(f"--pruner {pruner}: choose from median, hyperband, none")
    for name, flag in OWN_OPTIONS.items():
        if options.get(name) is not None:
            raise GanvasError(f"tune sets {name} itself: use {flag}")
    if (minutes_per_trial is None) == (kimg_per_trial is None):
        raise GanvasError("give one budget per trial: --minutes-per-trial M or "
                          "--kimg-per-trial K")
    budget = minutes_per_trial if kimg_per_trial is None else kimg_per_trial
    if not isinstance(budget, (int, float)) or not budget > 0:
        raise GanvasError(f"the budget per trial must be a positive number, not {budget}")
    fixed = {**options, "metrics": metric, "metrics_every": 0, "best_metric": metric}
    if kimg_per_trial is not None:
        fixed["kimg"] = kimg_per_trial
        fixed.setdefault("snap_kimg", kimg_per_trial / REPORTS_PER_TRIAL)
    else:
        fixed["minutes"] = minutes_per_trial
    data = str(data)

    def validate(values: dict) -> resolve.Resolved:
        return resolve.plan(data, model, None, {**fixed, **values})

    base = validate({}).config
    if space is None:
        chosen = usable(default_space(base), validate)
    else:
        values = space if isinstance(space, dict) else read_space_file(space)
        chosen = parse_space(values, default_space(base))
        check_space(chosen, validate)
    if not chosen:
        raise GanvasError("the search space is empty: give --space FILE")
    check_extractors(base)
    # Hyperband's resource, in steps (images seen): the first measurement, then the end of
    # a kimg budget (a --minutes-per-trial budget's: "auto", found from the first trials).
    first, end = schedule(base)
    resource = (first, None) if end is None else (min(first, end), end)
    key = StudyKey(data=data, model=base.train.preset, metric=metric,
                   space={n: p.to_dict() for n, p in chosen.items()},
                   fixed={k: as_json(v) for k, v in sorted(fixed.items())})
    name = study or f"{base.train.preset}-{runs.dataset_name(data)}-{metric}"
    return {"data": data, "model": model, "fixed": fixed, "space": chosen, "key": key,
            "study": name, "resource": resource, "metric": metric, "validate": validate}

def as_json(value):
    """An option's value as the study database can store it (OFF as "none", paths as text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is OFF else str(value)


def check_extractors(cfg) -> None:
    """The objective's feature extractor, built once now: a weight file that cannot be found
    or downloaded stops the study before its first trial, not every trial."""
    from ..metrics.evaluate import build_extractors, extractor_plan, parse_feature_weights
    m = cfg.metrics
    build_extractors(extractor_plan(m.names(), m.extractor),
                     parse_feature_weights(m.feature_weights))


def objective(request: dict, out: Path, progress: bool, say):
    """The function Optuna calls per trial: train a run with the trial's values."""
    op = optuna()

    def run_trial(trial) -> float:
        values = suggest(trial, request["space"])
        say(f"trial {trial.number}: " + ", ".join(f"{k}={v:g}" if isinstance(v, float)
                                                   else f"{k}={v}" for k, v in values.items()))
        watch = TrialWatch(trial, request["metric"])
        try:
            resolved = request["validate"](values)
            watch.every, watch.end = schedule(resolved.config)
            runs.start(resolved, out, progress=progress, watch=watch)
        except Exception as e:
            if watch.run_dir is not None:
                trial.set_user_attr(RUN_ATTR, str(watch.run_dir))
            trial.set_user_attr(ERROR_ATTR, f"{type(e).__name__}: {e}"[:500])
            say(f"trial {trial.number} failed: {e}")
            raise
        trial.set_user_attr(RUN_ATTR, str(watch.run_dir))
        if watch.interrupted:
            trial.set_user_attr(ERROR_ATTR, "interrupted (Ctrl-C or SIGTERM)")
            raise KeyboardInterrupt
        if watch.pruned_at is not None:
            kimg, value = watch.pruned_at
            say(f"trial {trial.number} pruned at {kimg:g} kimg ({request['metric']} "
                f"{value:.4g})")
            raise op.TrialPruned(f"{request['metric']} {value:.4g} at {kimg:g} kimg")
        if watch.best is None:
            raise GanvasError(f"the run measured no finite {request['metric']}")
        say(f"trial {trial.number}: {request['metric']} {watch.best:.4g} (its best)"
            + (f": {watch.samples}" if watch.samples else ""))
        return watch.best

    return run_trial


def show(out: str | os.PathLike = "tune", storage: str | None = None,
         study: str | None = None) -> dict:
    """The summary of a study in a database (default: out/tune.db; the only study there, or
    `study`), without running a trial; out/tune.html is refreshed when `out` exists."""
    url = storage_url(out, storage)
    if storage is None and not (Path(out) / "tune.db").is_file():
        raise GanvasError(f"{out} has no study database (tune.db); give --storage URL")
    db = open_storage(url, heartbeat=False)
    names = [s.study_name for s in optuna().study.get_all_study_summaries(db)]
    if study is None:
        if len(names) != 1:
            raise GanvasError(f"the database holds {len(names)} studies"
                              + (f" ({', '.join(names)}): give --study" if names else ""))
        study = names[0]
    if study not in names:
        raise GanvasError(f"no study {study!r} in {redacted(url)}"
                          + (f" (it holds {', '.join(names)})" if names else ""))
    loaded = optuna().load_study(study_name=study, storage=db)
    summary = summarize(loaded, url)
    if Path(out).is_dir():                    # the page, refreshed where the study's runs are
        summary["report"] = str(write_tune_report(summary, loaded, Path(out)))
    return summary
