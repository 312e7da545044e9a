"""`ganvas eval`: metrics of a model against its training images, as JSON and a table."""

from __future__ import annotations

import json
import sys

import pytest

from ganvas.cli import main


def test_eval_writes_json_and_prints_a_table(tiny_run, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["eval", str(tiny_run), "--metrics", "swd,fid,kid,pr", "--num", "48",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["num"] == 48 and result["extractor"] == "random-conv"
    m = result["metrics"]
    assert m["swd"] > 0 and m["fid"] > 0 and 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
    assert [lvl["resolution"] for lvl in m["swd_levels"]] == [16]
    assert "fid" in printed and "random-conv features" in printed


def test_eval_of_the_data_against_itself_is_near_zero(tiny_run):
    """A 'model' whose samples are its training images scores about 0 SWD and FID."""
    import ganvas
    from ganvas.metrics import evaluate as ev
    model = ganvas.load(tiny_run)
    reals = ev.real_images(model.info["dataset"]["name"], model.resolution, 32)
    model.generate = lambda seeds: reals[: len(list(seeds))]
    m = ev.evaluate(model, ["swd", "fid"], 32)["metrics"]
    assert m["swd"] < 1e-6 and abs(m["fid"]) < 1e-6


@pytest.mark.parametrize("argv,needle", [
    (["--metrics", "fidd"], "choose from"),
    (["--num", "1"], "at least 2"),
    (["--metrics", "fid", "--extractor", "inception"], "choose from"),
])
def test_eval_errors_are_one_line(argv, needle, tiny_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        sys.exit(main(["eval", str(tiny_run), "--out", str(tmp_path / "m.json"), *argv]))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()
