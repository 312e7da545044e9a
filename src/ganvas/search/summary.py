"""What a study is worth reading: its summary (study.json) and the table on the console."""

from __future__ import annotations

from pathlib import Path

from .. import checkpoint as ckpt
from .progress import clock
from .study import ERROR_ATTR, MEASURING_ATTR, RUN_ATTR, SAMPLES_ATTR, SECONDS_ATTR, redacted


def summarize(study, url: str) -> dict:
    """The study's trials (state, value, parameters, run folder, why it failed or was
    pruned, its time and the part of it spent measuring), its best trial and the time of
    all (`time`: seconds, measuring_seconds, measuring_share), as plain JSON values."""
    trials = []
    for t in study.get_trials(deepcopy=False):
        state = t.state.name
        note = t.user_attrs.get(ERROR_ATTR, "")
        if state == "PRUNED" and t.intermediate_values:
            step = max(t.intermediate_values)           # images seen (study.schedule_step)
            note = (f"pruned after {len(t.intermediate_values)} measurement(s), at "
                    f"{step / 1000:g} kimg: {t.intermediate_values[step]:.4g}")
        elif state == "FAIL" and not note:
            note = "its worker stopped answering (killed?)"
        trials.append({"trial": t.number, "state": state, "value": t.value,
                       "params": dict(t.params), "run": t.user_attrs.get(RUN_ATTR),
                       "samples": t.user_attrs.get(SAMPLES_ATTR, ""), "note": note,
                       "seconds": t.user_attrs.get(SECONDS_ATTR),
                       "measuring_seconds": t.user_attrs.get(MEASURING_ATTR)})
    counts = {}
    for t in trials:
        counts[t["state"].lower()] = counts.get(t["state"].lower(), 0) + 1
    complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    best = min(complete, key=lambda t: t["value"]) if complete else None
    summary = {"study": study.study_name, "storage": redacted(url),
               "metric": study.user_attrs.get("metric"), "direction": "minimize",
               "data": study.user_attrs.get("data"), "model": study.user_attrs.get("model"),
               "space": study.user_attrs.get("space"), "counts": counts, "trials": trials,
               "best": None, "time": time_spent(trials)}
    if best is not None:
        summary["best"] = {**best, "config": (str(Path(best["run"]) / "config.json")
                                              if best["run"] else None)}
    return summary


def time_spent(trials: list[dict]) -> dict | None:
    """The trials' time and the part measuring, summed over the trials that recorded both
    (a trial of a killed worker records neither)."""
    timed = [t for t in trials if t["seconds"] is not None and t["measuring_seconds"]
             is not None]
    if not timed:
        return None
    total = sum(t["seconds"] for t in timed)
    measuring = sum(t["measuring_seconds"] for t in timed)
    return {"trials": len(timed), "seconds": round(total, 2),
            "measuring_seconds": round(measuring, 2),
            "measuring_share": round(measuring / total, 4) if total > 0 else None}


def write_study_json(summary: dict, path: Path) -> Path:
    """study.json, atomically."""
    return ckpt.write_json(path, summary)


def table(summary: dict) -> str:
    """The trials as a table, the counts and the best trial with the command that retrains
    it longer."""
    names = sorted({k for t in summary["trials"] for k in t["params"]})
    head = ["trial", "state", summary["metric"] or "value", *names, "run", "note"]
    rows = [head]
    for t in summary["trials"]:
        rows.append([str(t["trial"]), t["state"].lower(),
                     "" if t["value"] is None else f"{t['value']:.4g}",
                     *(show(t["params"].get(n)) for n in names),
                     Path(t["run"]).name if t["run"] else "", t["note"][:70]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary["counts"].items())) or "no trials"
    lines.append(f"study {summary['study']}: {counts}")
    spent = summary.get("time")
    if spent and spent["measuring_share"] is not None:
        lines.append(f"measuring took {clock(spent['measuring_seconds'])} of the "
                     f"{spent['trials']} trial(s)' {clock(spent['seconds'])} "
                     f"({100 * spent['measuring_share']:.0f}%)")
    best = summary["best"]
    if best is not None:
        samples = f" ({best['samples']})" if best.get("samples") else ""
        lines.append(f"best: trial {best['trial']}, {summary['metric']} {best['value']:.4g}"
                     f"{samples}, run {best['run']}")
        lines.append(f"retrain it longer: ganvas train --config {best['config']} --kimg N")
    return "\n".join(lines)


def show(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
