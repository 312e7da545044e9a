"""Music videos: a song's features per video frame, the walk's speed from them, and what one
frequency band does to the pictures.

The song is read with librosa (WAV, FLAC, MP3, OGG; `pip install ganvas[audio]`), mixed to
mono at SAMPLE_RATE. Its features are taken every HOP samples (11.6 ms) and then summarised
per video frame f, the time [f / fps, (f + 1) / fps), for F = round(duration x fps) frames:
    onset  librosa.onset.onset_strength (spectral flux of the log-mel spectrogram): high where
           a note or a drum hit starts; the frame's maximum, so a short hit is never missed;
    rms    loudness (librosa.feature.rms), the frame's mean;
    low, mid, high   the amplitude (square root of the mean mel power) of the bands below
           250 Hz, 250-2000 Hz and above 2000 Hz (BANDS), the frame's mean.
Each feature is divided by its 90th percentile over the frames that are not silent (under a
thousandth of its maximum), then clipped to [0, 1]: one loud spike does not flatten the rest,
and a song that is mostly quiet still reaches 1 on its notes.

Speed: the drive ONSET_WEIGHT x onset + (1 - ONSET_WEIGHT) x rms is followed by an envelope
that rises at once and falls with time constant RELEASE_S (so motion starts on the beat, not
before it, and dies away instead of stopping dead); frame f's speed is SPEED_BASE plus that
envelope (the base keeps the picture drifting in the quiet parts). The step from frame f - 1
to frame f is proportional to the speed of frame f, scaled so that the whole song covers the
keyframe path exactly: K - 1 steps, the last frame on the last keyframe; or K with `loop`, the
last frame just before the first keyframe, as in latent.interpolate.

A band effect (AudioReact), at most one: "truncation" pulls each frame toward the average
latent by its band's energy (psi of frame f = truncation x (1 - strength x band[f]),
strength 0.5 unless given); "direction" moves the latent along a direction of
`ganvas directions` by strength x band[f] units of the latent's spread along it (as
`explore --directions`; strength 2 unless given).
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import GanvasError
from .interpolate import MAX_FRAMES, ease
from .look import Look

SAMPLE_RATE = 22050
HOP = 256                    # feature hop in samples (86 per second)
N_FFT = 2048
N_MELS = 64
BANDS = {"low": (0.0, 250.0), "mid": (250.0, 2000.0), "high": (2000.0, math.inf)}
MAX_SECONDS = 3600.0         # a song of at most an hour (~300 MB decoded)
SILENCE_RMS = 1e-4           # whole-file RMS below this (-80 dBFS) is silence
PERCENTILE = 90
ONSET_WEIGHT = 0.65
SPEED_BASE = 0.1
RELEASE_S = 0.2
STRENGTH = {"truncation": 0.5, "direction": 2.0}
MAX_STRENGTH = 10.0


def import_librosa():
    try:
        import librosa
    except ImportError:
        raise GanvasError("music videos need librosa: pip install librosa soundfile "
                          "(or pip install ganvas[audio])") from None
    return librosa


@dataclass
class Music:
    """A song's features at the video's frame rate: `num_frames` = round(duration x fps)
    frames; onset, rms and the bands (name -> array) each float32 (num_frames,) in [0, 1]."""
    path: Path
    duration: float
    fps: float
    onset: np.ndarray
    rms: np.ndarray
    bands: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.onset)


def check_audio_file(path: str | os.PathLike) -> Path:
    """The path of an existing, non-empty file, or a GanvasError."""
    path = Path(path)
    if not path.exists():
        raise GanvasError(f"audio file not found: {path}")
    if not path.is_file():
        raise GanvasError(f"{path} is not a file; give a song (WAV, FLAC, MP3 or OGG)")
    if path.stat().st_size == 0:
        raise GanvasError(f"{path} is empty: no audio in it")
    return path


@contextmanager
def decoders_silenced():
    """File descriptor 2 (what C libraries write to, below Python's sys.stderr) sent to the
    null device for the block; left alone where it cannot be duplicated."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_audio(path: str | os.PathLike) -> np.ndarray:
    """The song as float32 mono samples at SAMPLE_RATE; a one-line GanvasError for a missing,
    empty, unreadable, too long or silent file."""
    path = check_audio_file(path)
    librosa = import_librosa()
    # librosa warns as it falls back between decoders, and the decoders' C libraries (mpg123
    # in libsndfile, ffmpeg behind audioread) print notes on a file they cannot parse: the
    # error below says it in one line.
    with warnings.catch_warnings(), decoders_silenced():
        warnings.simplefilter("ignore")
        try:
            seconds = librosa.get_duration(path=str(path))
        except Exception:                    # unreadable: librosa.load says why, below
            seconds = 0.0
        if seconds > MAX_SECONDS:
            raise GanvasError(f"{path} lasts {seconds / 60:.0f} minutes; a music video takes "
                              f"at most {MAX_SECONDS / 60:.0f}")
        try:
            y, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
        except Exception as e:               # soundfile, audioread and codec errors alike
            why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if type(e).__name__ == "NoBackendError":      # audioread's, for any decoder
                why = "no decoder here recognises its content"
            raise GanvasError(f"cannot read {path} as audio (WAV, FLAC, MP3 or OGG): "
                              f"{why}") from None
    if len(y) == 0:
        raise GanvasError(f"{path} holds no audio samples")
    if not np.isfinite(y).all():
        raise GanvasError(f"{path}: the audio has NaN or infinite samples")
    if float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) < SILENCE_RMS:
        raise GanvasError(f"{path} is silent: nothing for the walk to follow")
    return y


def robust(x: np.ndarray) -> np.ndarray:
    """x / (PERCENTILE-th percentile of its non-silent values), clipped to [0, 1]."""
    x = np.maximum(np.asarray(x, dtype=np.float64), 0)
    top = x.max(initial=0.0)
    if top <= 0:
        return np.zeros(len(x), np.float32)
    ref = np.percentile(x[x > 1e-3 * top], PERCENTILE)
    return np.clip(x / ref, 0, 1).astype(np.float32)


def per_frame(values: np.ndarray, times: np.ndarray, num_frames: int, fps: float,
              how: str) -> np.ndarray:
    """Feature values at `times` -> one per video frame: the max or mean over the frame's
    time [f / fps, (f + 1) / fps), sampled at least 4 times and twice per feature hop."""
    rate = 1 / (times[1] - times[0]) if len(times) > 1 else fps
    sub = max(4, math.ceil(2 * rate / fps))
    at = (np.arange(num_frames)[:, None] + (np.arange(sub)[None] + 0.5) / sub) / fps
    grid = np.interp(at.ravel(), times, values).reshape(num_frames, sub)
    return grid.max(axis=1) if how == "max" else grid.mean(axis=1)


def analyse(path: str | os.PathLike, fps: float) -> Music:
    """The features of the song at `path` for a video at `fps` (see the module docstring)."""
    y = read_audio(path)
    librosa = import_librosa()
    duration = len(y) / SAMPLE_RATE
    num_frames = round(duration * fps)
    if num_frames < 2:
        raise GanvasError(f"{path} lasts {duration:.3f} s: under 2 frames at {fps:g} fps")
    if num_frames > MAX_FRAMES:
        raise GanvasError(f"{path} at {fps:g} fps is {num_frames:,} frames; at most "
                          f"{MAX_FRAMES:,}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                             n_mels=N_MELS)                # (n_mels, T) power
        onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel, ref=np.max),
                                             sr=SAMPLE_RATE, hop_length=HOP)
        rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
        freqs = librosa.mel_frequencies(n_mels=N_MELS, fmin=0.0, fmax=SAMPLE_RATE / 2)
    times = np.arange(mel.shape[1]) * HOP / SAMPLE_RATE
    n = min(len(onset), len(rms), mel.shape[1])

    def frames(x, how):
        return robust(per_frame(x[:n], times[:n], num_frames, fps, how))

    bands = {}
    for name, (lo, hi) in BANDS.items():
        rows = (freqs >= lo) & (freqs < hi)
        bands[name] = frames(np.sqrt(mel[rows].mean(axis=0)), "mean")
    return Music(Path(path), duration, float(fps), frames(onset, "max"), frames(rms, "mean"),
                 bands)


def speed(music: Music) -> np.ndarray:
    """(F,) float64 > 0: how fast the walk moves at each frame (see the module docstring)."""
    drive = ONSET_WEIGHT * music.onset + (1 - ONSET_WEIGHT) * music.rms
    decay = math.exp(-1 / (music.fps * RELEASE_S))
    envelope = np.empty(len(drive))
    level = 0.0
    for f, x in enumerate(drive.astype(np.float64)):
        level = max(float(x), level * decay)
        envelope[f] = level
    return SPEED_BASE + envelope


def schedule(music: Music, num_keys: int, loop: bool = False,
             easing: str = "linear") -> tuple[torch.Tensor, torch.Tensor]:
    """The frames of a walk set to music as (seg (F,) int64, t (F,) float32), as
    interpolate.schedule gives them but with F = music.num_frames and steps that follow the
    speed: frame 0 is keyframe 0, and the last frame keyframe K - 1 (just before keyframe 0
    with `loop`)."""
    if num_keys < 2:
        raise GanvasError(f"a walk needs at least 2 keyframes, not {num_keys}")
    steps = num_keys if loop else num_keys - 1
    s = speed(music)
    moves = np.concatenate([s[1:], s[-1:]]) if loop else s[1:]      # into frames 1, 2, ...
    pos = np.concatenate([[0.0], np.cumsum(moves)]) * (steps / moves.sum())
    pos = pos[:music.num_frames]
    if not loop:
        pos[-1] = steps                                           # exactly the last keyframe
    seg = np.clip(np.floor(pos), 0, steps - 1)
    t = np.clip(pos - seg, 0, 1)
    return torch.from_numpy(seg.astype(np.int64)), ease(torch.from_numpy(t).float(), easing)


@dataclass
class AudioReact:
    """What one band of the music does to the pictures, besides setting the speed (at most
    one effect; see the module docstring):
      truncation: "low", "mid" or "high": that band pulls the picture toward the average;
      direction:  "DIRS.npz:INDEX" or "DIRS.npz:INDEX:BAND" (band default low): the band
                  moves the latent along direction INDEX of a `ganvas directions` file;
      strength:   how much (truncation: psi x (1 - strength x band), default 0.5; direction:
                  strength x band units of spread, default 2)."""
    truncation: str | None = None
    direction: str | None = None
    strength: float | None = None

    def __post_init__(self):
        from .directions import load_directions
        if self.truncation is not None and self.direction is not None:
            raise GanvasError("one band effect at a time: audio truncation or an audio "
                              "direction, not both")
        if self.truncation is not None:
            check_band(self.truncation)
        if self.strength is not None:
            s = self.strength
            if isinstance(s, bool) or not isinstance(s, (int, float)) or \
                    not math.isfinite(s) or abs(s) > MAX_STRENGTH:
                raise GanvasError(f"audio strength must be a number from -{MAX_STRENGTH:g} to "
                                  f"{MAX_STRENGTH:g}, not {s!r}")
            if self.kind is None:
                raise GanvasError("audio strength sets the band effect: give audio truncation "
                                  "(a band) or an audio direction too")
        self.dirs = None
        if self.direction is not None:
            path, self.index, self.band = parse_direction(self.direction)
            self.dirs = load_directions(path)
            if not 0 <= self.index < len(self.dirs.vectors):
                raise GanvasError(f"{path} holds directions 0-{len(self.dirs.vectors) - 1}, "
                                  f"not {self.index}")
        else:
            self.index, self.band = None, self.truncation

    @property
    def kind(self) -> str | None:
        return "truncation" if self.truncation is not None else \
            "direction" if self.direction is not None else None

    @property
    def amount(self) -> float:
        return STRENGTH[self.kind] if self.strength is None else float(self.strength)


def check_band(band: str) -> str:
    if band not in BANDS:
        raise GanvasError(f"unknown band {band!r}; choose from {', '.join(BANDS)}")
    return band


def parse_direction(spec: str) -> tuple[Path, int, str]:
    """'dirs.npz:3' or 'dirs.npz:3:mid' -> (path, index, band); a GanvasError otherwise."""
    parts = str(spec).rsplit(":", 2)
    band = "low"
    if len(parts) == 3 and parts[2] in BANDS:
        band = parts.pop()
    else:
        parts = str(spec).rsplit(":", 1)
    if len(parts) != 2 or not parts[1].isdigit() or not parts[0]:
        raise GanvasError(f"bad audio direction {spec!r}: use DIRS.npz:INDEX or "
                          f"DIRS.npz:INDEX:BAND (band {', '.join(BANDS)})")
    path = Path(parts[0])
    if not path.is_file():
        raise GanvasError(f"direction file not found: {path}")
    return path, int(parts[1]), band


class BandEffect:
    """One band's effect on the frames of a walk in `space` (the keyframes' space), checked
    against the model; `images` renders frames [start, start + n) with it."""

    def __init__(self, sampler, space: str, react: AudioReact, music: Music):
        from .explore import unit_steps
        self.kind, self.space = react.kind, space
        self.amount = torch.from_numpy(music.bands[react.band] * react.amount).float()
        self.layers: tuple[int, ...] = ()
        if self.kind == "truncation":
            where = sampler.capabilities.truncation_space     # where the model's psi acts
            if where not in ("z", "w"):
                raise GanvasError(f"audio truncation needs a model with truncation; "
                                  f"{sampler.name} is {sampler.family}")
            self.acts_in = "w" if space == "w" else where
        else:
            if react.dirs.space == "z" and space == "w":
                raise GanvasError("these directions act on z: walk in z (drop --space w) to "
                                  "follow them")
            self.step = unit_steps(sampler, react.dirs, [react.index])[0]
            self.layers, self.acts_in = react.dirs.layers, react.dirs.space

    def images(self, sampler, latents: torch.Tensor, classes: torch.Tensor | None, look: Look,
               start: int) -> torch.Tensor:
        """Frames' latents (n, ...) [+ classes] -> float images (n, C, H, W) with `look`."""
        a = self.amount[start:start + len(latents)]
        if self.acts_in == "z":                               # z keyframes, effect in z
            if self.kind == "truncation":                     # the family's psi is z * psi
                z = latents * (look.truncation * (1 - a))[:, None]
                return sampler.images(z, classes, replace(look, truncation=1.0))
            return sampler.images(latents + a[:, None] * self.step, classes, look)
        ws = latents if self.space == "w" else sampler.to_w(latents, classes, look.truncation)
        if self.kind == "truncation":
            avg = sampler.truncate_w(ws[:1], 0.0)             # psi 0: w_avg in every layer
            ws = avg + (1 - a)[:, None, None] * (ws - avg)
        else:
            where = torch.zeros(ws.shape[1], 1)
            where[list(self.layers) if self.layers else slice(None)] = 1.0
            ws = ws + a[:, None, None] * self.step * where
        return sampler.images_from_w(ws, look)


def react_options(audio, audio_react, storyboard: bool, options: dict) -> AudioReact | None:
    """Model.walk / Model.interpolate: the AudioReact of a walk set to music (None without
    one), after refusing what does not go with audio: a storyboard, frames_per_step (the song
    sets the frames), audio_react without audio; a missing or empty song."""
    if audio is None:
        if audio_react:
            raise GanvasError("audio_react needs audio: give the song too")
        return None
    if storyboard:
        raise GanvasError("a walk set to music has no storyboard: write an .mp4")
    if "frames_per_step" in options:
        raise GanvasError("frames per step do not apply with audio: the song's length sets "
                          "the frames (duration x fps)")
    check_audio_file(audio)
    if audio_react is None or isinstance(audio_react, AudioReact):
        return audio_react
    if not isinstance(audio_react, dict):
        raise GanvasError(f"audio_react must be an AudioReact or a dict, not "
                          f"{type(audio_react).__name__}")
    unknown = sorted(set(audio_react) - {"truncation", "direction", "strength"})
    if unknown:
        raise GanvasError(f"audio_react takes truncation, direction and strength, not "
                          f"{', '.join(unknown)}")
    return AudioReact(**audio_react)
