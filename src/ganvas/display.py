"""Pictures and walks that show themselves in a notebook (Jupyter, Colab, VS Code).

A notebook shows the value of a cell's last line through its `_repr_*_` methods, so these
objects need no IPython (nothing here imports it): a `Picture` answers `_repr_png_` with the
bytes of a PNG, an `Animation` answers `_repr_html_` with an <img> holding its GIF as base64
(a PNG cannot move). Both are shown enlarged whole times with nearest neighbour, so a 32 px
model is not a smudge on the screen, while `np.asarray` and `.save` give the pictures
themselves. The PNG and GIF bytes come from imaging (png_bytes, gif_bytes), the files they
save from the writers every verb uses (imaging.save_png, latent.video).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import GanvasError
from .imaging import MODES, gif_bytes, png_bytes, save_png
from .latent.animate import Walk
from .latent.video import check_fps, gif_fits, write_gif, write_mp4
from .outputs import MAX_SCALE, check_out_file, check_png, check_scale
from .runfolder.read import read_run

SHOW_PIXELS = 512           # a picture is shown enlarged to about this on its longer side
SHOW_FRAME_PIXELS = 256     # an animation's frames likewise
ANIMATION_FORMATS = (".gif", ".mp4")


def show_scale(height: int, width: int, target: int) -> int:
    """The whole enlargement (1 to MAX_SCALE) that shows a height x width picture at about
    `target` px on its longer side, never above it once enlarged."""
    return min(MAX_SCALE, max(1, target // max(height, width)))


def check_pixels(pixels: np.ndarray, what: str) -> np.ndarray:
    """`pixels` as a uint8 array whose last axis is 1, 3 or 4 channels, or a GanvasError."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim < 3 or pixels.shape[-1] not in MODES \
            or 0 in pixels.shape:
        raise GanvasError(f"{what} must be uint8 (..., H, W, C) with C in 1, 3, 4, not "
                          f"{pixels.dtype} {tuple(pixels.shape)}")
    return pixels


class Picture:
    """One uint8 (H, W, C) picture (a grid, a sample grid, one seed's picture) that a notebook
    shows inline, enlarged `scale` times (None: show_scale's, to about SHOW_PIXELS).
    np.asarray(picture) gives its pixels; picture.save(path) writes them as a PNG."""

    def __init__(self, pixels: np.ndarray, scale: int | None = None):
        self.pixels = check_pixels(pixels, "a picture")
        if self.pixels.ndim != 3:
            raise GanvasError(f"a picture is (H, W, C), not {tuple(self.pixels.shape)}")
        if scale is None:
            scale = show_scale(*self.pixels.shape[:2], SHOW_PIXELS)
        check_scale(scale)
        self.scale = scale

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.pixels.shape

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        pixels = self.pixels if dtype is None else self.pixels.astype(dtype)
        return pixels.copy() if copy else pixels

    def _repr_png_(self) -> bytes:
        return png_bytes(self.pixels, self.scale)

    def save(self, path: str | os.PathLike, scale: int = 1) -> Path:
        """Write the picture as a PNG at `path` (atomically), enlarged `scale` (1-16) times."""
        check_png(path)
        check_out_file(path)
        check_scale(scale)
        return save_png(self.pixels, path, scale=scale)

    def __repr__(self) -> str:
        h, w, c = self.shape
        return f"<ganvas Picture {w}x{h} x{c}, shown {self.scale}x>"


class Animation:
    """uint8 (N, H, W, C) frames (a walk) that a notebook shows inline as a looping GIF at
    `fps`, enlarged `scale` times (None: show_scale's, to about SHOW_FRAME_PIXELS).
    np.asarray(animation) gives the frames; animation.save(path) writes a .gif or an .mp4."""

    def __init__(self, frames: np.ndarray, fps: float = 12, scale: int | None = None):
        self.frames = check_pixels(frames, "frames")
        if self.frames.ndim != 4:
            raise GanvasError(f"frames are (N, H, W, C), not {tuple(self.frames.shape)}")
        check_fps(fps)
        n, h, w = self.frames.shape[:3]
        if scale is None:
            scale = show_scale(h, w, SHOW_FRAME_PIXELS)
        check_scale(scale)
        gif_fits(n, h, w, scale)
        self.fps, self.scale = fps, scale
        self._gif: bytes | None = None

    @classmethod
    def of_walk(cls, walk: Walk, fps: float = 12, scale: int | None = None) -> Animation:
        """Render every frame of `walk`, after checking that they fit in a GIF."""
        check_fps(fps)
        h, w = walk.sampler.shape
        if scale is None:
            scale = show_scale(h, w, SHOW_FRAME_PIXELS)
        check_scale(scale)
        gif_fits(len(walk), h, w, scale)
        return cls(np.concatenate(list(walk.chunks())), fps, scale)

    def __len__(self) -> int:
        return len(self.frames)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        frames = self.frames if dtype is None else self.frames.astype(dtype)
        return frames.copy() if copy else frames

    def gif(self) -> bytes:
        """The bytes of the GIF the notebook shows (made once)."""
        if self._gif is None:
            self._gif = gif_bytes(list(self.frames), self.fps, self.scale)
        return self._gif

    def _repr_html_(self) -> str:
        h, w = self.frames.shape[1:3]
        data = base64.b64encode(self.gif()).decode("ascii")
        return (f'<img src="data:image/gif;base64,{data}" width="{w * self.scale}" '
                f'height="{h * self.scale}" alt="a walk of {len(self)} frames"/>')

    def save(self, path: str | os.PathLike, scale: int = 1) -> Path:
        """Write the frames at `path`: .gif or .mp4 (H.264), at the animation's fps,
        enlarged `scale` (1-16) times; atomically."""
        ext = Path(path).suffix.lower()
        if ext not in ANIMATION_FORMATS:
            raise GanvasError(f"cannot write {Path(path).name!r}: an animation is saved as "
                              f"{' or '.join(ANIMATION_FORMATS)}")
        check_out_file(path)
        check_scale(scale)
        if ext == ".gif":
            gif_fits(len(self), *self.frames.shape[1:3], scale)
        write = write_gif if ext == ".gif" else write_mp4
        return write(path, [self.frames], fps=self.fps, scale=scale)

    def __repr__(self) -> str:
        n, h, w, c = self.frames.shape
        return f"<ganvas Animation {n} frames of {w}x{h} x{c} at {self.fps:g} fps>"


def newest_samples(run_dir: str | os.PathLike, scale: int | None = None) -> Picture:
    """The newest sample grid of a run (RUN/samples/kimg-NNNNNN.png, the fixed latents drawn at
    every snapshot) as a Picture; a GanvasError when the run has none yet or it is unreadable."""
    grids = read_run(run_dir).samples
    if not grids:
        raise GanvasError(f"{run_dir} has no sample grid yet (one is drawn at every snapshot)")
    try:
        with Image.open(grids[-1]) as image:
            image.load()
            mode = image.mode if image.mode in ("L", "RGB", "RGBA") else "RGB"
            pixels = np.asarray(image.convert(mode))
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise GanvasError(f"cannot read the sample grid {grids[-1]}: {e}") from None
    return Picture(pixels[..., None] if pixels.ndim == 2 else pixels, scale)
