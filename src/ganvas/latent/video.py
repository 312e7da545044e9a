"""Frames to files: H.264 MP4 streamed to ffmpeg, GIF through Pillow, all written atomically.

Frames arrive as uint8 (N, H, W, C) chunks with C in 1, 3, 4. MP4 frames are made RGB (alpha
flattened on white, grey repeated), enlarged `scale` times with nearest neighbour, padded to
even width and height (repeating the last row/column; H.264 in yuv420p needs both even) and
encoded with libx264, yuv420p and +faststart, which browsers, QuickTime and phones play.
An MP4 may carry a song: the video is encoded first, then muxed with the audio file by the
ffmpeg binary imageio-ffmpeg ships (video copied, audio encoded AAC), cut to the video's
length (frames / fps) so both end together.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import GanvasError
from ..durable import atomic_save
from ..imaging import save_gif

MP4_CRF = 17                        # x264 constant quality: visually lossless, not crf 0
AAC_BITRATE = "192k"
GIF_MAX_BYTES = 1 << 30             # GIFs are built in memory: refuse above ~1 GiB of frames


def check_fps(fps: float) -> None:
    """A GanvasError unless fps is a number from 0.1 to 240 (NaN fails the comparison)."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.1 <= fps <= 240:
        raise GanvasError(f"fps must be from 0.1 to 240, not {fps}")


def to_rgb(frames: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) with C in 1, 3, 4 -> uint8 (N, H, W, 3); alpha composited on white."""
    c = frames.shape[-1]
    if c == 1:
        return np.repeat(frames, 3, axis=-1)
    if c == 4:
        alpha = frames[..., 3:].astype(np.float32) / 255
        rgb = frames[..., :3] * alpha + 255 * (1 - alpha)
        return np.round(rgb).astype(np.uint8)
    return frames


def enlarge(frames: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (N, H, W, C) -> (N, H*scale, W*scale, C), nearest neighbour."""
    if scale == 1:
        return frames
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def pad_even(frames: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) -> (N, H', W', C) with H', W' even (edge rows/columns repeated)."""
    h, w = frames.shape[1:3]
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def video_frames(frames: np.ndarray, scale: int) -> np.ndarray:
    """Frames as the MP4 stores them: RGB, enlarged, even size, C-contiguous."""
    return np.ascontiguousarray(pad_even(enlarge(to_rgb(frames), scale)))


def write_mp4(path: str | os.PathLike, chunks: Iterable[np.ndarray], fps: float,
              scale: int = 1, audio: str | os.PathLike | None = None) -> Path:
    """Stream uint8 (N, H, W, C) chunks into an H.264 MP4 (never all frames in memory).
    audio: a sound file (WAV, FLAC, MP3, OGG, ...) to carry as AAC, cut to the video's length.
    The file appears only once complete: a failure or Ctrl-C leaves no partial file."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio's writer runs)
    except ImportError:
        raise GanvasError("writing MP4 needs imageio and imageio-ffmpeg: "
                          "pip install imageio imageio-ffmpeg") from None

    def encode(tmp: str) -> int:
        writer, count = None, 0
        try:
            for chunk in chunks:
                for frame in video_frames(chunk, scale):
                    if writer is None:
                        writer = imageio.get_writer(
                            tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                            pixelformat="yuv420p", quality=None, macro_block_size=2,
                            ffmpeg_log_level="error",
                            output_params=["-crf", str(MP4_CRF), "-movflags", "+faststart"])
                    writer.append_data(frame)
                    count += 1
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise GanvasError("no frames to write")
        return count

    def save(tmp: str) -> None:
        if audio is None:
            encode(tmp)
            return
        fd, silent = tempfile.mkstemp(prefix=f".{Path(path).stem}.video.", suffix=".mp4",
                                      dir=Path(tmp).parent)
        os.close(fd)
        try:
            count = encode(silent)
            mux(silent, audio, tmp, count / fps)
        finally:
            Path(silent).unlink(missing_ok=True)

    return atomic_save(path, save)


def mux(video: str | os.PathLike, audio: str | os.PathLike, out: str | os.PathLike,
        seconds: float) -> None:
    """Write `out` (.mp4): the video stream of `video`, copied, and the first audio stream of
    `audio`, encoded AAC, both cut at `seconds`; a GanvasError with ffmpeg's reason."""
    import imageio_ffmpeg
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-nostdin", "-v", "error",
           "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "copy", "-c:a", "aac", "-b:a", AAC_BITRATE, "-t", f"{seconds:.6f}",
           "-movflags", "+faststart", str(out)]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace")
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise GanvasError(f"could not add the audio of {audio} to the video: "
                          f"{lines[-1] if lines else f'ffmpeg exit {done.returncode}'}")


def write_gif(path: str | os.PathLike, chunks: Iterable[np.ndarray], fps: float,
              scale: int = 1) -> Path:
    """Collect uint8 (N, H, W, C) chunks into a looping GIF (Pillow needs every frame at once;
    callers check `gif_fits` first). Frame durations are whole centiseconds in a GIF."""
    frames = [f for chunk in chunks for f in chunk]
    return save_gif(frames, path, fps=fps, scale=scale)


def gif_fits(num_frames: int, height: int, width: int, scale: int) -> None:
    """A GanvasError when a GIF of these frames would need more than GIF_MAX_BYTES."""
    need = num_frames * height * width * 3 * scale ** 2 * 2        # frames + PIL copies
    if need > GIF_MAX_BYTES:
        raise GanvasError(f"{num_frames} frames of {width * scale}x{height * scale} are too "
                          f"many for a GIF (about {need / 2**30:.1f} GiB in memory); write an "
                          f".mp4, or use fewer frames or a smaller --scale")
