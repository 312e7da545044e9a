"""A full disk under every verb that writes (issue 31): one line naming the user's path, exit 1
(the machine's fault), nothing partial at the destination (no temporary, no half file, no new
folder) and nothing earlier lost. The disk is a real tmpfs filled to the last page
(tests/hostile/disks.py), so the writes of Pillow, safetensors and ffmpeg fail for real."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import numpy as np
import pytest

from ganvas.latent import video
from tests.hostile import disks as shared
from tests.hostile.disks import CASES, EARLIER, contents, error_line

disks, inputs = shared.disks, shared.inputs       # the fixtures


@pytest.mark.parametrize("verb", CASES)
def test_a_full_disk_is_one_line_exit_1_and_loses_nothing(verb, inputs, tiny_run, disks,
                                                          capsys):
    argv, destination, earlier = CASES[verb]
    disk = disks.full(earlier)
    line = error_line(argv(inputs, tiny_run, disk), capsys, code=1)
    assert "No space left on device" in line
    assert str(disk / destination) in line                      # the user's path, no temp
    assert contents(disk) == {**{name.split("/")[0]: b"/" for name in earlier if "/" in name},
                              **earlier}                         # nothing new, nothing lost


def test_an_mp4_that_fills_the_disk_half_way_is_not_left_behind(inputs, disks, capsys):
    """Room for part of the video (the issue's "Error writing trailer: No space left on
    device", which once exited 0 and left a corrupt MP4)."""
    disk = disks.full({"w.mp4": EARLIER}, room=8 << 10)
    line = error_line(["interpolate", inputs["model"], "--seeds", "1,2,3,4,5,6",
                       "--frames-per-step", "12", "--scale", "16", "--out", disk / "w.mp4"],
                      capsys, code=1)
    assert line.endswith(f"cannot use {str(disk / 'w.mp4')!r}: No space left on device")
    assert contents(disk) == {"w.mp4": EARLIER}


# An ffmpeg that reads every frame, writes part of its output, then fails with `message`.
FAKE_FFMPEG = """#!/bin/sh
cat > /dev/null
for out; do :; done
echo partial > "$out"
echo "[out#0/mp4 @ 0x1] {message}" >&2
exit 228
"""


@pytest.mark.parametrize("message,code", [
    ("Error writing trailer of w.mp4: No space left on device", errno.ENOSPC),
    ("Conversion failed!", errno.EIO),
])
def test_ffmpegs_exit_status_is_checked(message, code, tmp_path, monkeypatch, capsys):
    """Also where no tmpfs can be mounted (the fault in the pipe): ffmpeg's failure is an
    OSError naming the output with ffmpeg's reason, its message is not printed, the partial
    file is gone and the earlier one kept."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(FAKE_FFMPEG.format(message=message))
    fake.chmod(0o755)
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: str(fake))
    out = tmp_path / "w.mp4"
    out.write_bytes(EARLIER)
    with pytest.raises(OSError) as failed:
        video.write_mp4(out, [np.zeros((4, 8, 8, 3), np.uint8)], fps=12)
    assert failed.value.errno == code and failed.value.filename == str(out)
    assert code == errno.ENOSPC or "Conversion failed!" in failed.value.strerror
    assert capsys.readouterr().err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ffmpeg", "w.mp4"]
    assert out.read_bytes() == EARLIER


def open_files_under(folder) -> list[str]:
    """The files this process still holds open below `folder` (Linux's /proc)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("no /proc/self/fd to list open files")
    held = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(f"{folder}/"):
                held.append(target)
    return held


def test_train_on_a_full_disk_is_one_line_and_lets_go_of_its_files(inputs, disks, capsys):
    """The run's lock could not be written: one line naming it, exit 1, no lock left and no
    file held open (the disk could not be unmounted)."""
    disk = disks.full()
    line = error_line(["train", inputs["toy"], "--out", disk / "runs", "--model", "dcgan-tiny",
                       "--kimg", "0.032", "--batch", "16"], capsys, code=1)
    assert f"cannot use '{disk / 'runs'}/" in line and "No space left on device" in line
    assert not list((disk / "runs").rglob("lock")) and open_files_under(disk) == []
    assert list((disk / "runs").iterdir()) == []            # no half-made run folder


def test_a_runs_logs_on_a_full_disk_name_their_file(disks):
    """Training appends to stats.jsonl and log.txt as it goes: a full disk there is an
    OSError naming the file (it named none), and the lines already written stay."""
    from ganvas.runfolder.log import RunLog
    earlier = b'{"kimg": 0.032}\n' * 256           # one whole page: the next byte needs one more
    disk = disks.full({"stats.jsonl": earlier, "log.txt": earlier})
    log = RunLog(disk, echo=False)
    for write, name in ((lambda: log.record("stats.jsonl", {"kimg": 0.064}), "stats.jsonl"),
                        (lambda: log.info("tick"), "log.txt")):
        with pytest.raises(OSError) as failed:
            write()
        assert failed.value.errno == errno.ENOSPC and failed.value.filename == str(disk / name)
        assert (disk / name).read_bytes() == earlier


# An ffmpeg that encodes (reads the frames, writes its output) but fails to mux the song in.
FAKE_FFMPEG_MUX = """#!/bin/sh
for out; do :; done
case " $* " in
  *" aac "*) echo partial > "$out"
             echo "[out#0/mp4 @ 0x1] Error writing trailer of $out: No space left on device" >&2
             exit 228 ;;
  *) cat > /dev/null; echo video > "$out" ;;
esac
"""


def test_a_music_video_whose_mux_fills_the_disk_is_exit_1_and_not_left(tmp_path, monkeypatch):
    """The song is muxed in by a second ffmpeg: its full disk is the machine's fault (an
    OSError naming the output, exit 1), not a bad song (GanvasError), and both temporaries go."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(FAKE_FFMPEG_MUX)
    fake.chmod(0o755)
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: str(fake))
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")                       # never read: the stand-in ffmpeg fails
    out = tmp_path / "v.mp4"
    with pytest.raises(OSError) as failed:
        video.write_mp4(out, [np.zeros((4, 8, 8, 3), np.uint8)], fps=4, audio=song)
    assert failed.value.errno == errno.ENOSPC and failed.value.filename == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ffmpeg", "song.wav"]


def test_tune_on_a_full_disk_is_one_line_and_leaves_no_database(inputs, disks, capsys):
    """The study database cannot be made: exit 1 naming it, at once (no retries meant for
    workers racing to create the tables), and no half-made tune.db; an earlier study's
    folder beside it is untouched."""
    pytest.importorskip("optuna")
    disk = disks.full({"old/tune.db": EARLIER})
    line = error_line(["tune", inputs["toy"], "--out", disk / "tune", "--model", "dcgan-tiny",
                       "--trials", "1", "--kimg-per-trial", "0.032", "--metric", "swd"],
                      capsys, code=1)
    assert "No space left on device" in line and str(disk / "tune") in line
    assert not (disk / "tune").exists()                 # no half-made database or folder
    assert contents(disk)["old/tune.db"] == EARLIER


def test_tensorboards_writer_on_a_full_disk_prints_no_traceback(disks):
    """Its writer thread re-raises a failed write that the foreground raises as the one line;
    threading's hook must not print it again as a traceback. In a process of its own (pytest
    takes threads' exceptions over)."""
    import subprocess
    import sys
    pytest.importorskip("tensorboard")
    disk = disks.full(room=16 << 10)           # room for the event file's start
    script = f"""
import time
from ganvas.report.tensorboard import TensorBoardLog
tb = TensorBoardLog({str(disk)!r})
assert tb.enabled
for kimg in range(400):                        # until the writer has tried and failed
    try:
        tb.scalars(kimg, {{"x" * 200 + str(i): 1.0 for i in range(20)}})
        tb.flush()
    except OSError:
        print("failed in the foreground")
        break
    time.sleep(0.01)
time.sleep(0.3)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "failed in the foreground" in done.stdout, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
