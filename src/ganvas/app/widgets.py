"""Small pieces every section uses: the sidebar's sampling settings, showing a user's mistake
as a message, and PNG download buttons."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import streamlit as st

import ganvas

from .card import escape
from .images import png_bytes

TRUNCATION_RANGE = (-1.0, 1.5)
NOISE_MODES = ("const", "random", "none")
KEPT = "_kept_widgets"       # session key: the keys of widgets whose values are kept


def kept(key: str, default):
    """The key for a widget whose value survives while its tab is closed (only the open tab
    runs, and Streamlit forgets the values of widgets that did not run). The widget takes its
    first value from here: pass no default to the widget itself."""
    st.session_state.setdefault(key, default)
    st.session_state.setdefault(KEPT, set()).add(key)
    return key


def keep_widget_values() -> None:
    """At the top of every run: re-store the kept widgets' values so that Streamlit does not
    drop them when their widgets are not drawn in this run."""
    for key in st.session_state.get(KEPT, ()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


@contextmanager
def user_errors():
    """Run a block; a GanvasError (a bad seed list, an impossible option) becomes an error
    message in the page instead of a traceback, and the rest of the page still renders."""
    try:
        yield
    except ganvas.GanvasError as e:
        st.error(escape(e))           # messages quote the visitor's and the model's text


def sampling_settings(model: ganvas.Model) -> ganvas.Look:
    """The sidebar's controls shared by all sections -> ganvas.Look."""
    st.sidebar.header("Sampling")
    truncation = st.sidebar.slider(
        "Truncation psi", *TRUNCATION_RANGE, value=1.0, step=0.05, key="truncation",
        help="Pull every latent towards the average one: 1 = off, 0 = the average picture, "
             "below 0 = the opposite side. Lower values look cleaner but vary less.")
    label = None
    if model.num_classes:
        label = st.sidebar.selectbox(
            "Class", [None, *range(model.num_classes)], key="label",
            format_func=lambda i: "by seed (seed % classes)" if i is None
            else model.class_names[i],
            help="The class every picture is drawn from.")
    noise_mode = None
    if model.capabilities.noise_inputs:
        noise_mode = st.sidebar.selectbox(
            "Noise", NOISE_MODES, key="noise_mode",
            help="The generator's per-pixel noise inputs: const (the same every time), random "
                 "(new fine detail on every render) or none.")
    return ganvas.Look(truncation=float(truncation), label=label, noise_mode=noise_mode)


def download_png(label: str, image: np.ndarray, file_name: str, key: str,
                 scale: int = 1) -> None:
    """A button that downloads uint8 (H, W, C) as a PNG, `scale` times enlarged; the bytes
    are made in memory and the click does not rerun the page."""
    st.download_button(label, png_bytes(image, scale), file_name=file_name, mime="image/png",
                       key=key, on_click="ignore", icon=":material/download:")
