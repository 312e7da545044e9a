"""Projection: upload a picture, find the latent that reproduces it, keep it as a keyframe.

The upload is checked and decoded in memory (inputs.read_upload), re-encoded as a PNG into a
private temporary folder for Model.project, and everything the projection writes is read back
into the session: the latents (the keyframes .npz format), the reconstruction and the summary.
Each projection joins the session's list of projected keyframes, which the interpolation
section can walk through.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

import ganvas

from .card import escape
from .images import view_scale
from .inputs import MAX_UPLOAD_BYTES, UPLOAD_TYPES, read_upload
from .render import check_job, heavy_job
from .widgets import kept, user_errors

STATE = "projections"           # session key: list of projected keyframes, oldest first
MAX_PROJECTIONS = 8
STEP_RANGE = (10, 2000)


def projections() -> list[dict]:
    """The session's projected keyframes: dicts with name, latents ({"z"|"w": (1, ...),
    ["labels": (1,)]}), npz (bytes), reconstruction (PNG bytes) and report (the API's)."""
    return st.session_state.setdefault(STATE, [])


def keyframe_arrays(model: ganvas.Model, items: list[dict], seeds: list[int],
                    label: int | None) -> dict[str, np.ndarray]:
    """Projected keyframes, then seeds -> the arrays of a latents file: w-space models {"w"}
    (K, num_ws, w_dim), others {"z"} [+ "labels" for a conditional model]."""
    if model.capabilities.w_space:
        num_ws = model.w([0]).shape[1]
        ws = [np.broadcast_to(w[:, None] if w.ndim == 2 else w, (len(w), num_ws, w.shape[-1]))
              for w in (item["latents"]["w"] for item in items)]
        if seeds:
            ws.append(model.w(seeds, label).numpy())
        return {"w": np.concatenate(ws).astype(np.float32)}
    z = [item["latents"]["z"] for item in items] + [model.z(seeds).numpy()] * bool(seeds)
    arrays = {"z": np.concatenate(z).astype(np.float32)}
    if model.num_classes:
        labels = [item["latents"]["labels"] for item in items]
        if seeds:
            labels.append(model.labels(seeds, label).numpy())
        arrays["labels"] = np.concatenate(labels).astype(np.int64)
    return arrays


def read_npz(data: bytes) -> dict[str, np.ndarray]:
    """The bytes of an .npz file the API wrote -> its arrays (no pickles)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def project(model: ganvas.Model, png: bytes, name: str, steps: int, seed: int,
            label: int | None, w_plus: bool) -> dict:
    """Run Model.project on the picture `png` in a private temporary folder -> a projected
    keyframe (see `projections`), with a progress bar that follows the steps."""
    check_job("this projection", steps, model.shape)            # a render per step
    kwargs = dict(steps=steps, seed=seed, label=label, w_plus=w_plus, progress=False,
                  scale=view_scale(model.resolution, 128))
    with heavy_job(), tempfile.TemporaryDirectory(prefix="ganvas-app-") as tmp:
        target = Path(tmp) / "target.png"
        target.write_bytes(png)
        out = Path(tmp) / "projection"
        bar = st.progress(0.0, text="Projecting...")

        def callback(step: int, total: int, distance: float) -> None:
            bar.progress(min(1.0, step / total),
                         text=f"step {step} of {total}, distance {distance:.4f}")
        report = model.project(target, out, callback=callback, **kwargs)
        bar.empty()
        npz = (out / "latent.npz").read_bytes()
        reconstruction = (out / "reconstruction.png").read_bytes()
    return {"name": name, "latents": read_npz(npz), "npz": npz,
            "reconstruction": reconstruction, "report": report}


def controls(model: ganvas.Model) -> tuple[int, int, bool]:
    """Steps, seed and (w-space models) w+ from the section's widgets."""
    a, b = st.columns(2)
    steps = a.slider("Steps", *STEP_RANGE, step=10, key=kept("project_steps", 200),
                     help="More steps, closer reconstruction; each step renders the model "
                          "once forwards and backwards.")
    seed = b.number_input("Seed", 0, ganvas.MAX_SEED, step=1, key=kept("project_seed", 0),
                          help="Seeds the starting points and the optimisation noise.")
    w_plus = False
    if model.capabilities.w_space:
        w_plus = st.checkbox("w+ (one w per layer)", key=kept("project_w_plus", False),
                             help="Closer reconstructions; latents that walk less well.")
    return steps, int(seed), w_plus


def show_result(item: dict, index: int) -> None:
    """One projected keyframe: target beside reconstruction, numbers, downloads."""
    row = item["report"]["targets"][0]
    st.image(item["reconstruction"], width="content",
             caption=f"{item['name']}: upload (left), reconstruction (right)")
    st.caption(f"space {item['report']['space']} · distance {row['start_distance']:.4f} -> "
               f"{row['distance']:.4f} ({item['report']['distance']['name']}) · "
               f"PSNR {row['psnr_db']:.1f} dB" + (f" · class {escape(row['class'])}" if row["class"]
                                                  else ""))
    a, b = st.columns(2)
    a.download_button("Latents (.npz)", item["npz"], file_name=f"latent-{index}.npz",
                      mime="application/octet-stream", key=f"project_npz_{index}",
                      on_click="ignore", icon=":material/download:")
    b.download_button("Reconstruction (PNG)", item["reconstruction"],
                      file_name=f"reconstruction-{index}.png", mime="image/png",
                      key=f"project_png_{index}", on_click="ignore",
                      icon=":material/download:")


def show(path: str, model: ganvas.Model, look: ganvas.Look) -> None:
    """The projection section: upload and controls on the left, projections on the right."""
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.caption(f"Upload a picture ({', '.join(UPLOAD_TYPES)}, up to "
                   f"{MAX_UPLOAD_BYTES // 2**20} MB); it is centre-cropped to "
                   f"{model.picture_size}. Each result becomes a keyframe "
                   "for the Interpolation tab.")
        file = st.file_uploader("Picture", type=list(UPLOAD_TYPES), key="project_upload")
        steps, seed, w_plus = controls(model)
        if file is not None:
            with user_errors():
                upload = read_upload(file.name, file.getvalue())
                h, w = upload.pixels.shape[:2]
                st.image(upload.png, caption=f"{file.name}: {w}x{h}",
                         width=min(256, max(160, w)))
                full = len(projections()) >= MAX_PROJECTIONS
                if full:
                    st.caption(f"At most {MAX_PROJECTIONS} projections: clear them to add "
                               "more.")
                if st.button("Project", key="project_run", type="primary", disabled=full,
                             icon=":material/center_focus_strong:"):
                    with right:
                        item = project(model, upload.png, file.name, steps, seed,
                                       look.label, w_plus)
                    projections().append(item)
                    st.rerun()                 # so that the Interpolation tab offers it
    with right:
        items = projections()
        if not items:
            st.caption("Projections appear here: the upload beside its reconstruction.")
            return
        for i, item in reversed(list(enumerate(items))):
            show_result(item, i)
        if st.button("Clear projections", key="project_clear"):
            items.clear()
            st.rerun()
