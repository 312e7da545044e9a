"""Pictures at the edge: float NCHW [-1, 1] <-> uint8 NHWC, grids (with row and column
labels in a margin), PNG and GIF files; the Laplacian pyramid L1 distance that projection
and FastGAN's self-supervised D share."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from .durable import atomic_save, atomic_write_all, removed_on_failure

MODES = {1: "L", 3: "RGB", 4: "RGBA"}
PYRAMID_MIN_SIZE = 4
LABEL_SIZE = 11          # pixels: the text of grid labels (Pillow's built-in font)
LABEL_PAD = 3            # pixels between a label and the grid or the picture's edge


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), rounded to nearest."""
    y = (x.detach().float().cpu() * 127.5 + 128.0).clamp(0, 255).to(torch.uint8)
    return y.permute(0, 2, 3, 1).contiguous().numpy()


def make_grid(images: np.ndarray, cols: int | None = None, pad: int = 0) -> np.ndarray:
    """uint8 (N, H, W, C) -> one uint8 (rows*H, cols*W, C) image; cols defaults to ~sqrt(N).
    Empty cells (and `pad` pixels between cells) are white."""
    n, h, w, c = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, c), 255, np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = img
    return grid


def to_pil(image: np.ndarray) -> Image.Image:
    """uint8 (H, W, C) with C in 1, 3, 4 -> PIL image."""
    c = image.shape[-1]
    return Image.fromarray(image[:, :, 0] if c == 1 else image, MODES[c])


def enlarged(pil: Image.Image, scale: int) -> Image.Image:
    """`pil` enlarged `scale` times with nearest neighbour (crisp pixels for small models)."""
    if scale <= 1:
        return pil
    return pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """uint8 (H, W, C) -> the bytes of a PNG file, enlarged `scale` times."""
    buffer = io.BytesIO()
    enlarged(to_pil(image), scale).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(image: np.ndarray, path: str | os.PathLike, scale: int = 1) -> Path:
    """Write uint8 (H, W, C) as PNG (png_bytes), enlarged `scale` times."""
    data = png_bytes(image, scale)
    return atomic_save(path, lambda tmp: Path(tmp).write_bytes(data))


def gif_bytes(frames: list[np.ndarray], fps: float = 12, scale: int = 1) -> bytes:
    """uint8 (H, W, C) frames -> the bytes of a looping GIF, enlarged `scale` times (alpha is
    flattened on white; frame durations are whole centiseconds, at least 2)."""
    pils = []
    for f in frames:
        pil = to_pil(f)
        if pil.mode == "RGBA":
            bg = Image.new("RGB", pil.size, "white")
            bg.paste(pil, mask=pil.getchannel("A"))
            pil = bg
        pils.append(enlarged(pil, scale))
    duration = max(20, round(1000 / fps))
    buffer = io.BytesIO()
    pils[0].save(buffer, format="GIF", save_all=True, append_images=pils[1:],
                 duration=duration, loop=0)
    return buffer.getvalue()


def save_gif(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 12,
             scale: int = 1) -> Path:
    """Write uint8 (H, W, C) frames as a looping GIF (gif_bytes)."""
    data = gif_bytes(frames, fps, scale)
    return atomic_save(path, lambda tmp: Path(tmp).write_bytes(data))


def seed_filename(seed: int) -> str:
    """The file name of one seed's picture: 3 -> 'seed0003.png' (sorts in seed order)."""
    return f"seed{seed:04d}.png"


def save_seed_images(images: np.ndarray, seeds: list[int], folder: str | os.PathLike,
                     scale: int = 1) -> list[Path]:
    """uint8 (N, H, W, C) pictures of N `seeds` -> one PNG per seed in `folder`
    (seed_filename), enlarged `scale` times; returns the paths in seed order. All appear or
    none: a full disk half-way leaves no new picture (and no new folder)."""
    if len(images) != len(seeds):
        raise ValueError(f"{len(images)} pictures for {len(seeds)} seeds")
    paths = [Path(folder) / seed_filename(seed) for seed in seeds]
    with removed_on_failure(folder):
        atomic_write_all({path: png_bytes(img, scale) for path, img in zip(paths, images)})
    return paths


def save_cells(cells: np.ndarray, path: str | os.PathLike, scale: int = 1,
               row_labels: list[str] | None = None,
               col_labels: list[str] | None = None) -> Path:
    """uint8 (rows, cols, H, W, C) cells -> one grid PNG at `path` (a row of cells per grid
    row), enlarged `scale` times; with `row_labels` and `col_labels` (one text per row and per
    column), written in a margin by label_grid, the enlarged cells unchanged."""
    grid = make_grid(cells.reshape(-1, *cells.shape[2:]), cols=cells.shape[1])
    if row_labels is None and col_labels is None:
        return save_png(grid, path, scale=scale)
    big = np.asarray(enlarged(to_pil(grid), scale)).reshape(
        grid.shape[0] * scale, grid.shape[1] * scale, grid.shape[2])
    labelled = label_grid(big, row_labels or [""] * cells.shape[0],
                          col_labels or [""] * cells.shape[1])
    return save_png(labelled, path)


def label_font(size: int = LABEL_SIZE):
    """Pillow's built-in font (nothing to download) at `size` pixels (Pillow >= 10.1 with
    FreeType), else its small bitmap font."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def label_grid(grid: np.ndarray, row_labels: list[str], col_labels: list[str]) -> np.ndarray:
    """uint8 (H, W, C) grid of len(row_labels) x len(col_labels) equal cells -> uint8
    (top + H, left + W, C): a white margin on the left with each row's label beside its row,
    and on top with each column's label above its column (turned a quarter counter-clockwise
    when the widest is wider than a column). The grid's pixels are the bottom-right H x W,
    unchanged."""
    font = label_font()
    height, width = grid.shape[:2]
    row_h, col_w = height / len(row_labels), width / len(col_labels)
    widths = {t: font.getbbox(t)[2] for t in [*row_labels, *col_labels]}
    text_h = max(font.getbbox("Ag[0]")[3], 1)
    widest_col = max(widths[t] for t in col_labels)
    turned = widest_col + LABEL_PAD > col_w
    top = (widest_col if turned else text_h) + 2 * LABEL_PAD
    left = max(widths[t] for t in row_labels) + 2 * LABEL_PAD
    pil = to_pil(grid)
    white, ink = ((255,) * len(pil.mode), (0,) * 3 + (255,) * (pil.mode == "RGBA"))
    if pil.mode == "L":
        white, ink = 255, 0
    canvas = Image.new(pil.mode, (left + width, top + height), white)
    canvas.paste(pil, (left, top))
    draw = ImageDraw.Draw(canvas)
    for r, text in enumerate(row_labels):
        y = top + (r + 0.5) * row_h - text_h / 2
        draw.text((left - LABEL_PAD - widths[text], round(y)), text, fill=ink, font=font)
    for c, text in enumerate(col_labels):
        centre = left + (c + 0.5) * col_w
        if not turned:
            draw.text((round(centre - widths[text] / 2), LABEL_PAD), text, fill=ink, font=font)
            continue
        mask = Image.new("L", (max(widths[text], 1), text_h), 0)
        ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
        mask = mask.rotate(90, expand=True)
        canvas.paste(ink, (round(centre - text_h / 2), top - LABEL_PAD - mask.height), mask)
    out = np.asarray(canvas)
    return out.reshape(*out.shape[:2], grid.shape[2])


def laplacian_pyramid(x: torch.Tensor) -> list[torch.Tensor]:
    """float (N, C, H, W) -> [x - up(down(x)), ..., the coarsest low-pass image]: band-pass
    levels at H, H/2, ... while above PYRAMID_MIN_SIZE px, then the low-pass residual (4 px
    for power-of-two sizes). Summing the levels back up (upsampling as here) gives x."""
    levels = []
    while min(x.shape[-2:]) > PYRAMID_MIN_SIZE and x.shape[-1] % 2 == 0 and \
            x.shape[-2] % 2 == 0:
        low = F.avg_pool2d(x, 2)
        levels.append(x - F.interpolate(low, scale_factor=2, mode="bilinear",
                                        align_corners=False))
        x = low
    return levels + [x]


def pyramid_l1(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """(N,) distances of two Laplacian pyramids (b may have batch 1): the mean absolute
    difference of each level, levels summed with equal weights (coarse levels count colours
    and layout, fine ones edges)."""
    return sum((la - lb).abs().mean(dim=(1, 2, 3)) for la, lb in zip(a, b))
