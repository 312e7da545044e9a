"""The gallery: pictures of a range of seeds, or of random ones, with PNG downloads."""

from __future__ import annotations

import secrets

import streamlit as st

import ganvas

from . import render
from .images import enlarge, for_display, grid, view_scale
from .inputs import parse_seeds
from .widgets import download_png, kept, user_errors

MAX_PICTURES = 64
DEFAULT_SEEDS = "0-17"
DEFAULT_COLUMNS = 6


def roll(count: int) -> None:
    """New random seeds into the session (the button's callback)."""
    st.session_state["gallery_random"] = [secrets.randbelow(ganvas.MAX_SEED + 1)
                                          for _ in range(count)]


def chosen_seeds() -> list[int]:
    """The seeds the controls ask for (a GanvasError for a bad seed list)."""
    how = st.radio("Seeds", ("Range", "Random"), horizontal=True,
                   key=kept("gallery_mode", "Range"),
                   label_visibility="collapsed")
    if how == "Range":
        text = st.text_input("Seeds", key=kept("gallery_seeds", DEFAULT_SEEDS),
                             help=f"Numbers and ranges like 0-15 or 3,7,42 (at most "
                                  f"{MAX_PICTURES} pictures, seeds 0 to {ganvas.MAX_SEED}).")
        return parse_seeds(text, MAX_PICTURES)
    count = st.slider("How many", 1, MAX_PICTURES, key=kept("gallery_count", 18))
    st.button("Roll new seeds", key="gallery_roll", on_click=roll, args=(count,),
              icon=":material/casino:")
    if len(st.session_state.get("gallery_random", ())) != count:
        roll(count)
    return st.session_state["gallery_random"]


def show(path: str, model: ganvas.Model, look: ganvas.Look) -> None:
    """The gallery section."""
    left, right = st.columns([1, 4], gap="large")
    with left:
        columns = st.slider("Columns", 2, 8, key=kept("gallery_columns", DEFAULT_COLUMNS))
    with user_errors():
        with left:
            seeds = chosen_seeds()
        images = render.generate(path, seeds, look)
        scale = view_scale(model.resolution)
        with right:
            for start in range(0, len(seeds), columns):
                for col, i in zip(st.columns(columns), range(start, len(seeds))):
                    col.image(for_display(enlarge(images[i], scale)), caption=f"seed {seeds[i]}",
                              output_format="PNG", width="stretch")
        with left:
            st.divider()
            download_png("Grid (PNG)", grid(images, columns), "gallery.png", "gallery_grid_png",
                         scale=scale)
            pick = st.selectbox("One picture", range(len(seeds)), key="gallery_pick",
                                format_func=lambda i: f"seed {seeds[i]}")
            download_png(f"Seed {seeds[pick]} (PNG)", images[pick], f"seed{seeds[pick]}.png",
                         "gallery_one_png", scale=scale)
