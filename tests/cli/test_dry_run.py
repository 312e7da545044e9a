"""A dry run shows the values the chosen model reads; the rest stay at their defaults,
which validation enforces (issue 30)."""

from __future__ import annotations

import pytest

from ganvas.cli import main
from ganvas.cli.short_help import HELP_ALL
from ganvas.config import resolve
from ganvas.config.presets import PRESETS
from ganvas.config.schema import SECTION_TYPES, all_options
from ganvas.errors import ConfigError
from ganvas.models import MODELS

def dry_run_rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]
            if line.strip() and not line.startswith((" ", "("))}


@pytest.mark.parametrize("preset,shown,hidden", [
    ("dcgan-tiny", ["--z-dim", "--r1-gamma", "--freeze-d", "--aug"],
     ["--pl-weight", "--pl-interval", "--style-mixing", "--w-dim", "--mapping-layers",
      "--mbstd-group", "--num-fp16-res", "--conv-clamp", "--synthesis-layers",
      "--rec-distance"]),
    ("stylegan2-tiny", ["--pl-weight", "--style-mixing", "--w-dim", "--mapping-layers",
                        "--r1-interval"],
     ["--synthesis-layers", "--rec-distance", "--spectral-norm"]),
])
def test_dry_run_shows_only_what_the_family_reads(preset, shown, hidden, toy_archive, tmp_path,
                                                   capsys):
    assert main(["train", str(toy_archive), "--model", preset, "--resolution", "32",
                 "--out", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    rows = dry_run_rows(out)
    family = resolve.preset(preset).config.model.family
    uses = MODELS.get(family).uses
    left_out = [o.flag for o in all_options().values() if not uses(o.key)]
    assert set(hidden) <= set(left_out)
    assert not set(left_out) & set(rows) and set(shown) <= set(rows)
    assert f"({len(left_out)} options a {family} model does not read are left out" in out
    assert f"{HELP_ALL} lists every option, config.json keeps every value" in out
    plan = resolve.preset(preset)                 # the resolved config keeps every field
    assert all(hasattr(getattr(plan.config, o.section), o.field) for o in all_options().values())


def another_value(opt):
    """A value of option `opt` other than its default: one a preset gives it, else the
    default moved by one."""
    default = getattr(SECTION_TYPES[opt.section](), opt.field)
    for name in PRESETS.names():
        value = PRESETS.get(name)(64).get(opt.section, {}).get(opt.field, default)
        if value != default and value is not None:
            return value
    return 1 if default is None else default + 1


@pytest.mark.parametrize("family", MODELS.names())
def test_what_a_dry_run_leaves_out_the_family_refuses(family):
    """Nothing the table hides can change a run: any other value is a one-line error."""
    preset = next(n for n in PRESETS.names() if n.endswith("-tiny")
                  and PRESETS.get(n)(64)["model"]["family"] == family)
    hidden = [o for o in all_options().values() if not MODELS.get(family).uses(o.key)]
    for opt in hidden:
        with pytest.raises(ConfigError, match=opt.flag) as err:
            resolve.preset(preset, **{opt.api: another_value(opt)})
        assert "\n" not in str(err.value)
