"""Frames to files: H.264 MP4 streamed to ffmpeg, GIF through Pillow, all written atomically.

ffmpeg (the binary imageio-ffmpeg ships) is run directly, its messages captured and its exit
status checked, so a write it could not finish (a full disk while writing the trailer) fails
like any other write: an OSError naming the output, and no file at the destination.

Frames arrive as uint8 (N, H, W, C) chunks with C in 1, 3, 4. MP4 frames are made RGB (alpha
flattened on white, grey repeated), enlarged `scale` times with nearest neighbour, padded to
even width and height (repeating the last row/column; H.264 in yuv420p needs both even) and
encoded with libx264, yuv420p and +faststart, which browsers, QuickTime and phones play.
An MP4 may carry a song: the video is encoded first, then muxed with the audio file by the
ffmpeg binary imageio-ffmpeg ships (video copied, audio encoded AAC), cut to the video's
length (frames / fps) so both end together.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import GanvasError
from ..durable import atomic_save, temporary_beside
from ..imaging import save_gif

MP4_CRF = 17                        # x264 constant quality: visually lossless, not crf 0
AAC_BITRATE = "192k"
GIF_MAX_BYTES = 1 << 30             # GIFs are built in memory: refuse above ~1 GiB of frames
# What ffmpeg's last line may end with when it could not write its output (the machine's fault).
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


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
    The file appears only once ffmpeg has written it whole: a failure (ffmpeg's, a full disk:
    an OSError naming `path`) or Ctrl-C leaves no partial file."""
    ffmpeg = ffmpeg_exe()

    def save(tmp: str) -> None:
        if audio is None:
            encode(ffmpeg, chunks, tmp, fps, scale, path)
            return
        silent = temporary_beside(Path(path), suffix=".video.mp4")   # beside tmp, too
        try:
            count = encode(ffmpeg, chunks, str(silent), fps, scale, path)
            mux(silent, audio, tmp, count / fps, path)
        finally:
            silent.unlink(missing_ok=True)

    return atomic_save(path, save)


def ffmpeg_exe() -> str:
    """The ffmpeg binary imageio-ffmpeg ships; a GanvasError when it is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise GanvasError("writing MP4 needs imageio-ffmpeg: pip install imageio-ffmpeg") \
            from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def encode(ffmpeg: str, chunks: Iterable[np.ndarray], tmp: str, fps: float, scale: int,
           path: str | os.PathLike) -> int:
    """Pipe the frames to ffmpeg as raw RGB, encoded into `tmp`; returns the frame count.
    ffmpeg's exit status is checked: its failure (a full disk while writing the trailer) is an
    OSError naming `path` (ffmpeg_failure), never a quiet corrupt file."""
    proc, count = None, 0
    with tempfile.TemporaryFile() as log:               # ffmpeg's messages, never the console
        try:
            for chunk in chunks:
                frames = video_frames(chunk, scale)
                if proc is None:
                    proc = subprocess.Popen(
                        [ffmpeg, "-y", "-nostdin", "-v", "error", "-f", "rawvideo",
                         "-pix_fmt", "rgb24", "-s", f"{frames.shape[2]}x{frames.shape[1]}",
                         "-r", f"{fps}", "-i", "-", "-an", "-c:v", "libx264",
                         "-pix_fmt", "yuv420p", "-crf", str(MP4_CRF),
                         "-movflags", "+faststart", "-f", "mp4", tmp],
                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
                try:
                    proc.stdin.write(frames.data)        # C-contiguous: no copy
                except BrokenPipeError:                 # ffmpeg gave up: its log says why
                    break
                count += len(frames)
            if proc is None:
                raise GanvasError("no frames to write")
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = proc.wait()
        except BaseException:
            if proc is not None:
                proc.kill()
                proc.wait()
            raise
        if code != 0:
            log.seek(0)
            raise ffmpeg_failure(log.read().decode(errors="replace"), code, path)
    return count


def ffmpeg_failure(messages: str, code: int, path: str | os.PathLike) -> OSError:
    """ffmpeg failed writing `path`: the OSError its messages name (ffmpeg_write_error), or
    EIO with its last line."""
    last = last_line(messages) or f"ffmpeg exit {code}"
    return ffmpeg_write_error(messages, path) or OSError(
        errno.EIO, f"ffmpeg could not write the video ({last})", str(path))


def ffmpeg_write_error(messages: str, path: str | os.PathLike) -> OSError | None:
    """An OSError naming `path` when one of ffmpeg's lines (the last such) ends with the reason
    of a failed write (ffmpeg prints strerror's text: "Error writing trailer of x.mp4: No
    space left on device"), else None."""
    for line in reversed(messages.splitlines()):
        for number in WRITE_ERRNOS:
            if line.strip().endswith(os.strerror(number)):
                return OSError(number, os.strerror(number), str(path))
    return None


def last_line(messages: str) -> str:
    """The last non-blank line of a program's messages ("" when there is none)."""
    lines = [line.strip() for line in messages.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def mux(video: str | os.PathLike, audio: str | os.PathLike, out: str | os.PathLike,
        seconds: float, path: str | os.PathLike) -> None:
    """Write `out` (.mp4, published as `path`): the video stream of `video`, copied, and the
    first audio stream of `audio`, encoded AAC, both cut at `seconds`. A file ffmpeg cannot
    write is an OSError (ffmpeg_failure); anything else a GanvasError with ffmpeg's reason
    (an audio file it cannot read)."""
    cmd = [ffmpeg_exe(), "-y", "-nostdin", "-v", "error",
           "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "copy", "-c:a", "aac", "-b:a", AAC_BITRATE, "-t", f"{seconds:.6f}",
           "-movflags", "+faststart", "-f", "mp4", str(out)]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace")
    if done.returncode != 0:
        failure = ffmpeg_write_error(done.stderr, path)
        if failure is not None:
            raise failure
        raise GanvasError(f"could not add the audio of {audio} to the video: "
                          f"{last_line(done.stderr) or f'ffmpeg exit {done.returncode}'}")


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
