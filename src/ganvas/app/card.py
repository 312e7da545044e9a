"""The model card: what the model is, what it was trained on, how it measured, and the run's
latest training grid. It reads only files inside the model folder named on the command line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import streamlit as st

import ganvas

MAX_GRID_BYTES = 50 * 2**20           # a training grid larger than this is not shown


def run_dir(path: str) -> Path | None:
    """The run directory when the command line named one (it has checkpoints/), else None."""
    folder = Path(path)
    return folder if (folder / "checkpoints").is_dir() else None


def read_metrics(run: Path) -> list[dict]:
    """metrics.jsonl -> [{"kimg": k, name: value, ...}], numbers only, oldest first; lines
    that cannot be read (a half-written last line while training) are skipped."""
    rows = []
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entry = json.loads(line)
            kimg = float(entry["kimg"])
            values = entry.get("metrics", {})
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if not isinstance(values, dict):
            continue
        numbers = {k: float(v) for k, v in values.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)}
        rows.append({"kimg": kimg, **numbers, "_extractors": entry.get("extractors") or {}})
    return rows


def latest_grid(run: Path) -> Path | None:
    """The newest training grid, samples/kimg-*.png (names sort by kimg)."""
    grids = sorted((run / "samples").glob("*.png"))
    grids = [g for g in grids if g.is_file() and not g.is_symlink()]
    return grids[-1] if grids else None


def facts(model: ganvas.Model, path: str) -> dict[str, str]:
    """The model's description as label -> text."""
    data = model.info.get("dataset", {})
    rows = {"family": model.family + (f" (preset {model.info['preset']})"
                                      if model.info.get("preset") else ""),
            "resolution": f"{model.picture_size}, {model.channels} "
                          f"channel{'s' if model.channels > 1 else ''}",
            "latent": f"z {model.z_dim}", "trained": f"{model.kimg:,.1f} kimg",
            "data": str(data.get("name") or "-")}
    if data.get("num_images"):
        rows["data"] += f" ({data['num_images']:,} images)"
    if model.num_classes:
        rows["classes"] = ", ".join(model.class_names)
    rows["loaded from"] = f"{path} -> {model.path.name}" if run_dir(path) else path
    imported = model.info.get("imported")
    if isinstance(imported, dict):
        rows["imported"] = (f"{imported.get('network')} ({imported.get('file')}, sha256 "
                            f"{str(imported.get('sha256'))[:16]}...), read without running "
                            "its code")
    return rows


def show_metrics(rows: list[dict]) -> None:
    """The latest measurement and each metric against kimg."""
    last = rows[-1]
    names = [k for k in last if k not in ("kimg", "_extractors")]
    st.subheader(f"Metrics at {last['kimg']:g} kimg")
    cols = st.columns(max(1, min(len(names), 6)))
    for i, name in enumerate(names):
        cols[i % len(cols)].metric(escape(name), f"{last[name]:.4g}")
    extractors = sorted(set(last["_extractors"].values()))
    if extractors:
        st.caption(f"features: {escape(', '.join(extractors))}")
    table = [{k: v for k, v in r.items() if k != "_extractors"} for r in rows]
    if len(table) > 1:
        name = st.selectbox("Curve", names, key="card_metric")
        st.line_chart([{"kimg": r["kimg"], name: r[name]} for r in table if name in r],
                      x="kimg", y=name, height=220)
    with st.expander("All measurements"):
        st.dataframe(table, hide_index=True)


def show(path: str, model: ganvas.Model) -> None:
    """The model-card section."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown("\n".join(["| Model | |", "| --- | --- |"] +
                              [f"| {k} | {escape(v)} |" for k, v in facts(model, path).items()]))
    run = run_dir(path)
    if run is None:
        left.caption("Start the app with a run directory to see its metrics and training "
                     "grids.")
        return
    grid = latest_grid(run)
    if grid is not None and grid.stat().st_size <= MAX_GRID_BYTES:
        with right:
            st.image(grid.read_bytes(), caption=f"latest training grid: {grid.name}",
                     width="content")
    rows = read_metrics(run)
    with left:
        if rows:
            show_metrics(rows)
        else:
            st.caption("No metrics.jsonl in this run: train with --metrics swd,fid to "
                       "measure it.")


MARKDOWN_SPECIAL = frozenset("\\`*_[]<>#|~$!")    # emphasis, code, links, HTML, tables, math


def escape(text) -> str:
    """Text from the model's or dataset's files (names, class names, paths) or quoted in a
    message, shown literally in Markdown (also in a table cell): Markdown's and HTML's
    characters backslash-escaped, Streamlit's directives (:red[...], :smile:) disarmed by
    escaping a colon before a letter, a leading list or heading marker escaped, line breaks
    made spaces. Other punctuation (. - / ...) is left as it is, where it means nothing."""
    flat = " ".join(str(text).replace("\r", "\n").split("\n"))
    out = "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in flat)
    out = re.sub(r":(?=[A-Za-z])", r"\\:", out)
    out = re.sub(r"^(\s*)([-+=])", r"\1\\\2", out)
    return re.sub(r"^(\s*\d+)([.)])", r"\1\\\2", out)
