"""`ganvas tune`'s study: an Optuna study, kept in a database, whose trials are ordinary runs.

Each trial resolves the training options (the fixed ones, then the trial's values of the
searched ones) exactly as `ganvas train` does and trains a run in the output folder; the run
measures the objective at each snapshot as `ganvas eval` measures it (training's metrics:
seeds 0..num-1, the shared real-image cache) and reports it to the trial at its step, the
images seen (on the snapshot schedule, so trials line up), whose pruner may end the run
there. A pruned trial is PRUNED, a trial whose run fails is FAIL with the reason in
its "error" attribute; neither stops the study. The database (SQLite in the output folder, or
a server URL) holds the study, so a second `ganvas tune` with the same study continues it and
several at once share it; a heartbeat marks the trial of a worker that was killed as FAIL.
"""

from __future__ import annotations

import errno
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GanvasError
from ..metrics.evaluate import counts
from ..training.loop import Watch, interval_images
from .space import Space

DEFAULT_DB = "tune.db"
HEARTBEAT_S = 30            # a running trial's worker says it is alive this often
GRACE_S = 120               # ... and its trial is FAIL after this long without a word
PRUNERS = ("median", "hyperband", "none")
METRICS = ("kid", "fid", "swd")     # lower is better for all three
ERROR_ATTR, RUN_ATTR = "error", "run"
SAMPLES_ATTR = "samples"     # '1,000 generated vs 64 training images': behind the value
# A trial's time and the part of it spent measuring (snapshots' and final), in seconds.
SECONDS_ATTR, MEASURING_ATTR = "seconds", "measuring_seconds"
# What a reported step counts (TrialWatch): a study is continued only with the same unit.
STEP_UNIT = "images seen, on the snapshot schedule"
OPEN_ATTEMPTS = 3           # a new database's tables: one of several workers creates them
OPTUNA_MARKS = {"studies", "version_info"}   # the tables that make a database a study's


def optuna():
    """The optuna module, or a one-line error saying how to install it."""
    try:
        import optuna as module
    except ImportError:
        raise GanvasError("ganvas tune needs Optuna: pip install \"ganvas[tune]\"") from None
    module.logging.set_verbosity(module.logging.ERROR)     # tune says what happens itself
    # The heartbeat (how a killed worker's trial is found) is "experimental" in Optuna 4-5.
    warnings.filterwarnings("ignore", category=module.exceptions.ExperimentalWarning)
    return module


def storage_url(out: str | Path, storage: str | None) -> str:
    """--storage, else SQLite in the output folder."""
    if storage:
        return storage
    return f"sqlite:///{(Path(out) / DEFAULT_DB).resolve()}"


def redacted(url: str) -> str:
    """The URL without its password (for the console and study.json)."""
    head, sep, tail = url.partition("://")
    if "@" not in tail:
        return url
    creds, host = tail.rsplit("@", 1)
    if ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{head}{sep}{user}:***@{host}"


def open_storage(url: str, heartbeat: bool = True):
    """Optuna's RDBStorage at `url` (with the heartbeat that fails a dead worker's trial), or
    a one-line error: a server that does not answer, a driver that is not installed."""
    op = optuna()
    kwargs = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S} if heartbeat else {}
    path = sqlite_file(url)
    new_file = path is not None and not path.exists()
    for attempt in range(OPEN_ATTEMPTS):
        try:
            check_not_foreign(url)
            return op.storages.RDBStorage(url, engine_kwargs=engine_options(url), **kwargs)
        except GanvasError:
            raise
        except ModuleNotFoundError as e:
            raise GanvasError(f"--storage {redacted(url)}: its database driver is not "
                              f"installed ({e.name}; for PostgreSQL: pip install "
                              f"psycopg2-binary)") from None
        except Exception as e:                # noqa: BLE001 (SQLAlchemy's many errors)
            if "disk is full" in str(e) or "No space left" in str(e):
                # The machine's fault, no race: no retry, and no half-made database left.
                if new_file:
                    path.unlink(missing_ok=True)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                              str(path) if path else redacted(url)) from None
            # Workers that start together race to create the tables: the loser retries.
            if attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(1 + attempt)
                continue
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise GanvasError(f"--storage {redacted(url)}: cannot open the study database "
                              f"({first})") from None


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (sqlite:///PATH), None for another database."""
    prefix = "sqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) and url != prefix else None


def check_not_foreign(url: str) -> None:
    """A one-line error, before Optuna creates its tables there, when the database at `url`
    holds another program's tables: only an empty database (or one with some of Optuna's
    tables only: another worker creating them) or an Optuna study's may become a study's."""
    import sqlalchemy
    from optuna.storages._rdb.models import BaseModel
    engine = sqlalchemy.create_engine(url, **engine_options(url))
    try:
        tables = set(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    optunas = set(BaseModel.metadata.tables) | {"alembic_version"}
    if tables <= optunas or OPTUNA_MARKS <= tables:
        return
    others = sorted(tables - optunas)
    raise GanvasError(f"--storage {redacted(url)}: the database holds another program's "
                      f"tables ({', '.join(others[:3])}{', ...' * (len(others) > 3)}), not an "
                      f"Optuna study: give a new or empty database")


def engine_options(url: str) -> dict:
    """SQLite waits for the other writers instead of failing at once."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def make_pruner(name: str, first: int, last: int | None):
    """The --pruner. Trials report at steps in images seen (TrialWatch); Hyperband's resource
    runs from the step of a trial's first measurement (`first`: its first snapshot) to that
    of its end (`last`: the kimg per trial in images; None for a --minutes-per-trial budget,
    where Optuna's "auto" takes the last step of the first complete trial). With Optuna's
    reduction factor 3 that makes floor(log3(last / first)) + 1 brackets; bracket b checks a
    trial once it reports at or past first * 3^(b + r) images (r = 0, 1, ...) and prunes it
    unless it is in the best third of its bracket's trials there."""
    op = optuna()
    if name == "median":
        # The first 2 trials always finish: they are what later ones are compared with.
        return op.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "hyperband":
        return op.pruners.HyperbandPruner(min_resource=first,
                                          max_resource="auto" if last is None else last)
    if name == "none":
        return op.pruners.NopPruner()
    raise GanvasError(f"--pruner {name}: choose from {', '.join(PRUNERS)}")


def schedule(cfg) -> tuple[int, int | None]:
    """A run's snapshot interval and the end of its kimg budget (None: a minutes budget), in
    images, as its loop schedules them: the steps a TrialWatch reports at follow them."""
    t = cfg.train
    return interval_images(t.snap_kimg), t.target_images()


def schedule_step(images: int, every: int, end: int | None, last: int | None) -> int:
    """The Optuna step of a measurement after `images` images, in images: the point of the
    snapshot schedule it was due at (the last multiple of `every`, the snapshot interval; or
    `end`, a kimg budget's, once reached), since a batch overshoots it by a batch-dependent
    amount and the median pruner compares trials at equal steps only. A measurement off the
    schedule (a --minutes-per-trial budget's end, after that point's own snapshot or before
    the first) is at its own images. Steps grow: `last` is the trial's step before."""
    due = images // every * every
    if end is not None and images >= end:
        due = max(due, end)
    return due if due > (last or 0) else images


@dataclass
class TrialWatch(Watch):
    """Reports each measurement of a trial's run to Optuna at its step (schedule_step, with
    the run's snapshot interval `every` and kimg budget `end`, in images) and ends the run
    when pruned. `best` is the best (lowest) measurement: the pruners compare the curves'
    values as if they were the best so far, and the run keeps that snapshot as
    checkpoints/best (whose final measurement is the trial's value, search.objective).
    `seconds` sums the measurements' own times (metrics.jsonl's "seconds"); `on_images`
    hears the images seen after each training step (the progress bar)."""

    trial: object
    metric: str
    every: int = 1
    end: int | None = None
    last: float | None = None
    best: float | None = None
    step: int | None = None
    pruned_at: tuple[float, float] | None = field(default=None)
    samples: str = ""            # the counts behind `best`
    seconds: float = 0.0         # spent measuring snapshots
    measurements: int = 0
    reals_limit: int | None = None
    on_images: object = None

    def trained(self, images_seen: int) -> None:
        if self.on_images is not None:
            self.on_images(images_seen)

    def measured(self, entry: dict) -> bool:
        self.seconds += float(entry.get("seconds", 0.0))
        self.measurements += 1
        value = entry["metrics"].get(self.metric)
        if value is None or not math.isfinite(value):
            return False
        self.last = float(value)
        if self.best is None or self.last <= self.best:
            self.best = self.last
            if "generated" in entry and "reals" in entry:
                self.samples = counts(entry["generated"], entry["reals"])
        self.step = schedule_step(round(entry["kimg"] * 1000), self.every, self.end, self.step)
        self.trial.report(self.last, step=self.step)
        if self.trial.should_prune():
            self.pruned_at = (entry["kimg"], self.last)
            return True
        return False


def finished_states():
    op = optuna()
    return (op.trial.TrialState.COMPLETE, op.trial.TrialState.PRUNED,
            op.trial.TrialState.FAIL)


@dataclass(frozen=True)
class StudyKey:
    """What a study searches: a study continued must search the same, with the same budget
    per trial and fixed options (trials of other budgets are not comparable)."""

    data: str
    model: str
    metric: str
    space: dict
    fixed: dict = field(default_factory=dict)    # the budget and the options every trial gets
    steps: str = STEP_UNIT                        # what a reported step counts

    def attrs(self) -> dict:
        return {"data": self.data, "model": self.model, "metric": self.metric,
                "space": self.space, "fixed": self.fixed, "steps": self.steps}


# How open_study names a key that differs.
KEY_NAMES = {"fixed": "budget per trial or fixed options", "steps": "unit of pruning steps"}
# What a study made before a key attribute existed holds for it.
KEY_BEFORE = {"steps": "measurements counted 1, 2, 3"}


def open_study(storage, name: str, key: StudyKey, pruner, create: bool = True):
    """The study `name` in `storage`, created for `key` or, when it exists, checked to search
    what `key` says (else a one-line error naming the difference)."""
    op = optuna()
    exists = name in [s.study_name for s in op.study.get_all_study_summaries(storage)]
    if not exists and not create:
        raise GanvasError(f"no study {name!r} in the database")
    study = op.create_study(storage=storage, study_name=name, direction="minimize",
                            pruner=pruner, load_if_exists=True)
    if not exists:
        for k, v in key.attrs().items():
            study.set_user_attr(k, v)
        return study
    for k, v in key.attrs().items():
        saved = study.user_attrs.get(k, KEY_BEFORE.get(k))
        if saved is not None and saved != v:
            raise GanvasError(f"study {name!r} searches another {KEY_NAMES.get(k, k)} "
                              f"({short(saved)}, not {short(v)}): give the same, or a new "
                              f"--study")
    return study


def short(value) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(trial, space: Space) -> dict:
    return {name: param.suggest(trial) for name, param in space.items()}
