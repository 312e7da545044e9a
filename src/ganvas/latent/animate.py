"""A walk as a lazy sequence of frames, rendered in chunks, and written to MP4, GIF or PNG.

Only the latents of all frames are computed up front (F x z_dim floats); pictures are made
RENDER_CHUNK frames at a time and handed to the writer, so an MP4 of any length streams to
disk in constant memory.

A walk set to music (latent.audio: `music`, the song's features, and `react`, a band effect)
has one frame per video frame of the song, moves at the music's speed, and goes to an MP4
that carries the song.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from ..errors import GanvasError
from ..imaging import make_grid, save_png, to_uint8
from . import audio
from .interpolate import (check_frames, check_options, check_storyboard, interpolate, schedule,
                          storyboard_schedule)
from .keyframes import Keyframes
from .look import Look
from ..outputs import check_audio_output, check_scale, walk_format
from .video import (check_fps, gif_fits,
                    write_gif, write_mp4)

RENDER_CHUNK = 64           # frames per generator pass (a multiple of sampler.CHUNK)
PNG_MAX_FRAMES = 4096       # a storyboard grid is one picture in memory
PROGRESS_FROM = 128         # show a progress bar from this many frames on
MAX_LATENT_VALUES = 1 << 28  # the latents of all frames are made up front: at most 1 GiB


@dataclass
class WalkOptions:
    """How to go from keyframe to keyframe.
    frames_per_step: frames from one keyframe to the next (1-10000); loop: go back to the
    first keyframe at the end; method: slerp or lerp; easing: linear or smooth (smoothstep of
    t in each step); look: the frames' truncation (z keyframes; w keyframes are truncated
    when made) and noise mode (its class chose the keyframes' classes)."""
    frames_per_step: int = 24
    loop: bool = False
    method: str = "slerp"
    easing: str = "linear"
    look: Look = Look()

    def __post_init__(self):
        check_options(self.frames_per_step, self.method, self.easing)


class Walk:
    """The frames of a walk through `keys`: len(walk) frames, uint8 (H, W, C) each.
    storyboard=True: one row of frames_per_step + 1 frames per step, both keyframes included
    (for a PNG grid), instead of the animation's frames.
    music (audio.Music): a walk set to a song, music.num_frames frames at the speed of the
    music (options.frames_per_step unused); react (audio.AudioReact): its band effect."""

    def __init__(self, sampler, keys: Keyframes, options: WalkOptions, storyboard: bool = False,
                 music: audio.Music | None = None, react: audio.AudioReact | None = None):
        options.look.check(sampler)                        # a clear error before any frame
        self.sampler, self.keys, self.options = sampler, keys, options
        if music is not None and storyboard:
            raise GanvasError("a walk set to music has no storyboard: write an .mp4")
        check_latents(keys, options, storyboard, None if music is None else music.num_frames)
        self.effect = None
        if music is not None:
            seg, t = audio.schedule(music, len(keys), options.loop, options.easing)
            if react is not None and react.kind is not None:
                self.effect = audio.BandEffect(sampler, keys.space, react, music)
        else:
            plan = storyboard_schedule if storyboard else schedule
            seg, t = plan(len(keys), options.frames_per_step, options.loop, options.easing)
        self.music = music
        self.latents = interpolate(keys.latents, seg, t, options.method)
        self.classes = None if keys.classes is None else \
            interpolate(keys.classes, seg, t, options.method)
        self.columns = options.frames_per_step + 1 if storyboard else None

    def __len__(self) -> int:
        return len(self.latents)

    def frames(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames [start, stop) as uint8 (n, H, W, C)."""
        latents = self.latents[start:stop]
        look = self.options.look
        if self.effect is not None:
            classes = None if self.classes is None else self.classes[start:stop]
            return to_uint8(self.effect.images(self.sampler, latents, classes, look, start))
        if self.keys.space == "w":
            return to_uint8(self.sampler.images_from_w(latents, look))
        classes = None if self.classes is None else self.classes[start:stop]
        return to_uint8(self.sampler.images(latents, classes, look))

    def chunks(self, progress: bool = False) -> Iterator[np.ndarray]:
        """All frames in order, RENDER_CHUNK at a time, with a progress bar for long walks."""
        show = progress and len(self) >= PROGRESS_FROM
        with tqdm(total=len(self), unit="frame", desc="render", disable=not show) as bar:
            for start in range(0, len(self), RENDER_CHUNK):
                chunk = self.frames(start, start + RENDER_CHUNK)
                bar.update(len(chunk))
                yield chunk


def check_latents(keys: Keyframes, options: WalkOptions, storyboard: bool,
                  num_frames: int | None = None) -> None:
    """A GanvasError, before anything is interpolated, for more than MAX_FRAMES frames or
    frame latents above MAX_LATENT_VALUES floats (num_frames: a walk set to music's, else
    from the keyframes and frames per step)."""
    if num_frames is None:
        n = check_frames(len(keys), options.frames_per_step, options.loop, storyboard)
    else:
        check_frames(len(keys), 1, options.loop)               # at least 2 keyframes
        n = num_frames
    per_frame = int(np.prod(keys.latents.shape[1:]))
    if keys.classes is not None:
        per_frame += int(np.prod(keys.classes.shape[1:]))
    if n * per_frame > MAX_LATENT_VALUES:
        raise GanvasError(f"a walk of {n:,} frames needs {n * per_frame * 4 / 2**30:.1f} GiB of "
                          f"latents (at most {MAX_LATENT_VALUES * 4 / 2**30:.0f} GiB); use "
                          f"fewer keyframes or frames per step")


def check_output(sampler, path, num_frames: int, scale: int) -> str:
    """The output's extension, after checking that the request can be written at all."""
    ext = walk_format(path)
    check_scale(scale)
    if ext == ".gif":
        gif_fits(num_frames, *sampler.shape, scale)
    if ext == ".png" and num_frames > PNG_MAX_FRAMES:
        raise GanvasError(f"a PNG grid of {num_frames} frames is too big (at most "
                          f"{PNG_MAX_FRAMES}); use fewer keyframes or frames per step")
    return ext


def write_walk(sampler, keys: Keyframes, options: WalkOptions, out: str | os.PathLike,
               fps: float = 24, scale: int = 1, progress: bool = True,
               music: audio.Music | None = None, react: audio.AudioReact | None = None) -> Path:
    """Render the walk to `out` by its extension: .mp4 (H.264, streamed), .gif, or .png (a
    storyboard grid, one row per step). fps: frames per second (0.1-240). music (analysed at
    this fps) and react: a walk set to a song, written as an MP4 with the song's audio."""
    check_fps(fps)
    ext = walk_format(out)
    if music is not None:
        check_audio_output(out)
        if music.fps != fps:
            raise GanvasError(f"the music was analysed at {music.fps:g} fps, not {fps:g}")
        walk = Walk(sampler, keys, options, music=music, react=react)
        check_output(sampler, out, len(walk), scale)
        return write_mp4(out, walk.chunks(progress), fps=fps, scale=scale, audio=music.path)
    storyboard = ext == ".png"
    # The output's bounds from the counts alone, before any latent is interpolated.
    check_output(sampler, out, check_frames(len(keys), options.frames_per_step, options.loop,
                                            storyboard), scale)
    if storyboard:                               # one picture in memory
        check_storyboard(len(keys), options.frames_per_step, options.loop, sampler.shape, scale)
    walk = Walk(sampler, keys, options, storyboard=storyboard)
    if ext == ".png":
        grid = make_grid(np.concatenate(list(walk.chunks(progress))), cols=walk.columns)
        return save_png(grid, out, scale=scale)
    write = write_mp4 if ext == ".mp4" else write_gif
    return write(out, walk.chunks(progress), fps=fps, scale=scale)
