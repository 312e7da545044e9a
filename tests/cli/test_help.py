"""--help fits a screen and says what happens; --help-all lists every option (issue 30)."""

from __future__ import annotations

import argparse

import pytest

from ganvas import search
from ganvas.cli import build_parser, main
from ganvas.cli.option_defaults import shown as shown_value
from ganvas.cli.short_help import COMMON, HELP_ALL
from ganvas.cli.tune import TUNE_DEFAULTS
from ganvas.config import resolve
from ganvas.config.presets import PRESETS, default_preset
from ganvas.config.schema import all_options

SCREEN = 50                     # lines of an 80-column terminal the short help may take


def verbs() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)).choices


def help_text(argv: list[str], capsys, monkeypatch) -> str:
    """stdout of `ganvas ARGV` (a help flag: it exits 0) on an 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("verb", list(verbs()))
def test_short_help_of_every_verb_fits_a_screen(verb, capsys, monkeypatch):
    text = help_text([verb, "--help"], capsys, monkeypatch)
    assert len(text.splitlines()) <= SCREEN, text
    if verb in COMMON:                     # cut: it says so, and where the rest is
        assert text.rstrip().splitlines()[-1].endswith(
            f"ganvas {verb} {HELP_ALL} lists every option, grouped")


@pytest.mark.parametrize("verb", list(verbs()))
def test_help_all_lists_every_option_the_parser_accepts(verb, capsys, monkeypatch):
    parser = verbs()[verb]
    flags = {s for a in parser._actions for s in a.option_strings}
    has_all = HELP_ALL in flags
    assert has_all == (verb in COMMON)
    text = help_text([verb, HELP_ALL if has_all else "--help"], capsys, monkeypatch)
    missing = [f for f in flags if f not in text]
    assert not missing, missing
    if has_all:                            # and the short help really is shorter
        short = help_text([verb, "--help"], capsys, monkeypatch)
        assert [f for f in flags if f not in short]


def test_train_help_says_the_cpu_default_is_what_a_cpu_run_gets(toy_archive, tmp_path, capsys,
                                                                monkeypatch):
    text = " ".join(help_text(["train", "--help"], capsys, monkeypatch).split())
    cpu_default = default_preset("cpu")[0]
    assert cpu_default == "dcgan-tiny"
    assert f"default: {cpu_default} on a CPU" in text
    assert "default: dcgan on a CPU" not in text
    assert main(["train", str(toy_archive), "--device", "cpu", "--out", str(tmp_path),
                 "--dry-run"]) == 0
    preset_row = next(line for line in capsys.readouterr().out.splitlines()
                      if line.startswith("preset "))
    assert preset_row.split()[1] == cpu_default
    assert not list(tmp_path.iterdir())


def shown_defaults(text: str) -> dict[str, str]:
    """flag -> what its help says is its default ("(default 500)" -> "500")."""
    entries, flag = {}, None
    for line in text.splitlines():
        words = line.split()
        if line.startswith("  --"):
            flag = words[0].rstrip(",")
            entries[flag] = ""
        elif not line.startswith("   "):
            flag = None
        if flag:
            entries[flag] += " " + " ".join(words)
    return {f: e.split("(default", 1)[1].split(";")[0].split(")")[0].strip()
            for f, e in entries.items() if "(default" in e}


def test_every_default_train_shows_is_what_each_preset_runs_with(capsys, monkeypatch):
    text = help_text(["train", HELP_ALL], capsys, monkeypatch)
    shown = shown_defaults(text)
    by_flag = {opt.flag: opt for opt in all_options().values()}
    checked = 0
    for flag, value in shown.items():
        opt = by_flag.get(flag)
        if opt is None:
            continue
        plans = [resolve.preset(name) for name in PRESETS.names()]
        reals = [getattr(getattr(p.config, opt.section), opt.field) for p in plans]
        if value == ": the preset's":     # and presets do differ
            assert len(set(reals)) > 1, (flag, reals)
            continue
        if value.startswith(":") or opt.encode is not None:
            continue                      # in words (": the dataset's")
        for plan, real in zip(plans, reals):
            if plan.sources[opt.key] not in ("default", "preset"):
                continue                  # settled from auto (precision: the device's)
            assert shown_value(real) == value, (flag, plan.config.train.preset, real, value)
            checked += 1
    for flag in ("--kimg", "--snap-kimg", "--tick-kimg", "--device", "--precision", "--aug"):
        assert flag in shown
    assert shown["--device"] == shown["--precision"] == shown["--aug"] == "auto"
    assert checked > 100
    assert shown["--batch"] == ": the preset's"       # 16 for dcgan-tiny, 64 for dcgan


def test_tune_help_shows_the_defaults_tune_uses(capsys, monkeypatch):
    text = "".join(help_text(["tune", HELP_ALL], capsys, monkeypatch).split())  # unwrapped
    assert TUNE_DEFAULTS["metrics_num"] == f"default {search.SNAPSHOT_NUM}"
    for name in ("kimg", "minutes", "metrics"):
        assert name in search.OWN_OPTIONS
    for note in TUNE_DEFAULTS.values():
        assert "".join(note.split()) in text
    assert "(default500;'none'=off)" not in text        # train's --kimg


# Flags of train that another change brings (wall-time grids, a fresh run): listed in COMMON
# before they exist, skipped until then.
ARRIVING = {"--new-run", "--grid-minutes"}


def test_every_common_name_is_an_option_of_its_verb():
    parsers = verbs()
    for verb, groups in COMMON.items():
        names = {s for a in parsers[verb]._actions for s in (a.option_strings or [a.dest])}
        unknown = {n for _, listed in groups for n in listed} - names
        assert unknown <= ARRIVING, (verb, unknown)
