"""The model, loaded once per process, and cached calls of its public API.

Streamlit reruns the whole page on every click; caching the pictures by their parameters makes
a rerun that changes nothing cost nothing. Arguments are plain values (the model's path as
given on the command line, tuples of ints, floats, strings) so that they hash cheaply.
Pictures are uint8 arrays (N, H, W, C), as the API returns them.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import streamlit as st

import ganvas

CACHE_ENTRIES = 64          # pictures per cached function, least recently used dropped
# The device of the command line (`ganvas app --device`), one per process like the model path;
# kept here so that the sections' load_model(path) calls need not carry it.
DEVICE = {"name": "auto"}
# One heavy job (a walk, a projection) at a time in this process, whatever the number of
# browser sessions: a second click is told to wait instead of queueing more work.
HEAVY = threading.Lock()
# Rendered pixels (frames x height x width) one click may ask for: the command line's bound.
MAX_JOB_PIXELS = ganvas.MAX_RENDER_PIXELS


@contextmanager
def heavy_job():
    """Hold the page's one heavy-job slot for a block; a GanvasError ("busy") when another
    session's walk or projection is running."""
    if not HEAVY.acquire(blocking=False):
        raise ganvas.GanvasError("the page is busy with another walk or projection; try "
                                 "again in a moment")
    try:
        yield
    finally:
        HEAVY.release()


def check_job(what: str, frames: int, shape: tuple[int, int], scale: int = 1) -> None:
    """A GanvasError when `frames` pictures of `shape` (H, W) enlarged `scale` times exceed
    MAX_JOB_PIXELS."""
    h, w = shape[0] * scale, shape[1] * scale
    if frames * h * w > MAX_JOB_PIXELS:
        raise ganvas.GanvasError(
            f"{what} of {frames:,} frames of {w}x{h} is too much for the page (at most "
            f"{MAX_JOB_PIXELS:,} pixels); use fewer frames or keyframes, fewer steps or a "
            f"smaller enlargement, or the ganvas command line")


def cacheable(look: ganvas.Look) -> bool:
    """Random noise gives a new picture every time: those pictures are never cached."""
    return look.noise_mode != "random"


def remembered(fn):
    """fn, with fn.cached the same function behind st.cache_data (for random noise, which
    must not be cached, the page calls fn itself)."""
    fn.cached = st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)(fn)
    return fn


def use_device(name: str) -> None:
    """Load models onto `name` (auto, cpu, cuda, ...) from now on."""
    DEVICE["name"] = name


def load_model(path: str) -> ganvas.Model:
    """ganvas.load(path) onto the page's device, once per process, path and device (shared
    by every browser session)."""
    return _load_model(path, DEVICE["name"])


@st.cache_resource(show_spinner="Loading the model...")
def _load_model(path: str, device: str) -> ganvas.Model:
    return ganvas.load(path, device)


def generate(path: str, seeds: list[int], look: ganvas.Look) -> np.ndarray:
    """Model.generate(seeds) with the sidebar's look: uint8 (N, H, W, C)."""
    args = (path, tuple(seeds), look)
    return (_generate.cached if cacheable(look) else _generate)(*args)


@remembered
def _generate(path, seeds, look) -> np.ndarray:
    return load_model(path).generate(list(seeds), look=look)


def shifted(path: str, seed: int, shifts: dict[int, float], look: ganvas.Look) -> np.ndarray:
    """The seed's picture with z[d] + shifts[d] for each dimension d: uint8 (1, H, W, C)."""
    args = (path, seed, tuple(sorted(shifts.items())), look)
    return (_shifted.cached if cacheable(look) else _shifted)(*args)


@remembered
def _shifted(path, seed, shifts, look) -> np.ndarray:
    model = load_model(path)
    z = model.z([seed])                                     # (1, z_dim), standard normal
    for dim, value in shifts:
        z[0, dim] += value
    return model.synthesize(z, model.labels([seed], look.label), look.truncation,
                            look.noise_mode)


def sweep(path: str, seed: int, dims: list[int], lo: float, hi: float, steps: int,
          look: ganvas.Look) -> np.ndarray:
    """Model.explore in z space: uint8 (len(dims), steps, H, W, C)."""
    args = (path, seed, tuple(dims), lo, hi, steps, look)
    return (_sweep.cached if cacheable(look) else _sweep)(*args)


@remembered
def _sweep(path, seed, dims, lo, hi, steps, look) -> np.ndarray:
    return load_model(path).explore(seed, list(dims), lo, hi, steps, space="z", look=look)


def style_mix(path: str, rows: list[int], cols: list[int], styles: str,
              look: ganvas.Look) -> np.ndarray:
    """Model.style_mix: uint8 (R + 1, C + 1, H, W, C), corner cell blank."""
    args = (path, tuple(rows), tuple(cols), styles, look)
    return (_style_mix.cached if cacheable(look) else _style_mix)(*args)


@remembered
def _style_mix(path, rows, cols, styles, look) -> np.ndarray:
    return load_model(path).style_mix(list(rows), list(cols), styles, look=look)


@st.cache_resource(show_spinner="Finding directions...")
def directions(path: str, num: int):
    """The model's top `num` SeFa directions (Model.directions), found once per process."""
    model = load_model(path)
    return model.directions("sefa", num=min(num, model.sampler.z_dim))


def along(path: str, seed: int, amounts: dict[int, float], num: int,
          look: ganvas.Look) -> np.ndarray:
    """The seed's picture moved along the top SeFa directions: uint8 (H, W, C)."""
    args = (path, seed, tuple(sorted(amounts.items())), num, look)
    return (_along.cached if cacheable(look) else _along)(*args)


@remembered
def _along(path, seed, amounts, num, look) -> np.ndarray:
    return load_model(path).along_directions(seed, directions(path, num), dict(amounts),
                                             look=look)
