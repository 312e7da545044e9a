"""The page: header, sidebar settings and one tab per section; only the open tab runs.

The model's path comes only from the command line (`ganvas app MODEL`); nothing the visitor
types is ever used as a path.
"""

from __future__ import annotations

import streamlit as st

import ganvas

from . import card, direction_sliders, gallery, mixing, projection, sliders, walk
from .card import escape
from .render import load_model, use_device
from .widgets import keep_widget_values, sampling_settings

SECTION = "section"           # session key of the open tab


def header(model: ganvas.Model, path: str) -> None:
    """Title and a one-line summary of the model (the dataset's name and the path are the
    model files' text: escaped, never Markdown)."""
    st.title("ganvas playground")
    data = model.info.get("dataset", {}).get("name")
    parts = [model.family, model.picture_size, f"{model.kimg:,.1f} kimg"]
    if data:
        parts.append(f"trained on {data}")
    if model.num_classes:
        parts.append(f"{model.num_classes} classes")
    st.caption(" · ".join(escape(p) for p in parts) + f" · {escape(path)}")


def parse_argv(argv: list[str]) -> tuple[str, str] | None:
    """The script's command line, MODEL [--device DEVICE] -> (MODEL, DEVICE), DEVICE auto when
    not given; None for anything else."""
    if len(argv) == 1:
        return argv[0], "auto"
    if len(argv) == 3 and argv[1] == "--device":
        return argv[0], argv[2]
    return None


def main(argv: list[str]) -> None:
    """Render the page for the model named by the script's command line (parse_argv)."""
    st.set_page_config(page_title="ganvas", page_icon=":material/palette:", layout="wide")
    parsed = parse_argv(argv)
    if parsed is None:
        st.error("Start this page with `ganvas app MODEL` (a run directory, snapshot or "
                 "exported model).")
        st.stop()
    path, device = parsed
    use_device(device)
    try:
        model = load_model(path)
    except ganvas.GanvasError as e:
        st.error(f"Cannot load the model: {escape(e)}")
        st.stop()
    keep_widget_values()
    header(model, path)
    look = sampling_settings(model)
    sections = {"Gallery": gallery.show, "Latent sliders": sliders.show,
                "Directions": direction_sliders.show,
                "Interpolation": walk.show, "Style mixing": mixing.show,
                "Projection": projection.show,
                "Model card": lambda path, model, look: card.show(path, model)}
    # Lazy tabs: switching reruns the page, and only the open tab renders its pictures.
    for tab, show in zip(st.tabs(list(sections), key=SECTION, on_change="rerun"),
                         sections.values()):
        if tab.open:
            with tab:
                show(path, model, look)
