"""Style mixing (StyleGAN2): each cell is a row seed with some layers' styles taken from a
column seed. Other families get a short explanation instead."""

from __future__ import annotations

import streamlit as st

import ganvas

from . import render
from .card import escape
from .images import enlarge, for_display, grid, view_scale
from .inputs import parse_seeds
from .widgets import download_png, kept, user_errors

MAX_SIDE = 6
STYLES = {"coarse": "coarse: pose, shape, layout (4-8 px layers)",
          "middle": "middle: smaller features (16-32 px layers)",
          "fine": "fine: colours and texture (64 px layers and up)"}
SMALLEST = {"coarse": 4, "middle": 16, "fine": 64}     # a model below this has no such layers


def explain(model: ganvas.Model) -> None:
    """What style mixing is, for models that cannot do it."""
    st.info(f"Style mixing needs a model with per-layer styles; this one is a "
            f"{escape(model.family)}. "
            "StyleGAN2 feeds its latent to every resolution of the generator separately, so the "
            "coarse layers (pose, shape) can come from one seed and the fine ones (colour, "
            "texture) from another. Train one with `ganvas train DATA --model stylegan2`.",
            icon=":material/info:")


def show(path: str, model: ganvas.Model, look: ganvas.Look) -> None:
    """The style-mixing section."""
    if not model.capabilities.style_mixing:
        explain(model)
        return
    st.caption("Top row: the column seeds; left column: the row seeds; each cell: the row "
               "seed with the chosen layers' styles from the column seed.")
    with user_errors():
        a, b, c = st.columns(3)
        rows = parse_seeds(a.text_input("Row seeds", key=kept("mix_rows", "0-2")), MAX_SIDE)
        cols = parse_seeds(b.text_input("Column seeds", key=kept("mix_cols", "3-6")), MAX_SIDE)
        bands = [k for k in STYLES if SMALLEST[k] <= model.resolution]
        styles = c.selectbox("Styles from the column seed", bands,
                             key=kept("mix_styles", bands[0]),
                             format_func=STYLES.get)
        cells = render.style_mix(path, rows, cols, styles, look)
        sheet = grid(cells.reshape(-1, *cells.shape[2:]), cols=cells.shape[1])
        scale = view_scale(model.resolution, 128)
        st.image(for_display(enlarge(sheet, scale)), output_format="PNG", width="content")
        download_png("Style mix (PNG)", sheet, "style-mix.png", "mix_png", scale=scale)
