"""The run's report: report.html (one self-contained page) and its pictures beside it.

    run_dir/report.html      summary, curves, reals beside fakes, latest grid, progress GIF
                             (with one sample grid: that grid, still)
    run_dir/report/          loss.png, metrics.png, augment_p.png, reals.png, progress.gif

`write_report` may be called at any time, also while the run trains: it only reads the run's
files, and every file it writes appears whole (written aside, then renamed).
"""

from __future__ import annotations

from pathlib import Path

from ..durable import atomic_save, removed_on_failure
from ..outputs import check_out_file, check_out_folder
from .html import render
from .pictures import write_progress, write_reals
from ..runfolder.locate import check_not_a_folder_of_runs
from ..runfolder.read import read_run
from .plots import augment_plot, loss_plot, metrics_plot

__all__ = ["write_report", "assets_dir"]


def assets_dir(out: Path) -> Path:
    """The folder for the page's pictures: report.html -> report/ beside it."""
    folder = out.with_suffix("")
    return folder if folder != out else out.with_name(f"{out.name}-files")


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of `run_dir` to `out` (default run_dir/report.html) and its PNG/GIF
    pictures into a folder beside it; returns the HTML path. A path that is no run directory
    (or a folder of runs: the error names them) raises GanvasError; a dataset that cannot
    be opened only leaves a note in the page."""
    check_not_a_folder_of_runs(Path(run_dir))
    run = read_run(run_dir)
    out = Path(out) if out is not None else run.path / "report.html"
    check_out_file(out)                          # a folder, a read-only one: before any work
    check_out_folder(assets_dir(out))
    with removed_on_failure(assets_dir(out)):    # a failed report leaves no new folder
        return _write(run, out)


def _write(run, out: Path) -> Path:
    """write_report's work, once the paths are known to be usable."""
    files: dict[str, Path | None] = {}
    reals_error = None
    if run.ticks or run.samples:
        folder = assets_dir(out)
        files["loss"] = loss_plot(run, folder / "loss.png")
        files["metrics"] = metrics_plot(run, folder / "metrics.png")
        files["augment"] = augment_plot(run, folder / "augment_p.png")
        files["progress"] = write_progress(run, folder / "progress.gif")
        try:
            files["reals"] = write_reals(run, folder / "reals.png")
        except Exception as e:     # any failure to read the data is a note, not a crash
            files["reals"], reals_error = None, f"{e} ({type(e).__name__})"
    page = render(run, files, reals_error)
    return atomic_save(out, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
