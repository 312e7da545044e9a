"""Music videos (interpolate --audio): a song of beeps moves the walk on the beeps, the video
has one frame per 1/fps s of the song, the MP4 carries the song in sync, the band effects, the
formats read, and the user's mistakes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import ganvas
from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.imaging import to_uint8
from ganvas.latent import audio, video
from ganvas.latent.audio import Music

from tests.helpers import usage_error
from tests.helpers import DC, SG2, export_random

pytest.importorskip("librosa")
sf = pytest.importorskip("soundfile")

SR = 22050
FPS = 24
DURATION = 3.52                      # 84.48 frames at 24 fps: the video has 84
BEEPS = (0.40, 1.20, 2.05, 2.90)     # starts (s) of the beeps, silence between


def beep_frames(fps: float = FPS) -> list[int]:
    return [int(b * fps) for b in BEEPS]           # the frame on screen when a beep starts


def beeps_signal(sr: int = SR) -> np.ndarray:
    """Plucked 880 Hz notes: a 3 ms attack and a 40 ms exponential decay, gone (-65 dB) before
    the next 0.3 s. A tone cut off dead would click at its end, a second onset."""
    y = np.zeros(round(DURATION * sr), np.float32)
    t = np.arange(round(0.3 * sr)) / sr
    n = len(t)
    tone = 0.5 * np.sin(2 * np.pi * 880 * t) * np.minimum(t / 0.003, 1) * np.exp(-t / 0.04)
    for b in BEEPS:
        y[round(b * sr):round(b * sr) + n] = tone
    return y


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = tmp_path_factory.mktemp("song") / "beeps.wav"
    sf.write(path, beeps_signal(), SR)
    return path


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("dc") / "model", **DC)


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("sg2") / "model", **SG2)


def peaks_near(values: np.ndarray, frames: list[int], reach: int = 4) -> list[int]:
    """For each frame, where `values` is largest within `reach` frames of it."""
    return [int(f - reach + np.argmax(values[f - reach:f + reach + 1])) for f in frames]


def ffmpeg_exe() -> str:
    return pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()


# --- features and schedule ---------------------------------------------------------------

def test_features_have_one_value_per_video_frame_and_peak_on_the_beeps(song):
    music = audio.analyse(song, FPS)
    assert music.num_frames == round(DURATION * FPS) == 84
    assert music.duration == pytest.approx(DURATION, abs=1 / SR)
    for x in (music.onset, music.rms, *music.bands.values()):
        assert x.shape == (84,) and x.min() >= 0 and x.max() == 1
    for peak, beep in zip(peaks_near(music.onset, beep_frames()), beep_frames()):
        assert abs(peak - beep) <= 1
    quiet = np.ones(84, bool)
    for f in beep_frames():
        quiet[f - 2:f + 5] = False
    assert music.rms[quiet].max() < 0.05 and music.bands["mid"][quiet].max() < 0.05
    other = audio.analyse(song, 10)                  # the count follows the fps: 35.2 -> 35
    assert other.num_frames == 35


def synthetic(onset: np.ndarray, fps: float = 10) -> Music:
    zero = np.zeros_like(onset)
    return Music(Path("x.wav"), len(onset) / fps, fps, onset, zero,
                 {"low": zero, "mid": zero, "high": zero})


@pytest.mark.parametrize("loop", [False, True])
def test_schedule_covers_the_keyframes_exactly_at_the_music_speed(loop):
    onset = np.zeros(50, np.float32)
    onset[[10, 30]] = 1
    seg, t = audio.schedule(synthetic(onset), 4, loop=loop)
    pos = (seg.double() + t.double()).numpy()
    assert len(pos) == 50 and pos[0] == 0 and (np.diff(pos) > 0).all()
    steps = np.diff(pos)
    assert set(np.argsort(steps)[-2:] + 1) == {10, 30}          # fastest into the onsets
    assert steps[9] > 5 * steps[5]
    if loop:                      # 4 steps, back toward keyframe 0 (at 4), not onto it
        assert 4 - steps.max() < pos[-1] < 4 and seg[-1] == 3
    else:
        assert seg[-1] == 2 and t[-1] == 1       # exactly the last keyframe
    keys = torch.randn(4, 8)
    from ganvas.latent.interpolate import interpolate
    frames = interpolate(keys, seg, t)
    assert torch.equal(frames[0], keys[0])
    assert torch.equal(frames[-1], keys[-1]) or loop


# --- walks and videos --------------------------------------------------------------------

def test_walk_moves_on_the_beeps_and_starts_and_ends_on_the_keyframes(dc, song):
    model = ganvas.load(dc)
    walk = model.walk([1, 5, 9], audio=song, fps=FPS)
    assert len(walk) == round(DURATION * FPS)
    lat = walk.latents
    assert torch.equal(lat[0], model.z([1])[0]) and torch.equal(lat[-1], model.z([9])[0])
    step = np.r_[0, (lat[1:] - lat[:-1]).norm(dim=1).numpy()]      # step into frame f
    for peak, beep in zip(peaks_near(step, beep_frames()), beep_frames()):
        assert abs(peak - beep) <= 1
    for beep in beep_frames():                   # a jump on the beep out of a quiet drift
        assert step[beep] > 5 * step[beep - 2]
    frames = walk.frames().astype(np.float32)
    change = np.r_[0, np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))]
    for peak, beep in zip(peaks_near(change, beep_frames()), beep_frames()):
        assert abs(peak - beep) <= 2
    keys = model.generate([1, 9])
    assert np.array_equal(frames[0], keys[0]) and np.array_equal(frames[-1], keys[1])


def decoded_audio(path) -> np.ndarray:
    """The MP4's audio track, decoded to mono float at SR."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0",
                          "-f", "f32le", "-ac", "1", "-ar", str(SR), "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32)


def test_music_video_mp4_carries_the_song_in_sync(dc, song, tmp_path):
    iio = pytest.importorskip("imageio.v2")
    out = tmp_path / "video.mp4"
    assert main(["interpolate", str(dc), "--seeds", "1,5,9", "--audio", str(song),
                            "--fps", str(FPS), "--out", str(out)]) == 0
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                           capture_output=True, text=True).stderr
    assert "Video: h264" in probe and "Audio: aac" in probe
    with iio.get_reader(out) as reader:
        meta = reader.get_meta_data()
        count = sum(1 for _ in reader)
    assert count == 84 and meta["fps"] == FPS
    video_s = count / FPS
    sound = decoded_audio(out)
    assert abs(len(sound) / SR - video_s) < 0.03                  # both 3.5 s
    loud = np.abs(sound) > 0.1                                    # the beeps, as decoded
    starts = [i / SR for i in np.flatnonzero(loud[1:] & ~loud[:-1]) + 1]
    for b in BEEPS:
        assert min(abs(s - b) for s in starts) < 0.01            # in sync, within 10 ms
    assert not list(tmp_path.glob(".*"))                         # no temporaries left


def test_a_failed_mux_leaves_no_file(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    text = tmp_path / "notes.wav"
    text.write_text("not a song\n")
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    with pytest.raises(GanvasError, match="could not add the audio"):
        video.write_mp4(tmp_path / "v.mp4", [frames], fps=4, audio=text)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.wav"]


@pytest.mark.parametrize("fmt,subtype", [("FLAC", None), ("OGG", "VORBIS"),
                                         ("MP3", "MPEG_LAYER_III")])
def test_flac_ogg_and_mp3_read_like_the_wav(song, tmp_path, fmt, subtype):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    path = tmp_path / f"beeps.{fmt.lower()}"
    sf.write(path, beeps_signal(44100), 44100, format=fmt, subtype=subtype)
    music = audio.analyse(path, FPS)
    assert abs(music.num_frames - 84) <= 1                       # MP3 pads a few ms
    for peak, beep in zip(peaks_near(music.onset, beep_frames()), beep_frames()):
        assert abs(peak - beep) <= 1


# --- band effects ------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["dc", "sg2"])
def test_audio_truncation_pulls_loud_frames_to_the_average(dc, sg2, song, which):
    model = ganvas.load(dc if which == "dc" else sg2)
    plain = model.walk([1, 5], audio=song, fps=FPS)
    pulled = model.walk([1, 5], audio=song, fps=FPS,
                        audio_react={"truncation": "mid", "strength": 1.0})
    assert torch.equal(plain.latents, pulled.latents)           # the band does not steer
    band = audio.analyse(song, FPS).bands["mid"]
    loud, quiet = int(np.argmax(band)), 2
    assert band[loud] == 1 and band[quiet] == 0
    mean = model.synthesize(plain.latents[loud:loud + 1], truncation=0.0)[0]
    got = pulled.frames()
    assert np.abs(got[loud].astype(int) - mean).max() <= 1      # psi 1 x (1 - 1) = 0
    assert np.abs(got[quiet].astype(int) - plain.frames(quiet, quiet + 1)[0]).max() <= 1


def test_audio_direction_moves_the_latent_by_band_energy(sg2, song, tmp_path):
    model = ganvas.load(sg2)
    model.directions("sefa", 3, out=tmp_path / "dirs.npz")
    walk = model.walk([1, 5], audio=song, fps=FPS, space="w",
                      audio_react={"direction": f"{tmp_path / 'dirs.npz'}:1:mid"})
    effect = walk.effect
    band = audio.analyse(song, FPS).bands["mid"]
    assert torch.allclose(effect.amount, torch.from_numpy(band) * 2.0)   # default strength 2
    from ganvas.latent.explore import unit_steps
    from ganvas.latent.directions import load_directions
    step = unit_steps(model.sampler, load_directions(tmp_path / "dirs.npz"), [1])[0]
    loud = int(np.argmax(band))
    ws = walk.latents[loud:loud + 1] + 2.0 * band[loud] * step
    want = to_uint8(model.sampler.images_from_w(ws))[0]
    assert np.abs(walk.frames(loud, loud + 1)[0].astype(int) - want).max() <= 1
    plain = model.walk([1, 5], audio=song, fps=FPS, space="w")
    assert np.abs(walk.frames(2, 3).astype(int) - plain.frames(2, 3)).max() <= 1


# --- the user's mistakes -----------------------------------------------------------------

def mistakes(tmp_path, song):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, np.float32), SR)
    out = str(tmp_path / "v.mp4")
    return [
        (["--audio", str(tmp_path / "nope.wav"), "--out", out], "audio file not found"),
        (["--audio", str(text), "--out", out], "cannot read"),
        (["--audio", str(empty), "--out", out], "is empty"),
        (["--audio", str(silent), "--out", out], "is silent"),
        (["--audio", str(song), "--out", str(tmp_path / "v.gif")], "audio needs an .mp4"),
        (["--audio", str(song), "--out", str(tmp_path / "v.png")], "audio needs an .mp4"),
        (["--audio", str(song), "--frames-per-step", "8", "--out", out], "does not apply"),
        (["--audio-truncation", "low", "--out", out], "needs --audio"),
        (["--audio", str(song), "--audio-direction", "dirs.npz", "--out", out],
         "bad audio direction"),
        (["--audio", str(song), "--audio-direction", "nope.npz:0", "--out", out],
         "direction file not found"),
        (["--audio", str(song), "--audio-strength", "2", "--out", out], "band effect"),
    ]


def test_mistakes_are_one_line_exit_2_and_write_nothing(dc, song, tmp_path, capsys):
    cases = mistakes(tmp_path, song)
    before = set(tmp_path.iterdir())
    for extra, needle in cases:
        err = usage_error(["interpolate", str(dc), "--seeds", "1,5,9", *extra], capsys)
        assert needle in err, (extra, err)
    assert set(tmp_path.iterdir()) == before
