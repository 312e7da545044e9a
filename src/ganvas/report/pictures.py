"""The report's pictures: a grid of training images beside the samples, and the progress GIF
made of the sample grids (samples/kimg-*.png, written at snapshots or as time passes: a grid
need not have a snapshot)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..data.dataset import open_training_images, subset_indices
from ..imaging import label_font, make_grid, save_gif, save_png, to_uint8
from ..runfolder.read import RunData

REAL_SEED = 0            # which training images are shown: a fixed random subset
MAX_REALS = 64
MAX_FRAMES = 120         # longer runs show evenly spaced grids (always the last one)
MAX_FRAME_SIDE = 512     # larger grids are shrunk for the GIF (pixels)
CAPTION = 16             # height of the "N kimg" band under each frame (pixels)


def grid_scale(resolution: int) -> int:
    """The enlargement the loop applies to sample grids (crisp 64px cells at least)."""
    return max(1, 64 // resolution)


def real_grid(run: RunData) -> np.ndarray:
    """A uint8 (H, W, C) grid of the run's training images at the model's resolution, as many
    as the sample grid has cells (up to MAX_REALS). Raises whatever opening the dataset raises
    (GanvasError for a missing one, or one whose content hash is not the run's)."""
    spec = run.dataset
    if not spec:
        raise FileNotFoundError("the run does not record its dataset")
    channels = int(run.config.get("model", {}).get("channels", 3))
    _, bank = open_training_images(spec, run.resolution, channels, run.conditional,
                                   expected_hash=run.dataset_hash)
    num = min(MAX_REALS, int(run.config.get("train", {}).get("grid_size", MAX_REALS)), len(bank))
    idx = subset_indices(len(bank), num, REAL_SEED)
    images = to_uint8(bank.images_at(idx))            # (num, res, res, C)
    return make_grid(images, cols=math.ceil(math.sqrt(num)))


def write_reals(run: RunData, path: Path) -> Path:
    """reals.png, enlarged like the sample grids. Kept once written: the training images of a
    run never change (a resume checks the dataset's hash), and decoding a big dataset again at
    every report would be slow."""
    if path.is_file():
        return path
    return save_png(real_grid(run), path, scale=grid_scale(run.resolution))


def kimg_of(sample: Path) -> str:
    """samples/kimg-000012.500.png -> '12.5 kimg' (an odd name is shown as it is)."""
    try:
        return f"{float(sample.stem.split('-', 1)[1]):g} kimg"
    except (IndexError, ValueError):
        return sample.stem


def frame(sample: Path, size: tuple[int, int] | None) -> np.ndarray:
    """A sample grid as an RGB uint8 (H, W, 3) frame with its kimg written underneath;
    resized to `size` (W, H) when given, so every frame matches the first."""
    pil = Image.open(sample)
    pil.load()
    if pil.mode == "RGBA":                      # flatten on white, as save_gif does
        bg = Image.new("RGB", pil.size, "white")
        bg.paste(pil, mask=pil.getchannel("A"))
        pil = bg
    pil = pil.convert("RGB")
    if size is None:
        shrink = max(pil.width, pil.height) / MAX_FRAME_SIDE
        size = (pil.width, pil.height) if shrink <= 1 else \
            (round(pil.width / shrink), round(pil.height / shrink))
    if pil.size != size:
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (pil.width, pil.height + CAPTION), "white")
    canvas.paste(pil, (0, 0))
    ImageDraw.Draw(canvas).text((4, pil.height + 1), kimg_of(sample), fill="black",
                                font=label_font(CAPTION - 4))
    return np.asarray(canvas)


def pick_frames(samples: list[Path], limit: int = MAX_FRAMES) -> list[Path]:
    """At most `limit` samples, evenly spaced, first and last included."""
    if len(samples) <= limit:
        return list(samples)
    idx = np.linspace(0, len(samples) - 1, limit).round().astype(int)
    return [samples[i] for i in sorted(set(idx.tolist()))]


def write_progress(run: RunData, path: Path, fps: float = 4) -> Path | None:
    """progress.gif: one frame per sample grid, in training order; None (and no GIF, an
    earlier one removed) with fewer than 2 grids, where nothing would move. Pillow merges
    identical consecutive frames, so a run whose grid stopped changing has fewer frames
    than grids."""
    chosen = pick_frames(run.samples)
    if len(chosen) < 2:
        path.unlink(missing_ok=True)
        return None
    first = frame(chosen[0], None)
    size = (first.shape[1], first.shape[0] - CAPTION)
    frames = [first] + [frame(s, size) for s in chosen[1:]]
    return save_gif(frames, path, fps=fps)
