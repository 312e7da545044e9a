"""The command line: every user mistake is one line on stderr and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ganvas.cli import main


@pytest.mark.parametrize("argv,needle", [
    (["train", "/no/such/folder"], "dataset not found"),
    (["train", "demo:emoji", "--model", "nope"], "choose from: dcgan"),
    (["train", "demo:emoji", "--resolution", "48"], "power of two"),
    (["train", "demo:emoji", "--bogus"], "unrecognized arguments"),
    (["train", "demo:emoji", "--kimg", "1", "--minutes", "1"], "not allowed with"),
    (["train", "demo:nope"], "available: emoji"),
    (["train"], "give a dataset"),
    (["prepare", "/no/such/folder", "out.zip"], "not found"),
    (["prepare", ".", "out.zip", "--resolution", "100"], "power of two"),
    (["generate", "/no/such/run", "--grid", "g.png"], "model not found"),
    (["generate", ".", "--seeds", "x", "--grid", "g.png"], "bad seeds"),
    (["demo", "--minutes", "0"], "positive"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="^2$") as e:     # its message is the exit code
        sys.exit(main(argv))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_empty_dataset_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", str(tmp_path / "empty"), "--out", str(tmp_path / "runs")]) == 2
    assert "no usable images" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "ganvas", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for verb in ("prepare", "train", "generate", "demo"):
        assert verb in out
