"""Full and read-only disks for tests/hostile/test_disk_*.py, and the checks they share.

A full disk is a real tmpfs, mounted for one test, holding the files it is given (an earlier
output that must survive) and then filled with a filler file until `room` bytes are left, so
a write fails with ENOSPC wherever it happens: in Python, in Pillow, in safetensors' Rust, in
ffmpeg's own process. A read-only disk is the same tmpfs remounted read-only (root ignores
chmod), or, when the tests do not run as root, a folder chmod 0555. Mounting needs root (or
CAP_SYS_ADMIN): elsewhere the full-disk tests are skipped, saying why. Every mount is undone
in the fixture's teardown, lazily if a test left a file open on it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import DC, export_random, make_png_folder, run
from tests.nvlabs.from_ganvas import stylegan2_pickle, tiny_stylegan2

TMPFS_SIZE = "2m"
FILLER = ".filler"
EARLIER = b"an earlier version, which must survive"
PROGRESS = re.compile(r"^([\w ]+: *)?\d+%\|")       # a tqdm bar ("prepare:  12%|#2  | 1/8")


def _mount(folder: Path, options: str) -> str | None:
    """Mount a tmpfs on `folder`; None, or why it could not be mounted."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"cannot mount a tmpfs: {done.stderr.strip()}"


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def _fill(folder: Path, room: int) -> None:
    """Write a filler file until only `room` bytes are free on `folder`'s file system."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    (folder / FILLER).write_bytes(b"\0" * max(0, free - room))


@pytest.fixture
def disks(tmp_path):
    """A factory: disks.full(files, room=0) and disks.read_only(files) make a folder on a
    disk of their own holding `files` ({relative name: bytes}); all unmounted at teardown."""
    mounted: list[Path] = []
    chmodded: list[Path] = []

    class Disks:
        def full(self, files: dict[str, bytes] | None = None, room: int = 0) -> Path:
            folder = tmp_path / f"full{len(mounted) + len(chmodded)}"
            folder.mkdir()
            why = _mount(folder, f"size={TMPFS_SIZE}")
            if why:
                pytest.skip(f"no full disk to test on: {why}")
            mounted.append(folder)
            _write(folder, files or {})
            _fill(folder, room)
            return folder

        def read_only(self, files: dict[str, bytes] | None = None) -> Path:
            folder = tmp_path / f"ro{len(mounted) + len(chmodded)}"
            folder.mkdir()
            why = _mount(folder, f"size={TMPFS_SIZE}")
            if why is None:
                mounted.append(folder)
                _write(folder, files or {})
                subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            elif getattr(os, "geteuid", lambda: 1)() == 0:   # root writes through chmod
                pytest.skip(f"no read-only folder to test on: root ignores chmod and {why}")
            else:                                   # not root: chmod is honoured
                _write(folder, files or {})
                folder.chmod(0o555)
                chmodded.append(folder)
            return folder

    try:
        yield Disks()
    finally:
        for folder in mounted:
            if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(folder)], check=True)   # a file left open
        for folder in chmodded:
            folder.chmod(0o755)


def contents(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (but the filler) and its bytes; folders end in '/'."""
    found = {}
    for p in sorted(folder.rglob("*")):
        name = str(p.relative_to(folder))
        if name != FILLER:
            found[name] = p.read_bytes() if p.is_file() else b"/"
    return found


def error_line(argv: list, capsys, code: int) -> str:
    """Run `ganvas ARGV`; check it exits `code` with one error line on stderr (progress bars
    aside) and no traceback; returns the line."""
    got = run(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert got == code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, toy_archive):
    """What the verbs read: two tiny models, a picture folder, a network pickle, a dataset."""
    root = tmp_path_factory.mktemp("inputs")
    cfg, G, D = tiny_stylegan2()
    (root / "net.pkl").write_bytes(stylegan2_pickle(cfg, G, D))
    return {"model": export_random(root / "model", **DC),
            "model2": export_random(root / "model2", seed=1, **DC),
            "pics": make_png_folder(root / "pics"), "pkl": root / "net.pkl",
            "toy": toy_archive}


# verb: (argv given the inputs, the run and the disk; the destination; earlier files there)
CASES = {
    "prepare": (lambda i, run, d: ["prepare", i["pics"], d / "p.zip", "--resolution", "16"],
                "p.zip", {"p.zip": EARLIER}),
    "generate-grid": (lambda i, run, d: ["generate", i["model"], "--seeds", "0-15",
                                         "--grid", d / "g.png"], "g.png", {"g.png": EARLIER}),
    "generate-folder": (lambda i, run, d: ["generate", i["model"], "--seeds", "0-15",
                                           "--out", d / "pics"], "pics", {}),
    "generate-folder-earlier": (lambda i, run, d: ["generate", i["model"], "--seeds", "0-15",
                                                   "--out", d / "pics"], "pics",
                                {"pics/seed0000.png": EARLIER}),
    "interpolate-mp4": (lambda i, run, d: ["interpolate", i["model"], "--seeds", "1,2",
                                           "--frames-per-step", "8", "--scale", "4",
                                           "--out", d / "w.mp4"], "w.mp4", {"w.mp4": EARLIER}),
    "interpolate-gif": (lambda i, run, d: ["interpolate", i["model"], "--seeds", "1,2",
                                           "--frames-per-step", "8", "--scale", "4",
                                           "--out", d / "w.gif"], "w.gif", {"w.gif": EARLIER}),
    "interpolate-png": (lambda i, run, d: ["interpolate", i["model"], "--seeds", "1,2",
                                           "--frames-per-step", "8", "--scale", "4",
                                           "--out", d / "w.png"], "w.png", {"w.png": EARLIER}),
    "explore": (lambda i, run, d: ["explore", i["model"], "--seed", "3", "--dims", "0,1,2",
                                   "--steps", "7", "--scale", "4", "--out", d / "e.png"],
                "e.png", {"e.png": EARLIER}),
    "export": (lambda i, run, d: ["export", i["model"], "--out", d / "exp"], "exp", {}),
    "blend": (lambda i, run, d: ["blend", i["model"], i["model2"], "--swap-at", "8",
                                 "--out", d / "bl"], "bl", {}),
    "import": (lambda i, run, d: ["import", i["pkl"], "--out", d / "imp"], "imp", {}),
    "report": (lambda i, run, d: ["report", run, "--out", d / "r.html"], "r",   # r/loss.png
               {"r.html": EARLIER}),
    "eval": (lambda i, run, d: ["eval", run, "--metrics", "swd", "--num", "64",
                                "--out", d / "m.json"], "m.json", {"m.json": EARLIER}),
    "project": (lambda i, run, d: ["project", i["model"], i["pics"] / "0.png", "--steps", "5",
                                   "--out", d / "proj"], "proj", {}),
    "eval-memorization": (lambda i, run, d: ["eval", run, "--memorization", "--num", "16",
                                             "--extractor", "random-conv",
                                             "--memorization-dir", d / "mem"], "mem",
                          {"mem/memorization.json": EARLIER}),
}
