"""Direction sliders: move one seed along the model's top SeFa directions (ganvas directions),
several at once, and watch its picture change."""

from __future__ import annotations

import streamlit as st

import ganvas

from . import render
from .images import enlarge, for_display, view_scale
from .widgets import download_png, kept, user_errors

NUM_DIRECTIONS = 5
SHIFT = 5.0                # in units of the latent's spread along each direction


def show(path: str, model: ganvas.Model, look: ganvas.Look) -> None:
    """The directions section."""
    st.caption("Each slider moves the seed along one of the model's top directions, found "
               "without labels by SeFa (the closed-form factorisation of the weights that "
               "first read the latent), in units of the latent's spread along it.")
    left, right = st.columns([1, 1], gap="large")
    with left:
        seed = st.number_input("Seed", 0, ganvas.MAX_SEED, step=1, key=kept("directions_seed", 0))
        found = render.directions(path, NUM_DIRECTIONS)
        amounts = {r: st.slider(f"direction {r}", -SHIFT, SHIFT, step=0.25,
                                key=kept(f"directions_d{r}", 0.0),
                                help=f"eigenvalue {found.values[r]:.3g}")
                   for r in range(len(found.vectors))}
    scale = view_scale(model.resolution)
    with user_errors():
        image = render.along(path, int(seed), amounts, NUM_DIRECTIONS, look)
        with right:
            st.image(for_display(enlarge(image, scale)), caption=f"seed {seed} + directions",
                     output_format="PNG", width="content")
            download_png("Picture (PNG)", image, f"seed{seed}-directions.png",
                         "directions_png", scale=scale)
