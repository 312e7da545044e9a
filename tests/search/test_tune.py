"""`ganvas tune`: Optuna studies in SQLite whose trials are ordinary runs; pruned and failed
trials recorded and the study going on; a study continued; the search space checked before
the first trial with train's one-line errors; a killed worker's trial marked FAIL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna")

import optuna  # noqa: E402

import ganvas  # noqa: E402
from ganvas import search  # noqa: E402
from ganvas.runfolder.snapshots import list_snapshots  # noqa: E402
from ganvas.errors import GanvasError  # noqa: E402
from ganvas.search import study as study_module  # noqa: E402

from tests.helpers import make_toy_archive, usage_error  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# 4 snapshots (a measurement each) of 4 steps of batch 16 at 16 px; SWD on 32 samples at
# each snapshot (against 32 of the 64 training images), the final one on 64 against all 64.
TRIAL = dict(model="dcgan-tiny", resolution=16, kimg_per_trial=0.064, metric="swd",
             metrics_num=32, final_num=64, tick_kimg=0.016, progress=False)
SPACE = {"lr_g": {"low": 1e-4, "high": 1e-3, "log": True}, "label_smoothing": [0.0, 0.1]}


class PruneSecond(optuna.pruners.BasePruner):
    """Prunes trial 1 at its first measurement (the default pruners need many trials)."""

    def prune(self, study, trial) -> bool:
        return trial.number == 1


@pytest.fixture(scope="module")
def toy16(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("data") / "toy16.zip")


@pytest.fixture
def pruning_and_failing(monkeypatch):
    """Trial 1 is pruned; the run of trial 2 fails as a full disk would fail it."""
    monkeypatch.setattr(search, "make_pruner", lambda name, first, last: PruneSecond())
    real_start = search.runs.start
    calls = []

    def start(cfg, out, progress=True, watch=None):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_start(cfg, out, progress=progress, watch=watch)

    monkeypatch.setattr(search.runs, "start", start)


def use_cache_in(monkeypatch, folder) -> None:
    """The ganvas cache in `folder` (conftest's autouse fixture does this for every test)."""
    monkeypatch.setenv("GANVAS_CACHE", str(folder))


def test_a_study_of_real_runs_records_best_pruned_and_failed_trials_and_continues(
        toy16, tmp_path, pruning_and_failing, monkeypatch):
    summary = ganvas.tune(str(toy16), out=tmp_path, trials=3, space=SPACE, **TRIAL)
    states = [t["state"] for t in summary["trials"]]
    assert states == ["COMPLETE", "PRUNED", "FAIL"]
    complete, pruned, failed = summary["trials"]
    # Each trial is an ordinary run: its folder, config, snapshots, metrics and report.
    run = Path(complete["run"])
    assert (run / "config.json").is_file() and (run / "report.html").is_file()
    assert [s.name for s in list_snapshots(run)][-1] == "kimg-000000.064"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["lr_g"] == pytest.approx(complete["params"]["lr_g"])
    assert cfg["train"]["label_smoothing"] == complete["params"]["label_smoothing"]
    entries = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # The snapshots are measured cheaply: 32 generated against 32 of the 64 training images.
    assert len(entries) == 4
    assert {(e["generated"], e["reals"]) for e in entries} == {(32, 32)}
    # Its value is its best snapshot (checkpoints/best, the lowest of those) measured on 64
    # generated against as many training images (here all 64: as `ganvas eval --num 64`).
    flagged = [e for e in entries if e.get("best")]
    assert flagged[-1] == min(entries, key=lambda e: e["metrics"]["swd"])
    evaluated = ganvas.evaluate(str(run / "checkpoints" / "best"), "swd", num=64)
    assert evaluated["reals"] == 64
    assert complete["value"] == pytest.approx(evaluated["metrics"]["swd"])
    # The time of each trial and the part of it spent measuring, measured.
    assert complete["measuring_seconds"] >= sum(e["seconds"] for e in entries)
    assert 0 < complete["measuring_seconds"] < complete["seconds"]
    # The pruned trial stopped at its first measurement, its snapshot kept.
    assert [s.name for s in list_snapshots(Path(pruned["run"]))] == ["kimg-000000.016"]
    assert pruned["note"].startswith("pruned after 1 measurement(s), at 0.016 kimg: ")
    assert "No space left on device" in failed["note"]
    assert summary["best"]["trial"] == 0
    assert summary["best"]["config"] == str(run / "config.json")
    # The value says what it was measured on: 32 generated against all 64 training images.
    assert complete["samples"] == "64 generated vs 64 training images"
    assert "(64 generated vs 64 training images)" in search.table(summary)
    assert json.loads((tmp_path / "study.json").read_text()) == summary
    # A second call continues the same study to 4 finished trials, with the pruner and the
    # start of runs as they are (undo() would also drop the test's own cache folder).
    monkeypatch.undo()
    use_cache_in(monkeypatch, tmp_path / "cache")
    again = ganvas.tune(str(toy16), out=tmp_path, trials=4, space=SPACE, **TRIAL)
    assert [t["trial"] for t in again["trials"]] == [0, 1, 2, 3]
    assert again["trials"][3]["state"] in ("COMPLETE", "PRUNED")
    assert again["counts"]["fail"] == 1
    assert ganvas.show_study(tmp_path)["trials"] == again["trials"]
    page = (tmp_path / "tune.html").read_text()
    for part in ("Objective over trials", "Parameter importances", "Best trial", "data:image",
                 "(64 generated vs 64 training images)"):
        assert part in page
    assert (tmp_path / "plots" / "objective.png").is_file()
    # 2 complete trials by now: too few for importances, and the page says so.
    assert not (tmp_path / "plots" / "importance.png").exists()
    assert "Not shown: 2 completed trials; importances need at least 8" in page
    # The same study over another space is a mistake, said before any trial.
    with pytest.raises(GanvasError, match="searches another space"):
        ganvas.tune(str(toy16), out=tmp_path, trials=5, space={"lr_g": SPACE["lr_g"]},
                    study=again["study"], **TRIAL)
    # ... and so is another budget per trial (its trials would not compare with these).
    with pytest.raises(GanvasError, match="searches another budget per trial or fixed options"):
        ganvas.tune(str(toy16), out=tmp_path, trials=5, space=SPACE, study=again["study"],
                    **{**TRIAL, "kimg_per_trial": 0.128})
    assert ganvas.show_study(tmp_path)["trials"] == again["trials"]


def test_the_retrain_command_works_on_the_best_config(toy16, tmp_path):
    summary = ganvas.tune(str(toy16), out=tmp_path, trials=1, space=SPACE, pruner="none",
                          **TRIAL)
    run = ganvas.train(config=summary["best"]["config"], out=tmp_path / "longer", kimg=0.08,
                       progress=False)
    assert list_snapshots(run)[-1].name == "kimg-000000.080"


def test_the_default_space_follows_what_the_preset_uses():
    from ganvas.config.resolve import preset
    from ganvas.search.space import default_space
    dcgan = default_space(preset("dcgan-tiny").config)
    assert {"lr_g", "lr_d", "beta1", "batch", "label_smoothing", "diffaug"} == set(dcgan)
    assert dcgan["lr_g"].log and dcgan["lr_g"].low == pytest.approx(1e-4)
    sg2 = default_space(preset("stylegan2-tiny").config)
    assert "r1_gamma" in sg2 and "target" in sg2 and "label_smoothing" in sg2
    assert sg2["r1_gamma"].high / sg2["r1_gamma"].low == pytest.approx(64)
    wgan = default_space(preset("wgan-gp-tiny").config)
    assert {"gp_lambda", "n_critic"} <= set(wgan) and "label_smoothing" not in wgan


def space_error(tmp_path, capsys, toy, space, name="space.json", text=None) -> str:
    path = tmp_path / name
    path.write_text(text if text is not None else json.dumps(space))
    return usage_error(["tune", str(toy), "--out", str(tmp_path / "t"), "--model", "dcgan-tiny",
                        "--kimg-per-trial", "1", "--space", str(path)], capsys)


def test_search_space_mistakes_are_one_line_before_any_trial(toy16, tmp_path, capsys):
    assert "not a training option" in space_error(tmp_path, capsys, toy16, {"lr": [1, 2]})
    assert "must be below high" in space_error(
        tmp_path, capsys, toy16, {"lr_g": {"low": 1e-3, "high": 1e-4}})
    assert "log range needs low > 0" in space_error(
        tmp_path, capsys, toy16, {"lr_g": {"low": 0, "high": 1e-3, "log": True}})
    # A value train refuses, with train's reason.
    assert "label_smoothing = 0.7" in space_error(
        tmp_path, capsys, toy16, {"label_smoothing": {"low": 0.0, "high": 0.7}})
    assert "takes a list of values" in space_error(
        tmp_path, capsys, toy16, {"loss": {"low": 0, "high": 1}})
    assert "not valid YAML" in space_error(tmp_path, capsys, toy16, None, "space.yaml",
                                           "lr_g: [1, 2")
    assert "default space has no range" in space_error(tmp_path, capsys, toy16,
                                                       {"r1_gamma": "default"})
    assert not (tmp_path / "t").exists()                # nothing written


def test_a_yaml_space_narrows_the_default_one(toy16, tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("lr_g: default\nbatch: [8, 16]\n")
    summary = ganvas.tune(str(toy16), out=tmp_path / "t", trials=1, space=path, pruner="none",
                          **TRIAL)
    assert set(summary["space"]) == {"lr_g", "batch"}
    assert summary["space"]["lr_g"] == {"low": 1e-4, "high": pytest.approx(1.6e-3),
                                        "log": True}


def test_tune_option_mistakes_are_one_line(toy16, tmp_path, capsys, monkeypatch):
    base = ["tune", str(toy16), "--out", str(tmp_path / "t"), "--model", "dcgan-tiny"]
    assert "one budget per trial" in usage_error(base, capsys)
    assert "--kimg-per-trial" in usage_error([*base, "--kimg", "1", "--minutes-per-trial",
                                              "1"], capsys)
    assert "choose from kid, fid, swd" in usage_error([*base, "--kimg-per-trial", "1",
                                                       "--metric", "is"], capsys)
    assert "at least 1" in usage_error([*base, "--kimg-per-trial", "1", "--trials", "0"],
                                       capsys)
    assert "batch must be" in usage_error([*base, "--kimg-per-trial", "1", "--batch", "0"],
                                          capsys)
    assert "no study database" in usage_error(["tune", "--show", "--out",
                                               str(tmp_path / "none")], capsys)
    assert "--final-num 1: give a whole number" in usage_error(
        [*base, "--kimg-per-trial", "1", "--final-num", "1"], capsys)
    # KID's Inception weights cannot be found or downloaded here: said once, before any
    # trial, naming the metric that needs none; for the default metric (kid) too.
    monkeypatch.setenv("GANVAS_WEIGHTS_INCEPTION_V3", str(tmp_path / "missing.pth"))
    for metric in (["--metric", "kid"], []):
        err = usage_error([*base, "--kimg-per-trial", "1", *metric], capsys)
        assert "inception" in err.lower() and "--metric swd needs none" in err
    assert not (tmp_path / "t").exists()


# Trials long enough to be caught training (the signal comes at the first tick, 0.016 kimg,
# with 4 kimg to go), short enough that the test continues the study with the same budget
# (the budget is part of the study's identity).
KILLED_BUDGET = ["--kimg-per-trial", "4", "--tick-kimg", "0.016", "--snap-kimg", "1",
                 "--metric", "swd", "--metrics-num", "32", "--final-num", "32"]


def tune_in_a_subprocess(toy, out: Path, sig: int, trials: int) -> tuple[int, str]:
    """`ganvas tune` in a subprocess (trials of KILLED_BUDGET), sent `sig` once its first
    trial trains; its exit code and stderr (the process has ended)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "ganvas", "tune", str(toy), "--out",
                             str(out), "--model", "dcgan-tiny", "--resolution", "16",
                             "--trials", str(trials), *KILLED_BUDGET],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*/stats.jsonl")):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, err


def test_a_killed_worker_loses_only_its_trial(toy16, tmp_path, monkeypatch):
    """SIGKILL a `ganvas tune` in its first trial; the next one marks that trial FAIL (no
    heartbeat) and goes on."""
    out = tmp_path / "t"
    tune_in_a_subprocess(toy16, out, signal.SIGKILL, trials=2)
    monkeypatch.setattr(study_module, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_module, "GRACE_S", 1)
    time.sleep(3)                   # the killed worker's last heartbeat is older than that
    # The same study: data, model, metric, default space, budget and fixed options.
    summary = ganvas.tune(str(toy16), out=out, trials=2, model="dcgan-tiny", resolution=16,
                          kimg_per_trial=4.0, tick_kimg=0.016, snap_kimg=1.0, metric="swd",
                          metrics_num=32, final_num=32, pruner="none", progress=False)
    assert [t["state"] for t in summary["trials"]] == ["FAIL", "COMPLETE"], summary["trials"]
    assert summary["trials"][0]["note"] == "its worker stopped answering (killed?)"
    assert summary["best"]["trial"] == 1


def test_ctrl_c_ends_the_study_with_its_summary(toy16, tmp_path):
    """SIGINT in a trial: its run stops with a snapshot, the trial is FAIL (interrupted),
    study.json and tune.html are written, and the exit code is 130."""
    out = tmp_path / "t"
    code, err = tune_in_a_subprocess(toy16, out, signal.SIGINT, trials=3)
    assert code == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "ganvas tune: interrupted"
    summary = json.loads((out / "study.json").read_text())
    assert [(t["state"], t["note"]) for t in summary["trials"]] == [
        ("FAIL", "interrupted (Ctrl-C or SIGTERM)")]
    assert list_snapshots(Path(summary["trials"][0]["run"]))       # the run kept its snapshot
    assert (out / "tune.html").is_file()


def tune_plan(toy, tmp_path, **budget):
    """What ganvas.tune checks and settles before its first trial (search.plan)."""
    return search.plan(str(toy), tmp_path / "t", "dcgan-tiny", 1, budget.get("minutes"),
                       budget.get("kimg"), "swd", SPACE, None, "hyperband",
                       {"resolution": 16, **budget.get("options", {})})


def test_the_pruners(toy16, tmp_path):
    assert isinstance(search.make_pruner("median", 16, 64), optuna.pruners.MedianPruner)
    assert isinstance(search.make_pruner("none", 16, None), optuna.pruners.NopPruner)
    # Hyperband's resource is the steps a trial reports at (images seen): from its first
    # measurement (the first snapshot, K/4) to the end of its --kimg-per-trial budget.
    hyperband = search.make_pruner("hyperband", *tune_plan(toy16, tmp_path,
                                                           kimg=0.064)["resource"])
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert (hyperband._min_resource, hyperband._max_resource) == (16, 64)
    given_snap = tune_plan(toy16, tmp_path, kimg=0.064, options={"snap_kimg": 0.032})
    assert given_snap["resource"] == (32, 64)
    # A snapshot interval beyond the budget: the one measurement is at the end.
    assert tune_plan(toy16, tmp_path, kimg=0.064,
                     options={"snap_kimg": 1.0})["resource"] == (64, 64)
    # A --minutes-per-trial budget: the first snapshot (the preset's 10 kimg), then "auto"
    # (Optuna takes the last step of the first complete trial).
    minutes = tune_plan(toy16, tmp_path, minutes=1)["resource"]
    assert minutes == (10_000, None)
    hyperband = search.make_pruner("hyperband", *minutes)
    assert (hyperband._min_resource, hyperband._max_resource) == (10_000, "auto")


def test_a_searched_batch_rescales_what_the_preset_derives_from_it(tmp_path):
    """StyleGAN2's auto configuration follows the batch (gamma 0.0002 res^2 / batch, G_ema
    half-life batch * 10 / 32 kimg, minibatch-std group min(batch, 4)) in a trial as for
    `ganvas train --batch`; what the user fixed stays."""
    toy32 = make_toy_archive(tmp_path / "toy32.zip", n=8, resolution=32)

    def trial_config(options, batch):
        request = search.plan(str(toy32), tmp_path / "t", "stylegan2-tiny", 1, None, 0.064,
                              "swd", {"batch": [2, 16, 64]}, None, "none", options)
        return request["validate"]({"batch": batch}).config    # what run_trial trains

    for batch in (2, 16, 64):
        t, m = trial_config({}, batch).train, trial_config({}, batch).model
        assert t.batch == batch
        assert t.r1_gamma == pytest.approx(0.0002 * 32 ** 2 / batch)
        assert t.ema_kimg == pytest.approx(batch * 10 / 32)
        assert m.mbstd_group == min(batch, 4)
    fixed = trial_config({"r1_gamma": 1.0, "ema_kimg": 3.0, "mbstd_group": 2}, 64)
    assert (fixed.train.batch, fixed.train.r1_gamma, fixed.train.ema_kimg,
            fixed.model.mbstd_group) == (64, 1.0, 3.0, 2)


def test_hyperband_prunes_at_the_rungs_of_its_steps():
    """With trials reporting at 16, 32, 48, 64 images (kimg/4 snapshots), Hyperband's two
    brackets (64 / 16 < 3^2) check a trial at 16 and 48 images, never in between."""
    pruner = search.make_pruner("hyperband", 16, 64)
    study = optuna.create_study(direction="minimize", pruner=pruner)
    checked = []

    def objective(trial):
        for step in (16, 32, 48, 64):
            trial.report(float(trial.number), step=step)   # later trials are worse
            if trial.should_prune():
                checked.append(step)
                raise optuna.TrialPruned()
        return float(trial.number)

    study.optimize(objective, n_trials=12)
    assert pruner._n_brackets == 2
    assert checked and set(checked) <= {16, 48}


class FakeTrial:
    """What TrialWatch uses of an Optuna trial."""

    def __init__(self):
        self.reported, self.attrs = [], {}

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return False

    def set_user_attr(self, key, value):
        self.attrs[key] = value


def test_a_trial_s_value_is_its_best_measurement_not_its_last():
    from ganvas.search.study import TrialWatch
    trial = FakeTrial()
    watch = TrialWatch(trial, "kid", every=1000)
    for kimg, value, generated in ((1.0, 3.0, 10), (2.0, 1.0, 20), (3.0, 2.0, 30)):
        watch.measured({"kimg": kimg, "metrics": {"kid": value}, "generated": generated,
                        "reals": 64})
    assert trial.reported == [(1000, 3.0), (2000, 1.0), (3000, 2.0)]    # each as measured
    assert (watch.best, watch.last) == (1.0, 2.0)
    assert watch.samples == "20 generated vs 64 training images"


def measured_at(every: int, kimgs, end: int | None = None) -> list[int]:
    """The steps a TrialWatch reports measurements at `kimgs` at (snapshots every `every`
    images, a kimg budget's end at `end` images)."""
    from ganvas.search.study import TrialWatch
    trial = FakeTrial()
    watch = TrialWatch(trial, "kid", every=every, end=end)
    for i, kimg in enumerate(kimgs):
        watch.measured({"kimg": kimg, "metrics": {"kid": float(i)}})
    return [step for step, _ in trial.reported]


def test_a_trial_reports_at_images_seen_on_its_snapshot_schedule():
    # Batch 12 overshoots the 250-image snapshots by different amounts than batch 8 does:
    # both report at the snapshot that was due, so the median pruner compares them.
    assert measured_at(250, (0.252, 0.504, 0.756, 1.008)) == [250, 500, 750, 1000]
    assert measured_at(250, (0.256, 0.504, 0.752, 1.0)) == [250, 500, 750, 1000]
    # A kimg budget's end is on it, between snapshots too (--snap-kimg 0.3, --kimg 1).
    assert measured_at(300, (0.3, 0.6, 0.9, 1.008), end=1000) == [300, 600, 900, 1000]
    # A --minutes-per-trial budget's end is off the schedule: at its own images (after the
    # snapshot at 1000, or before the first one).
    assert measured_at(250, (0.256, 0.504, 0.756, 1.008, 1.1)) == [250, 500, 750, 1000, 1100]
    assert measured_at(250, (0.252, 0.3)) == [250, 300]
    assert measured_at(10_000, (0.3,)) == [300]
    # Far beyond one kimg, still every measurement its own step.
    assert measured_at(4000, (4.0, 8.0, 9.5)) == [4000, 8000, 9500]


def test_trials_of_another_batch_report_at_the_same_steps(toy16, tmp_path):
    """Batch 12 measures after 24, 36, 48 and 72 images (snapshots every 16): reported at
    16, 32, 48 and 64 as a batch-8 or batch-16 trial is."""
    summary = ganvas.tune(str(toy16), out=tmp_path, trials=1, space=SPACE, pruner="none",
                          batch=12, **TRIAL)
    run = Path(summary["trials"][0]["run"])
    measured = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["kimg"] for m in measured] == [0.024, 0.036, 0.048, 0.072]
    trial = optuna.load_study(study_name=summary["study"],
                              storage=f"sqlite:///{tmp_path / 'tune.db'}").trials[0]
    assert trial.intermediate_values == {16: measured[0]["metrics"]["swd"],
                                         32: measured[1]["metrics"]["swd"],
                                         48: measured[2]["metrics"]["swd"],
                                         64: measured[3]["metrics"]["swd"]}


def test_a_study_made_with_measurement_counts_as_steps_is_not_continued(tmp_path):
    """Studies before steps were images seen reported 1, 2, 3...: continuing one would mix
    the units in the pruners' comparisons, so it is a one-line error."""
    import optuna
    from ganvas.search.study import StudyKey, make_pruner, open_study
    url = f"sqlite:///{tmp_path / 'old.db'}"
    key = StudyKey(data="d", model="dcgan-tiny", metric="swd", space={"lr_g": [1, 2]})
    old = optuna.create_study(storage=url, study_name="s")
    for k, v in key.attrs().items():
        if k != "steps":                                  # what an older ganvas recorded
            old.set_user_attr(k, v)
    with pytest.raises(GanvasError, match="another unit of pruning steps .measurements "
                                          "counted 1, 2, 3") as err:
        open_study(url, "s", key, make_pruner("median", 16, 64))
    assert "\n" not in str(err.value)
    assert open_study(url, "new", key, make_pruner("median", 16, 64)).user_attrs["steps"] == \
        key.steps


def test_the_console_shows_the_trials_bar_and_the_measuring_share(toy16, tmp_path, capsys):
    """`ganvas tune` on the console: the trial runs quiet, one bar over the trials with the
    running trial's kimg (one kimg figure, no img/s), each trial's time and the part of it
    measuring (measured), the study's share; study.json keeps it, the plots lie in
    OUT/plots (OUT named tune: not tune/tune)."""
    from ganvas.cli import main
    from ganvas.cli import tune as tune_cli
    out = tmp_path / "tune"
    code = main(["tune", str(toy16), "--out", str(out), "--model", "dcgan-tiny",
                 "--resolution", "16", "--kimg-per-trial", "0.064", "--tick-kimg", "0.016",
                 "--metric", "swd", "--metrics-num", "32", "--final-num", "32", "--trials",
                 "1", "--pruner", "none"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert ("each trial: swd of 32 generated vs up to 32 training images at each snapshot "
            "(every 0.016 of 0.064 kimg), then its best snapshot's of 32 generated vs up to 32 "
            "training images (its value)") in lines
    done = next(line for line in lines if line.startswith("trial 0: swd "))
    assert "(32 generated vs 32 training images; its best snapshot): ran in " in done
    assert re.search(r"ran in [\d.:]+( s)?, measuring [\d.:]+( s)? of it \(\d+%; \d "
                     r"snapshot\(s\) [\d.:]+( s)?, the final [\d.:]+( s)?\)$", done), done
    summary = json.loads((out / "study.json").read_text())
    spent = summary["time"]
    assert spent["trials"] == 1 and 0 < spent["measuring_share"] < 1
    trial = summary["trials"][0]
    assert spent["measuring_seconds"] == trial["measuring_seconds"]
    # A trial mostly measuring (as at this tiny budget) is told what would change that.
    mostly = any(line.startswith("note: measuring was most of this trial") for line in lines)
    share = trial["measuring_seconds"] / trial["seconds"]
    assert mostly if share >= 0.6 else (not mostly if share <= 0.4 else True)
    assert f"({100 * spent['measuring_share']:.0f}%)" in next(
        line for line in lines if line.startswith("measuring took "))
    # The runs say nothing themselves (their log.txt has it); the bar is the trials'.
    console = captured.out + captured.err
    for chatter in ("snapshot checkpoints/", "img/s", "training dcgan-tiny", "metrics at"):
        assert chatter not in console
    assert "snapshot checkpoints/" in (Path(trial["run"]) / "log.txt").read_text()
    bars = [b for b in captured.err.replace("\r", "\n").splitlines() if b.strip()]
    assert bars and all(b.startswith("trials ") for b in bars), bars
    assert any("trial 0: 0.0" in b and "/0.064 kimg" in b for b in bars), bars
    assert all(b.count("kimg") <= 1 for b in bars), bars
    assert bars[-1].startswith("trials 1/1 ")
    assert (out / "plots" / "objective.png").is_file() and not (out / "tune").exists()
    assert (tune_cli.FINAL_NUM, tune_cli.SNAPSHOT_NUM) == (search.FINAL_NUM,
                                                           search.SNAPSHOT_NUM)


def test_tune_html_shows_importances_from_enough_complete_trials_only(tmp_path):
    """fANOVA from 3 trials ranks noise: the page shows importances from 8 complete trials
    on, saying how many, and below that says why not."""
    from ganvas.search.report import MIN_IMPORTANCE_TRIALS, write_tune_report
    from ganvas.search.summary import summarize
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    study = optuna.create_study(storage=url, study_name="s",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_user_attr("metric", "swd")

    def objective(trial):
        return trial.suggest_float("lr_g", 1e-4, 1e-3) * 1e3 + trial.suggest_int("batch", 8, 9)

    def page(out):
        summary = summarize(study, url)
        write_tune_report(summary, study, out)
        return (out / "tune.html").read_text()

    study.optimize(objective, n_trials=3)
    study.enqueue_trial({"lr_g": 1e-4, "batch": 8})
    study.optimize(lambda t: (_ for _ in ()).throw(optuna.TrialPruned()), n_trials=1)
    few = page(tmp_path / "few")
    assert "Not shown: 3 completed trials; importances need at least 8" in few
    assert not (tmp_path / "few" / "plots" / "importance.png").exists()
    study.optimize(objective, n_trials=MIN_IMPORTANCE_TRIALS - 3)
    enough = page(tmp_path / "enough")
    assert f"Importance from {MIN_IMPORTANCE_TRIALS} completed trials" in enough
    assert (tmp_path / "enough" / "plots" / "importance.png").is_file()
