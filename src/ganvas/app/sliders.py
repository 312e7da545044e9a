"""Latent sliders: move a few dimensions of one seed's z and watch its picture change."""

from __future__ import annotations

import streamlit as st

import ganvas

from . import render
from .images import enlarge, for_display, grid, view_scale
from .widgets import download_png, kept, user_errors

MAX_DIMS = 6
SHIFT = 3.0                # z is standard normal: +-3 covers nearly all of each dimension
SWEEP_STEPS = 7


def show(path: str, model: ganvas.Model, look: ganvas.Look) -> None:
    """The sliders section."""
    st.caption("Each slider adds to one dimension of the seed's latent z (in standard "
               "deviations); 0 everywhere is the seed's own picture.")
    left, right = st.columns([1, 1], gap="large")
    with left:
        seed = st.number_input("Seed", 0, ganvas.MAX_SEED, step=1, key=kept("sliders_seed", 0))
        dims = st.multiselect("Dimensions", range(model.z_dim),
                              key=kept("sliders_dims", list(range(min(4, model.z_dim)))),
                              max_selections=MAX_DIMS,
                              help=f"Up to {MAX_DIMS} of the {model.z_dim} dimensions of z.")
        shifts = {d: st.slider(f"z[{d}]", -SHIFT, SHIFT, step=0.1,
                               key=kept(f"sliders_z{d}", 0.0))
                  for d in dims}
    scale = view_scale(model.resolution)
    with user_errors():
        image = render.shifted(path, int(seed), shifts, look)[0]
        with right:
            st.image(for_display(enlarge(image, scale)), caption=f"seed {seed} + shifts",
                     output_format="PNG", width="content")
            download_png("Picture (PNG)", image, f"seed{seed}-shifted.png", "sliders_png",
                         scale=scale)
        if dims:
            show_sweep(path, model, int(seed), dims, look)


def show_sweep(path: str, model: ganvas.Model, seed: int, dims: list[int],
               look: ganvas.Look) -> None:
    """An expander with one row per dimension swept from -SHIFT to +SHIFT (Model.explore);
    its pictures are rendered only while it is open."""
    sweep = st.expander(f"Each dimension from -{SHIFT:g} to +{SHIFT:g}, one row each",
                        key="sliders_sweep", on_change="rerun")
    if not sweep.open:
        return
    with sweep:
        cells = render.sweep(path, seed, dims, -SHIFT, SHIFT, SWEEP_STEPS, look)
        sheet = grid(cells.reshape(-1, *cells.shape[2:]), cols=SWEEP_STEPS)
        small = view_scale(model.resolution, 96)
        st.image(for_display(enlarge(sheet, small)), output_format="PNG",
                 caption=", ".join(f"row {r + 1}: z[{d}]" for r, d in enumerate(dims)))
        download_png("Sweep (PNG)", sheet, f"seed{seed}-sweep.png", "sliders_sweep_png",
                     scale=small)
