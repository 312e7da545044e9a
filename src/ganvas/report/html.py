"""The report page: one self-contained HTML file (pictures as base64 data URIs, inline CSS,
no scripts, no external fonts), so it can be mailed, archived or opened offline."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from ..metrics.evaluate import (bias_note, counts, direction, label, metric_of,
                                reference_text)
from ..runfolder.hints import HINTS
from ..runfolder.read import RunData
from .pictures import kimg_of
from .plots import metric_names

MIME = {".png": "image/png", ".gif": "image/gif"}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; background: #fff; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em;
     margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { padding: 0.2em 1em 0.2em 0; text-align: left;
     vertical-align: top; }
th { color: #555; font-weight: 600; }
img { max-width: 100%; } img.grid { image-rendering: pixelated; border: 1px solid #ccc; }
.pair { display: flex; gap: 1.5em; flex-wrap: wrap; } .pair figure { margin: 0; flex: 1;
     min-width: 280px; } figcaption { color: #555; margin-top: 0.3em; }
.note { color: #666; font-style: italic; } .flag { color: #b00; font-weight: 600; }
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def data_uri(path: Path) -> str:
    """A picture file as a data: URI (so the page needs no other file)."""
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def img(path: Path, alt: str, grid: bool = False) -> str:
    cls = ' class="grid"' if grid else ""
    return f'<img{cls} src="{data_uri(path)}" alt="{esc(alt)}">'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def duration(seconds: float | None) -> str:
    """3725 -> '1h 02m 05s'; None -> 'unknown'."""
    if seconds is None:
        return "unknown"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s" if m else f"{s}s"


def summary(run: RunData) -> str:
    """The run's facts as a two-column table."""
    m = run.config.get("model", {})
    last = run.ticks[-1] if run.ticks else {}
    speed = f"{last['img_per_s']:g} img/s" if isinstance(last.get("img_per_s"), (int, float)) \
        else "unknown"
    flags = run.flags
    flag_html = ("none" if not flags else "<br>".join(
        f'<span class="flag">{esc(f)}</span>: {esc(HINTS.get(f, ""))}' for f in flags))
    seen = ", ".join(f"{f} (from {k:g} kimg)" for f, k in run.first_flags().items()) or "none"
    rows = [
        ("preset", f"{run.preset} ({m.get('family', '?')}, {run.picture_size} px, "
                   f"{m.get('channels', '?')} channels"
                   + (f", {m['num_classes']} classes" if m.get("num_classes") else "") + ")"),
        ("dataset", run.dataset or "unknown"),
        ("kimg reached", reached(run)),
        ("ticks / sample grids", f"{len(run.ticks)} / {len(run.samples)}"),
        ("training time", f"{duration(run.seconds)} (wall clock, from log.txt)"),
        ("last speed", speed),
        ("rollbacks", str(len(run.rollbacks))),
        ("flags seen", seen),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    body += f"<tr><th>last health flags</th><td>{flag_html}</td></tr>"
    return f"<table>{body}</table>"


def reached(run: RunData) -> str:
    """How far the run got against its bound: '7.168 of 10 kimg' for a --kimg run (a
    fine-tuned snapshot's start counted in), '7.168 kimg in a run of 2 minutes (bounded in
    time, not in kimg)' for a --minutes run."""
    t = run.config.get("train", {})
    kimg, minutes = t.get("kimg"), t.get("minutes")
    if isinstance(kimg, (int, float)):
        start = t.get("start_kimg") if isinstance(t.get("start_kimg"), (int, float)) else 0
        return f"{run.kimg:g} of {start + kimg:g} kimg"
    if isinstance(minutes, (int, float)):
        return f"{run.kimg:g} kimg in a run of {minutes:g} minutes (bounded in time, not in kimg)"
    return f"{run.kimg:g} kimg"


def progress(run: RunData, animation: Path | None) -> str:
    """The progress section: the animation of the sample grids, or with one grid that grid
    as a still picture (an animation of one frame shows nothing move), or a note."""
    if animation is not None:
        first, last = kimg_of(run.samples[0]), kimg_of(run.samples[-1])
        return (img(animation, "progress animation", grid=True)
                + f"<p>The same latents in each of the {len(run.samples)} sample grids, "
                  f"from {esc(first)} to {esc(last)}, in order.</p>")
    if len(run.samples) == 1:
        only = run.samples[0]
        return (img(only, "the one sample grid", grid=True)
                + f"<p>One sample grid so far ({esc(only.name)}, at {esc(kimg_of(only))}), "
                  f"shown as a still picture: the progress animation starts at two grids.</p>")
    return note("No sample grids yet.")


def sample_counts(entry: dict) -> str:
    """'1,000 generated vs 64 training images', or the one count of an older entry ("num":
    as many of each)."""
    generated, reals = entry.get("generated"), entry.get("reals")
    if isinstance(generated, int) and isinstance(reals, int):
        return counts(generated, reals)
    old = entry.get("num")
    return counts(old, old) if isinstance(old, int) else ""


def metrics_table(run: RunData) -> str:
    """The newest value of each metric, with the images compared and the extractor; a note
    under it when there are too few reals for FID/IS/PR to mean much."""
    rows, notes = [], []
    for name in metric_names(run):
        entry = next(m for m in reversed(run.metrics) if name in m["metrics"])
        value = entry["metrics"][name]
        ex = entry.get("extractors", {}).get(name, "")
        rows.append(f"<tr><td>{esc(name)}</td><td>{value:.6g}</td><td>{entry['kimg']:g}</td>"
                    f"<td>{esc(sample_counts(entry))}</td><td>{esc(ex)}</td></tr>")
        reals = entry.get("reals", entry.get("num"))
        if isinstance(reals, int):
            notes.append((name, reals))
    head = ("<tr><th>metric</th><th>newest value</th><th>at kimg</th><th>images</th>"
            "<th>features</th></tr>")
    note = bias_note({name for name, _ in notes}, min((r for _, r in notes), default=0)) \
        if notes else None
    return f"<table>{head}{''.join(rows)}</table>" + (f"<p>{esc(note)}</p>" if note else "")


def eval_table(run: RunData) -> str:
    """`ganvas eval`'s results (RUN/eval/*.json): the newest of each metric, which way is
    better, what the real images score against each other, where it was measured and with
    what, and the file."""
    newest: dict[str, dict] = {}
    for entry in run.evals:                   # oldest first: the newest of each wins
        for key, value in entry["metrics"].items():
            if direction(key) and isinstance(value, (int, float)):
                newest[key] = entry
    rows, notes = [], []
    for key, entry in newest.items():
        ex = entry.get("extractors", {}).get(metric_of(key), "")
        ref = reference_text((entry.get("real_reference") or {}).get(key)) or "not recorded"
        rows.append(f"<tr><td>{esc(label(key))}</td><td>{entry['metrics'][key]:.6g}</td>"
                    f"<td>{esc(direction(key))}</td><td>{esc(ref)}</td>"
                    f"<td>{entry['kimg']:g}</td><td>{esc(sample_counts(entry))}</td>"
                    f"<td>{esc(ex)}</td><td>{esc('eval/' + entry['file'])}</td></tr>")
        if isinstance(entry.get("reals"), int):
            notes.append((key, entry["reals"]))
    head = ("<tr><th>metric</th><th>value</th><th>which way</th><th>real reference</th>"
            "<th>at kimg</th><th>images</th><th>features</th><th>file</th></tr>")
    note = bias_note({k for k, _ in notes}, min(r for _, r in notes)) if notes else None
    return (f"<h3>Measured by ganvas eval</h3><table>{head}{''.join(rows)}</table>"
            "<p>real reference: the same metric between two disjoint halves of the training "
            "images (real vs real; for IS, the IS of the training images): what a model "
            "drawing new images from the training distribution would score.</p>"
            + (f"<p>{esc(note)}</p>" if note else ""))


def section(title: str, anchor: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>\n{body}\n</section>'


def render(run: RunData, files: dict[str, Path | None], reals_error: str | None) -> str:
    """The whole page. `files` maps loss, metrics, augment, reals, progress to the pictures
    written (None: nothing to show); `reals_error` says why the training images are missing."""
    parts = [section("Summary", "summary", summary(run))]
    latest = run.samples[-1] if run.samples else None
    if not run.ticks and latest is None:
        parts.append(section("Nothing yet", "nothing", note(
            "This run has no ticks in stats.jsonl and no sample grids yet: nothing to plot. "
            "Run the report again once training has logged its first tick.")))
    else:
        parts.append(section("Losses", "losses", img(files["loss"], "loss curves")
                             if files.get("loss") else note("No ticks in stats.jsonl yet.")))
        evals = eval_table(run) if run.evals else ""
        if files.get("metrics"):
            body = ("<h3>Measured during training</h3>" * bool(evals)
                    + img(files["metrics"], "metric curves") + metrics_table(run) + evals)
        elif evals:
            body = note("No metrics measured during training (metrics.jsonl is absent or "
                        "empty).") + evals
        else:
            body = note("No metrics yet (metrics.jsonl is absent or empty and eval/ holds no "
                        "results): run `ganvas eval RUN`, or train with metrics enabled, to "
                        "measure the run.")
        parts.append(section("Metrics", "metrics", body))
        mode = run.config.get("augment", {}).get("mode", "none")
        parts.append(section("Augmentation probability", "augment",
                             img(files["augment"], "augmentation probability p")
                             if files.get("augment") else
                             note(f"No augmentation probability in stats.jsonl "
                                  f"(augmentation mode: {mode}).")))
        parts.append(section("Reals beside fakes", "reals-fakes", reals_vs_fakes(
            run, files.get("reals"), latest, reals_error)))
        parts.append(section("Latest grid", "latest", (
            img(latest, "latest sample grid", grid=True)
            + f"<p>{esc(latest.name)}: the fixed latents at {esc(kimg_of(latest))}.</p>")
            if latest else note("No sample grid yet (grids are written as training goes).")))
        parts.append(section("Progress", "progress", progress(run, files.get("progress"))))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>ganvas report: {esc(run.name)}</title><style>{CSS}</style></head>\n"
            f"<body><h1>{esc(run.name)}</h1><p class=\"note\">ganvas report, written {stamp} "
            f"from {esc(run.path)}</p>\n" + "\n".join(parts) + "\n</body></html>\n")


def reals_vs_fakes(run: RunData, reals: Path | None, latest: Path | None,
                   reals_error: str | None) -> str:
    if reals is not None:
        left = (f"<figure>{img(reals, 'training images', grid=True)}<figcaption>training "
                f"images ({esc(run.dataset)}, a fixed random subset)</figcaption></figure>")
    else:
        left = f"<figure>{note(f'The training images could not be shown: {reals_error}')}</figure>"
    if latest is not None:
        right = (f"<figure>{img(latest, 'samples', grid=True)}<figcaption>samples at "
                 f"{esc(kimg_of(latest))}</figcaption></figure>")
    else:
        right = f"<figure>{note('No sample grid yet.')}</figure>"
    return f'<div class="pair">{left}{right}</div>'
