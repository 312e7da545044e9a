"""Hyperparameter search: `ganvas.tune(data, out=..., model=..., trials=...)` and `show`.

study.py holds the study (Optuna, a database), space.py the search spaces, summary.py what a
study is worth reading: its table and study.json.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from ..config import resolve
from ..config.options import OFF
from ..durable import removed_on_failure
from ..errors import GanvasError
from ..limits import MAX_GENERATED
from ..training import runs
from .progress import Console, clock
from .space import check_space, default_space, parse_space, read_space_file, usable
from .study import (ERROR_ATTR, MEASURING_ATTR, METRICS, RUN_ATTR, SAMPLES_ATTR,
                    SECONDS_ATTR, StudyKey, TrialWatch, finished_states, make_pruner,
                    open_storage, open_study, optuna, redacted, schedule, storage_url, suggest)
from .report import write_tune_report
from .summary import summarize, table, write_study_json

__all__ = ["show", "table", "tune"]

# Training options a study sets itself (the budget and the objective).
OWN_OPTIONS = {"kimg": "--kimg-per-trial", "minutes": "--minutes-per-trial",
               "metrics": "--metric", "metrics_every": "--metric (at every snapshot)",
               "best_metric": "--metric"}
REPORTS_PER_TRIAL = 4       # with --kimg-per-trial, a snapshot (and a measurement) every 1/4
# A snapshot's measurement (the pruners' curve, the run's checkpoints/best) is cheap: this
# many generated images against as many training images (a fixed subset), unless
# --metrics-num says otherwise. The trial's value is one larger measurement of its best
# snapshot at the end, FINAL_NUM (--final-num) against as many training images. (SWD at
# 64 px on a 2-core CPU: about 20 s for 128 vs 128, 70 s for 500 vs 500, 4-6 min for
# 1,000 vs all 1,861 emoji, which 4 times a trial made a 0.2 kimg trial 98% measuring.)
SNAPSHOT_NUM = 128
FINAL_NUM = 500
MOSTLY_MEASURING = 0.5      # a trial measuring more than this share of its time: said once


def tune(data: str | os.PathLike, out: str | os.PathLike = "tune", model: str | None = None,
         trials: int = 20, minutes_per_trial: float | None = None,
         kimg_per_trial: float | None = None, metric: str = "kid",
         space: str | os.PathLike | dict | None = None, storage: str | None = None,
         study: str | None = None, pruner: str = "median", progress: bool = True,
         final_num: int = FINAL_NUM, **options) -> dict:
    """Search training options of `model` on `data` for the lowest `metric` (kid, fid or
    swd), in an Optuna study of `trials` finished trials in all (a study continued counts
    its earlier ones). Each trial is an ordinary run in `out`, trained for
    `minutes_per_trial` or `kimg_per_trial`, measured cheaply at each snapshot (metrics_num,
    default SNAPSHOT_NUM, generated images against as many training images: the pruner's
    curve and the run's checkpoints/best); the trial's value is its best snapshot measured
    on final_num generated images against as many training images.

    space: a --space file (JSON/YAML) or its dict (search/space.py), default: the preset's
    default space. storage: an Optuna database URL (default SQLite out/tune.db; postgresql://
    lets several `ganvas tune` share one study). study: its name (default preset-data-metric).
    pruner: median, hyperband or none. `options`: fixed training options for every trial
    (ganvas.train's keywords). Returns the study summary (also written to out/study.json)."""
    request = plan(data, out, model, trials, minutes_per_trial, kimg_per_trial, metric,
                   space, study, pruner, options, final_num)
    op = optuna()
    out = Path(out)
    url = storage_url(out, storage)
    if storage is None:                    # the default database lives in the output folder
        with removed_on_failure(out):      # ... which a database that cannot be made leaves
            out.mkdir(parents=True, exist_ok=True)
            db = open_storage(url)
    else:
        db = open_storage(url)             # a --storage refused before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    name = request["study"]
    opened = open_study(db, name, request["key"], make_pruner(pruner, *request["resource"]))
    done = len(opened.get_trials(deepcopy=False, states=finished_states()))
    left = trials - done
    console = Console(progress)
    say = console.say
    say(f"study {name!r} in {redacted(url)}: {len(request['space'])} options searched "
        f"({'; '.join(p.describe() for p in request['space'].values())})")
    say(request["measuring"])
    interrupted = False
    if left <= 0:
        say(f"the study already has {trials} finished trials; ask for more with --trials")
    else:
        callback = op.study.MaxTrialsCallback(trials, states=finished_states())
        console.start(trials, done)
        try:
            opened.optimize(objective(request, out, console), n_trials=left,
                            callbacks=[callback], catch=(Exception,), gc_after_trial=True)
        except KeyboardInterrupt:            # Ctrl-C, SIGTERM: the summary is still written
            interrupted = True
        finally:
            console.close()
    summary = summarize(opened, url)
    summary["report"] = str(write_tune_report(summary, opened, out))
    write_study_json(summary, out / "study.json")
    say(table(summary))
    say(f"report {summary['report']}")
    if interrupted:
        raise KeyboardInterrupt
    return summary


def plan(data, out, model, trials, minutes_per_trial, kimg_per_trial, metric, space, study,
         pruner, options, final_num: int = FINAL_NUM) -> dict:
    """Everything checked before the first trial: the budget, the metric (its weights), the
    fixed options (as train checks them), the search space and each of its values."""
    if not isinstance(trials, int) or trials < 1:
        raise GanvasError(f"--trials {trials}: give a number of trials of at least 1")
    if metric not in METRICS:
        raise GanvasError(f"--metric {metric}: choose from {', '.join(METRICS)}")
    if pruner not in ("median", "hyperband", "none"):
        raise GanvasError(f"--pruner {pruner}: choose from median, hyperband, none")
    if isinstance(final_num, bool) or not isinstance(final_num, int) or not (
            2 <= final_num <= MAX_GENERATED):
        raise GanvasError(f"--final-num {final_num}: give a whole number of generated images "
                          f"from 2 to {MAX_GENERATED:,}")
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
    fixed.setdefault("metrics_num", SNAPSHOT_NUM)
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
    check_extractors(base, metric)
    # Hyperband's resource, in steps (images seen): the first measurement, then the end of
    # a kimg budget (a --minutes-per-trial budget's: "auto", found from the first trials).
    first, end = schedule(base)
    resource = (first, None) if end is None else (min(first, end), end)
    key = StudyKey(data=data, model=base.train.preset, metric=metric,
                   space={n: p.to_dict() for n, p in chosen.items()},
                   fixed={k: as_json(v) for k, v in sorted({**fixed,
                                                            "final_num": final_num}.items())})
    name = study or f"{base.train.preset}-{runs.dataset_name(data)}-{metric}"
    num = base.metrics.num
    when = (f"at each snapshot (every {base.train.snap_kimg:g} of {kimg_per_trial:g} kimg)"
            if kimg_per_trial is not None else
            f"at each snapshot (every {base.train.snap_kimg:g} kimg)")
    measuring = (f"each trial: {metric} of {num:,} generated vs up to {num:,} training images "
                 f"{when}, then its best snapshot's of {final_num:,} generated vs up to "
                 f"{final_num:,} training images (its value)")
    return {"data": data, "model": model, "fixed": fixed, "space": chosen, "key": key,
            "study": name, "resource": resource, "metric": metric, "validate": validate,
            "final_num": final_num, "reals_limit": num, "measuring": measuring,
            "kimg": kimg_per_trial, "minutes": minutes_per_trial}


def as_json(value):
    """An option's value as the study database can store it (OFF as "none", paths as text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is OFF else str(value)


def check_extractors(cfg, metric: str) -> None:
    """The objective's feature extractor, built once now: a weight file that cannot be found
    or downloaded stops the study before its first trial, not every trial, in one line that
    names the metric that needs no weights."""
    from ..metrics.evaluate import build_extractors, extractor_plan, parse_feature_weights
    m = cfg.metrics
    try:
        build_extractors(extractor_plan(m.names(), m.extractor),
                         parse_feature_weights(m.feature_weights))
    except GanvasError as e:
        raise GanvasError(f"--metric {metric} needs feature-network weights: {e}; "
                          f"--metric swd needs none (it works offline)") from None


def final_measurement(run_dir: Path, metric: str, num: int, cfg) -> dict:
    """The run's best snapshot (checkpoints/best) measured as `ganvas eval --num num`
    measures it (seeds 0..num-1, the shared reference cache), against a fixed subset of as
    many training images (all of them when there are fewer): {"metrics", "generated",
    "reals"}."""
    from .. import api
    from ..data.dataset import open_training_images, recorded_dataset
    from ..metrics.evaluate import (build_extractors, extractor_plan, measure,
                                    parse_feature_weights, real_subset_of)
    from ..runfolder.layout import CHECKPOINTS_DIR
    from ..training.measure import BEST
    m = cfg.metrics
    plan = extractor_plan([metric], m.extractor)
    extractors = build_extractors(plan, parse_feature_weights(m.feature_weights))
    model = api.load(run_dir / CHECKPOINTS_DIR / BEST, device=cfg.train.device)
    dataset, digest = recorded_dataset(model.info, model.path)
    archive, bank = open_training_images(dataset, model.resolution, model.channels,
                                         bool(model.num_classes), expected_hash=digest)
    reals, key = real_subset_of(bank, archive.content_hash, num)
    fakes = model.generate(range(num))
    result = measure([metric], reals, fakes, extractors, plan, real_key=key,
                     device=cfg.train.device)
    return {"metrics": result["metrics"], "generated": num, "reals": len(reals)}


def objective(request: dict, out: Path, console: Console):
    """The function Optuna calls per trial: train a run with the trial's values, then
    measure its best snapshot; the time measuring (snapshots' and final) is said and kept."""
    op = optuna()
    say, metric = console.say, request["metric"]
    advised = []

    def run_trial(trial) -> float:
        started = time.monotonic()
        values = suggest(trial, request["space"])
        say(f"trial {trial.number}: " + ", ".join(f"{k}={v:g}" if isinstance(v, float)
                                                   else f"{k}={v}" for k, v in values.items()))
        watch = TrialWatch(trial, metric, reals_limit=request["reals_limit"],
                           on_images=console.trial(trial.number, request["kimg"],
                                                   request["minutes"]))
        final_s = 0.0

        def timed(kind: str) -> str:
            total = time.monotonic() - started
            measuring = watch.seconds + final_s
            trial.set_user_attr(SECONDS_ATTR, round(total, 2))
            trial.set_user_attr(MEASURING_ATTR, round(measuring, 2))
            return (f"{kind} in {clock(total)}, measuring {clock(measuring)} of it "
                    f"({share(measuring, total)}; {watch.measurements} snapshot(s) "
                    f"{clock(watch.seconds)}" + (f", the final {clock(final_s)}" if final_s
                                                 else "") + ")")

        try:
            try:
                resolved = request["validate"](values)
                watch.every, watch.end = schedule(resolved.config)
                runs.start(resolved, out, progress=False, watch=watch)
            finally:
                if watch.run_dir is not None:
                    trial.set_user_attr(RUN_ATTR, str(watch.run_dir))
            if watch.interrupted:
                trial.set_user_attr(ERROR_ATTR, "interrupted (Ctrl-C or SIGTERM)")
                raise KeyboardInterrupt
            if watch.pruned_at is not None:
                kimg, value = watch.pruned_at
                trial.set_user_attr(SAMPLES_ATTR, watch.samples)
                say(f"trial {trial.number} pruned at {kimg:g} kimg ({metric} {value:.4g}): "
                    + timed("ran"))
                raise op.TrialPruned(f"{metric} {value:.4g} at {kimg:g} kimg")
            if watch.best is None:
                raise GanvasError(f"the run measured no finite {metric}")
            began = time.monotonic()
            result = final_measurement(watch.run_dir, metric, request["final_num"],
                                       resolved.config)
            final_s = time.monotonic() - began
            value = result["metrics"].get(metric)
            if value is None or not math.isfinite(value):
                raise GanvasError(f"the final measurement of {watch.run_dir.name} gave "
                                  f"{metric} {value}")
            samples = f"{result['generated']:,} generated vs {result['reals']:,} training " \
                      f"image{'s' * (result['reals'] != 1)}"
            trial.set_user_attr(SAMPLES_ATTR, samples)
            say(f"trial {trial.number}: {metric} {value:.4g} ({samples}; its best snapshot): "
                + timed("ran"))
            if not advised and watch.seconds + final_s > MOSTLY_MEASURING * (
                    time.monotonic() - started):
                advised.append(True)
                say("note: measuring was most of this trial; a larger budget per trial "
                    "trains more for the same measurements (smaller --metrics-num or "
                    "--final-num measure faster, more noisily)")
            return float(value)
        except (KeyboardInterrupt, op.TrialPruned):
            raise
        except Exception as e:
            trial.set_user_attr(ERROR_ATTR, f"{type(e).__name__}: {e}"[:500])
            say(f"trial {trial.number} failed: {e}")
            raise
        finally:
            console.finished_trial()

    return run_trial


def share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


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
