"""The report's curves as PNG files (matplotlib, Agg backend: no display needed).

Every plot is against kimg (thousands of real images shown to D). Each function returns the
PNG it wrote, or None when the run has nothing to plot for it (no ticks, no metrics, no
augmentation); missing keys and NaN values leave gaps instead of failing.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import GanvasError
from ..durable import atomic_save
from ..runfolder.read import RunData

# stats.jsonl keys that are the regularisation penalties, in the order they are plotted.
PENALTIES = ("gp", "r1", "pl")
# The augmentation probability has had several names; the first present one is plotted.
AUGMENT_KEYS = ("aug_p", "augment_p", "p")

KIMG_LABEL = "kimg (thousands of real images shown to D)"
# Which way is better, shown under each metric's title.
LOWER_IS_BETTER = {"fid", "kid", "swd", "is_std", "kid_std"}
HIGHER_IS_BETTER = {"precision", "recall", "is", "is_mean", "density", "coverage"}
METRIC_COLS = 3                 # metric panels per row


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported late: only the report needs it)."""
    try:
        import matplotlib
    except ImportError:
        raise GanvasError("the report needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def number(v) -> bool:
    """A real number (bools are flags, not values)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def series(entries: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(kimg, value) of the entries that have a number under `key` (NaN kept: a gap)."""
    pts = [(e["kimg"], float(e[key])) for e in entries if number(e.get(key))]
    return [p[0] for p in pts], [p[1] for p in pts]


def save_figure(fig, path: Path) -> Path:
    """Write a figure as PNG atomically and free it."""
    plt = pyplot()
    try:
        fig.tight_layout()
        return atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)


def mark_rollbacks(ax, run: RunData) -> None:
    """Dashed vertical lines where training rolled back (after NaN/Inf losses)."""
    for i, r in enumerate(run.rollbacks):
        ax.axvline(r["kimg"], color="tab:red", linestyle="--", linewidth=1,
                   label="rollback" if i == 0 else None)


def loss_plot(run: RunData, path: Path) -> Path | None:
    """loss_d and loss_g per tick; a second panel with the penalties (gp, r1, pl) present."""
    if not run.ticks:
        return None
    penalties = [k for k in PENALTIES if series(run.ticks, k)[0]]
    plt = pyplot()
    panels = 2 if penalties else 1
    fig, axes = plt.subplots(panels, 1, figsize=(8, 3.2 * panels), squeeze=False)
    ax = axes[0][0]
    for key, colour in (("loss_d", "tab:blue"), ("loss_g", "tab:orange")):
        xs, ys = series(run.ticks, key)
        if xs:
            ax.plot(xs, ys, marker=".", color=colour, label=key)
    mark_rollbacks(ax, run)
    ax.set(title="losses (mean over each tick)", xlabel=KIMG_LABEL, ylabel="loss")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    if penalties:
        ax = axes[1][0]
        for key in penalties:
            ax.plot(*series(run.ticks, key), marker=".", label=key)
        mark_rollbacks(ax, run)
        ax.set(title="regularisation penalties (unweighted)", xlabel=KIMG_LABEL,
               ylabel="penalty")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    return save_figure(fig, path)


def metric_names(run: RunData) -> list[str]:
    """The scalar metrics in metrics.jsonl, in order of first appearance; a NAME_std is drawn
    as NAME's error bar, not as a panel of its own."""
    names: list[str] = []
    for m in run.metrics:
        for k, v in m["metrics"].items():
            if number(v) and k not in names:
                names.append(k)
    return [n for n in names if not (n.endswith("_std") and n[:-4] in names)]


def metrics_plot(run: RunData, path: Path) -> Path | None:
    """One panel per metric of metrics.jsonl vs kimg, titled with its feature extractor."""
    names = metric_names(run)
    if not names:
        return None
    plt = pyplot()
    cols = min(METRIC_COLS, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        pts = [(m["kimg"], float(m["metrics"][name]), m["metrics"].get(f"{name}_std"))
               for m in run.metrics if number(m["metrics"].get(name))]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        err = [float(p[2]) if number(p[2]) else 0.0 for p in pts]
        if any(err):
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3)
        else:
            ax.plot(xs, ys, marker="o")
        extractors = {m.get("extractors", {}).get(name) for m in run.metrics} - {None}
        title = name + (f" ({', '.join(sorted(extractors))})" if extractors else "")
        better = ("lower is better" if name in LOWER_IS_BETTER
                  else "higher is better" if name in HIGHER_IS_BETTER else "")
        ax.set(title=title + (f"\n{better}" if better else ""), xlabel="kimg", ylabel=name)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def augment_key(run: RunData) -> str | None:
    """The stats key holding the augmentation probability, if any tick has one."""
    return next((k for k in AUGMENT_KEYS if series(run.ticks, k)[0]), None)


def augment_plot(run: RunData, path: Path) -> Path | None:
    """The augmentation probability p per tick (ADA moves it; fixed augmentation keeps it)."""
    key = augment_key(run)
    if key is None:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(*series(run.ticks, key), marker=".", color="tab:green", label=key)
    target = run.config.get("augment", {}).get("target")
    if run.config.get("augment", {}).get("mode") == "ada" and number(target):
        ax.set_title(f"augmentation probability p (ADA, target r_t = {target:g})")
    else:
        ax.set_title("augmentation probability p")
    mark_rollbacks(ax, run)
    ax.set(xlabel=KIMG_LABEL, ylabel="p")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)
