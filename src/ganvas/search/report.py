"""The tune report: OUT/tune.html, one self-contained page (like a run's report.html) with the
objective over the trials, the parameters' importances, the trials' table and the best
trial's newest sample grid; its pictures (embedded in the page) are also OUT/plots/*.png."""

from __future__ import annotations

import math
import time
from pathlib import Path

from ..durable import atomic_save
from ..report.html import CSS, esc, img, note, section
from ..report.plots import pyplot, save_figure
from .progress import clock
from .study import optuna

PLOTS_DIR = "plots"          # OUT/plots/objective.png, importance.png
# fANOVA's importances from fewer complete trials rank noise (from 3 trials any option can
# come first): below this many the page says why they are not shown.
MIN_IMPORTANCE_TRIALS = 8

STATE_STYLE = {"COMPLETE": ("tab:blue", "o", "complete"),
               "PRUNED": ("tab:orange", "x", "pruned (its last value)"),
               "FAIL": ("tab:red", "v", "failed")}


def importances(study) -> tuple[dict[str, float], str]:
    """Optuna's parameter importances (fANOVA) and the line that says how many complete
    trials they come from, or {} and why there are none (fewer than MIN_IMPORTANCE_TRIALS
    complete trials: a ranking from so few would be noise)."""
    done = [t for t in study.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE" and t.value is not None]
    if len(done) < MIN_IMPORTANCE_TRIALS:
        return {}, (f"Not shown: {len(done)} completed trial{'s' * (len(done) != 1)}; "
                    f"importances need at least {MIN_IMPORTANCE_TRIALS}, as fewer rank "
                    f"noise (pruned and failed trials do not count).")
    try:
        values = dict(optuna().importance.get_param_importances(study))
    except Exception as e:                     # noqa: BLE001 (e.g. every value the same)
        return {}, f"No importances: {type(e).__name__}: {e}"
    return values, f"Importance from {len(done)} completed trials (fANOVA)."


def objective_plot(summary: dict, path: Path) -> Path | None:
    trials = summary["trials"]
    if not any(t["value"] is not None for t in trials):
        return None
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(8, 4))
    finite = [t["value"] for t in trials if t["value"] is not None and math.isfinite(t["value"])]
    floor = min(finite) if finite else 0.0
    for state, (colour, marker, label) in STATE_STYLE.items():
        pts = [(t["trial"], t["value"] if t["value"] is not None else floor) for t in trials
               if t["state"] == state]
        if pts:
            ax.scatter(*zip(*pts), color=colour, marker=marker, label=label, zorder=3)
    best, line = math.inf, []
    for t in trials:
        if t["state"] == "COMPLETE" and t["value"] is not None:
            best = min(best, t["value"])
        line.append((t["trial"], best if math.isfinite(best) else None))
    xs = [x for x, y in line if y is not None]
    ax.step(xs, [y for _, y in line if y is not None], where="post", color="tab:green",
            label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{summary['metric']} (lower is better)")
    ax.set_title(f"study {summary['study']}")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def importance_plot(values: dict[str, float], path: Path) -> Path | None:
    if not values:
        return None
    plt = pyplot()
    names = sorted(values, key=values.get)
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(names)))
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (fANOVA; sums to 1)")
    return save_figure(fig, path)


def trials_table(summary: dict) -> str:
    names = sorted({k for t in summary["trials"] for k in t["params"]})
    head = "".join(f"<th>{esc(h)}</th>" for h in
                   ["trial", "state", summary["metric"], *names, "run", "note"])
    rows = []
    for t in summary["trials"]:
        cells = [t["trial"], t["state"].lower(),
                 "" if t["value"] is None else f"{t['value']:.4g}",
                 *(fmt(t["params"].get(n)) for n in names),
                 Path(t["run"]).name if t["run"] else "", t["note"]]
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def best_grid(summary: dict) -> str:
    best = summary["best"]
    if best is None:
        return note("No complete trial yet.")
    grids = sorted((Path(best["run"]) / "samples").glob("kimg-*.png")) if best["run"] else []
    params = ", ".join(f"{k} = {fmt(v)}" for k, v in best["params"].items())
    samples = f" ({esc(best['samples'])})" if best.get("samples") else ""
    text = (f"<p>Trial {best['trial']}: {esc(summary['metric'])} {best['value']:.4g}{samples} "
            f"with {esc(params)}. Run {esc(best['run'])}; retrain it longer with "
            f"<code>ganvas train --config {esc(best['config'])} --kimg N</code>.</p>")
    if not grids:
        return text + note("Its run has no sample grid.")
    return text + img(grids[-1], "the best trial's newest sample grid", grid=True)


def write_tune_report(summary: dict, study, out: Path) -> Path:
    """OUT/tune.html and OUT/plots/*.png for `summary` (of `study`); returns the page."""
    folder = out / PLOTS_DIR
    values, why = importances(study)
    objective = objective_plot(summary, folder / "objective.png")
    importance = importance_plot(values, folder / "importance.png")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary["counts"].items())) or "none"
    head = (f"<p>Objective: {esc(summary['metric'])} (lower is better), model "
            f"{esc(summary['model'])} on {esc(summary['data'])}; trials: {esc(counts)}; "
            f"database {esc(summary['storage'])}.</p>")
    spent = summary.get("time")
    if spent and spent["measuring_share"] is not None:
        head += note(f"Measuring took {clock(spent['measuring_seconds'])} of the "
                     f"{spent['trials']} trial(s)' {clock(spent['seconds'])} "
                     f"({100 * spent['measuring_share']:.0f}%).")
    parts = [section("Study", "study", head),
             section("Objective over trials", "objective",
                     img(objective, "objective over trials") if objective
                     else note("No trial has a value yet.")),
             section("Parameter importances", "importance",
                     (note(why) + img(importance, "parameter importances")) if importance
                     else note(why)),
             section("Best trial", "best", best_grid(summary)),
             section("Trials", "trials", trials_table(summary))]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>ganvas tune: {esc(summary['study'])}</title><style>{CSS}</style></head>\n"
            f"<body><h1>{esc(summary['study'])}</h1><p class=\"note\">ganvas tune report, "
            f"written {stamp}</p>\n" + "\n".join(parts) + "\n</body></html>\n")
    return atomic_save(out / "tune.html", lambda tmp: Path(tmp).write_text(page,
                                                                            encoding="utf-8"))
