"""Interpolation: a walk through two or more seeds, one seed across the classes of a
conditional model, or projected pictures; previewed as a GIF, downloadable as GIF, MP4 or a
PNG storyboard.

The API writes videos (and reads keyframe files) by path; the page gives it a temporary folder
of its own and hands the bytes to the browser, so no path the user could influence is used.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import streamlit as st

import ganvas

from . import projection
from .images import grid, view_scale
from .inputs import parse_seeds
from .render import check_job, heavy_job
from .widgets import download_png, kept, user_errors

MAX_KEYFRAMES = 12
STATE = "walk_result"         # session key of the last rendered walk


@dataclass
class WalkRequest:
    """What to render. keys: Model.interpolate's keyframe arguments (seeds, class_walk,
    space); arrays: a latents file's arrays instead of seeds (projected keyframes), written to
    a temporary file when rendering; options: frames_per_step, loop, method, easing; look:
    the walk's class, truncation and noise mode."""
    keys: dict
    options: dict = field(default_factory=dict)
    arrays: dict | None = None
    fps: float = 12.0
    scale: int = 1
    look: ganvas.Look = ganvas.Look()

    def signature(self) -> str:
        """A fingerprint of the request (to tell whether a shown walk is out of date)."""
        arrays = {k: hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest()
                  for k, v in (self.arrays or {}).items()}
        return json.dumps([self.keys, self.options, arrays, self.fps, self.scale, self.look],
                          sort_keys=True, default=str)


def seed_keys() -> dict:
    text = st.text_input("Keyframe seeds", key=kept("walk_seeds", "0,1,2,3"),
                         help=f"2 to {MAX_KEYFRAMES} seeds, visited in order.")
    return {"seeds": parse_seeds(text, MAX_KEYFRAMES, minimum=2)}


def class_keys(model: ganvas.Model) -> dict:
    seed = st.number_input("Seed", 0, ganvas.MAX_SEED, step=1, key=kept("walk_class_seed", 0))
    classes = st.multiselect("Classes, in order", range(model.num_classes),
                             key=kept("walk_classes", list(range(min(3, model.num_classes)))),
                             format_func=lambda i: model.class_names[i],
                             max_selections=MAX_KEYFRAMES)
    if len(classes) < 2:
        raise ganvas.GanvasError("pick at least 2 classes to walk between")
    return {"seeds": [int(seed)], "class_walk": list(classes)}


def projected_arrays(model: ganvas.Model, look: ganvas.Look) -> dict:
    """The projected keyframes chosen (and, for z models, seeds after them) -> arrays."""
    items = projection.projections()
    chosen = st.multiselect("Projected pictures, in order", range(len(items)),
                            default=list(range(len(items))), key="walk_projected",
                            format_func=lambda i: f"{i + 1}: {items[i]['name']}")
    text = st.text_input("Then these seeds", key=kept("walk_projected_seeds", "0"),
                         help="Optional; empty for projections only.")
    seeds = parse_seeds(text, MAX_KEYFRAMES, minimum=0)
    if len(chosen) + len(seeds) < 2:
        raise ganvas.GanvasError("a walk needs at least 2 keyframes: project another picture "
                                 "or add a seed")
    st.caption("Truncation is off in this walk: it would move the projections away from "
               "their pictures.")
    return projection.keyframe_arrays(model, [items[i] for i in chosen], seeds,
                                      look.label)


def keyframe_controls(model: ganvas.Model, look: ganvas.Look) -> tuple[dict, dict | None]:
    """-> (keyframe arguments, latents arrays or None) from the chosen kind of keyframes."""
    kinds = ["Seeds"] + ["Classes"] * bool(model.num_classes) + \
        ["Projected pictures"] * bool(projection.projections())
    kind = kinds[0]
    if len(kinds) > 1:
        if st.session_state.get("walk_mode") not in kinds:      # projections were cleared
            st.session_state["walk_mode"] = kinds[0]
        kind = st.radio("Keyframes", kinds, horizontal=True, key=kept("walk_mode", kinds[0]),
                        help="Classes: one seed's latent walking from class to class. "
                             "Projected pictures: made in the Projection tab.")
    if kind == "Seeds":
        return seed_keys(), None
    if kind == "Classes":
        return class_keys(model), None
    return {}, projected_arrays(model, look)


def request(model: ganvas.Model, look: ganvas.Look) -> WalkRequest:
    """The section's controls -> a WalkRequest (a GanvasError for bad keyframes)."""
    keys, arrays = keyframe_controls(model, look)
    loop = st.checkbox("Loop back to the first keyframe", key=kept("walk_loop", True))
    steps = st.slider("Frames per step", 2, 48, key=kept("walk_frames", 12))
    fps = st.slider("Frames per second", 1, 30, key=kept("walk_fps", 12))
    scale = st.slider("Enlarge", 1, 8, help="Crisp nearest-neighbour enlargement.",
                      key=kept("walk_scale", min(8, view_scale(model.resolution))))
    with st.expander("More options"):
        method = st.selectbox("Path", ("slerp", "lerp"), key=kept("walk_method", "slerp"),
                              help="slerp follows the sphere Gaussian latents live on.")
        easing = st.selectbox("Easing", ("linear", "smooth"), key=kept("walk_easing", "linear"),
                              help="smooth: slow down into and out of every keyframe.")
        space = None
        if model.capabilities.w_space and arrays is None:
            space = st.selectbox("Space", ("z", "w"), key=kept("walk_space", "z"),
                                 help="w: interpolate after the mapping network.")
    keys.update(space=space)
    options = dict(frames_per_step=steps, loop=loop, method=method, easing=easing)
    return WalkRequest(keys, options, arrays, float(fps), int(scale),
                       walk_look(look, keys, arrays))


def walk_look(look: ganvas.Look, keys: dict, arrays: dict | None) -> ganvas.Look:
    """The sidebar's look as this walk uses it: projected keyframes keep their pictures (no
    truncation; their classes are in the arrays), a class walk picks the classes itself."""
    if arrays is not None:
        return ganvas.Look(noise_mode=look.noise_mode)
    if keys.get("class_walk"):
        return replace(look, label=None)
    return look


def render_walk(model: ganvas.Model, req: WalkRequest, mp4: bool) -> dict:
    """Render the GIF (and the MP4 when asked) and the storyboard -> bytes and pixels; one
    heavy job at a time, within the page's pixel budget (render.check_job)."""
    check_walk(model, req)
    out = {"signature": req.signature()}
    with heavy_job(), tempfile.TemporaryDirectory(prefix="ganvas-app-") as tmp:
        keys = dict(req.keys)
        if req.arrays is not None:
            keys["latents"] = Path(tmp) / "keyframes.npz"
            np.savez(keys["latents"], **req.arrays)
        for ext in ("gif", "mp4") if mp4 else ("gif",):
            path = model.interpolate(Path(tmp) / f"walk.{ext}", fps=req.fps, scale=req.scale,
                                     progress=False, look=req.look, **keys, **req.options)
            out[ext] = path.read_bytes()
        board = model.walk(storyboard=True, look=req.look, **keys, **req.options)
        out["storyboard"] = grid(board.frames(), cols=req.options["frames_per_step"] + 1)
        out["frames"] = len(model.walk(look=req.look, **keys, **req.options))
    return out


def check_walk(model: ganvas.Model, req: WalkRequest) -> None:
    """The walk's frames x enlarged size within the page's budget, before any rendering."""
    if req.arrays is not None:
        keys = len(next(iter(req.arrays.values())))
    elif req.keys.get("class_walk"):
        keys = len(req.keys["class_walk"])
    else:
        keys = len(req.keys.get("seeds") or ())
    o = req.options
    steps = keys if o.get("loop") else keys - 1
    frames = max(0, steps) * (o["frames_per_step"] + 1) + 1      # about the GIF's (+ storyboard)
    check_job("this walk", frames, model.shape, req.scale)


def show_result(result: dict, current: WalkRequest | None) -> None:
    """The last rendered walk: the GIF and its downloads."""
    if current is None or result["signature"] != current.signature():
        st.caption("The controls changed since this walk was rendered: render it again to "
                   "see them.")
    st.image(result["gif"], caption=f"{result['frames']} frames", width="content")
    with st.container(horizontal=True):
        st.download_button("GIF", result["gif"], file_name="walk.gif", mime="image/gif",
                           key="walk_gif", on_click="ignore", icon=":material/download:")
        if result.get("mp4"):
            st.download_button("MP4", result["mp4"], file_name="walk.mp4", mime="video/mp4",
                               key="walk_mp4_download", on_click="ignore",
                               icon=":material/download:")
        download_png("Storyboard (PNG)", result["storyboard"], "walk-storyboard.png",
                     "walk_storyboard_png")


def show(path: str, model: ganvas.Model, look: ganvas.Look) -> None:
    """The interpolation section."""
    left, right = st.columns([2, 3], gap="large")
    req = None
    with left, user_errors():
        req = request(model, look)
        mp4 = st.checkbox("Also make an MP4 (H.264)", key=kept("walk_mp4", False))
        if st.button("Render the walk", key="walk_render", type="primary",
                     icon=":material/movie:"):
            with right, st.spinner("Rendering..."):
                st.session_state[STATE] = render_walk(model, req, mp4)
    with right:
        if st.session_state.get(STATE):
            show_result(st.session_state[STATE], req)
        else:
            st.caption("Choose keyframes and render: the walk appears here as a GIF.")
