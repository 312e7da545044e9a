"""`ganvas eval`: metrics of a model against its training images, as JSON and a table."""

from __future__ import annotations

import json

import pytest

from ganvas.cli import main

from tests.helpers import usage_error


def test_eval_writes_json_and_prints_a_table(tiny_run, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["eval", str(tiny_run), "--metrics", "swd,fid,kid,pr", "--num", "48",
                 "--extractor", "random-conv", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["num"] == 48
    assert result["extractors"] == {"fid": "random-conv", "kid": "random-conv",
                                    "pr": "random-conv"}
    m = result["metrics"]
    assert m["swd"] > 0 and m["fid"] > 0 and 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
    assert [lvl["resolution"] for lvl in m["swd_levels"]] == [16]
    assert "fid on random-conv" in printed and "not comparable with papers" in printed


def test_eval_of_the_data_against_itself_is_near_zero(tiny_run):
    """A 'model' whose samples are its training images scores about 0 SWD and FID."""
    import ganvas
    from ganvas.metrics import evaluate as ev
    model = ganvas.load(tiny_run)
    reals = ev.model_real_subset(model, 32)[0]
    model.generate = lambda seeds: reals[: len(list(seeds))]
    m = ev.evaluate(model, ["swd", "fid"], 32, "random-conv")["metrics"]
    assert m["swd"] < 1e-6 and abs(m["fid"]) < 1e-6


@pytest.mark.parametrize("argv,needle", [
    (["--metrics", "fidd"], "choose from"),
    (["--num", "1"], "at least 2"),
    (["--metrics", "fid", "--extractor", "inception"], "choose from"),
])
def test_eval_errors_are_one_line(argv, needle, tiny_run, tmp_path, capsys):
    err = usage_error(["eval", str(tiny_run), "--out", str(tmp_path / "m.json"), *argv], capsys)
    assert needle in err and not (tmp_path / "m.json").exists()


def test_reference_features_are_cached_by_dataset_extractor_and_subset(tiny_run):
    """The second evaluation reuses the real images' features and gets the same numbers;
    another subset size is another cache entry."""
    import ganvas
    from ganvas.metrics import evaluate as ev
    from ganvas.paths import cache_dir
    model = ganvas.load(tiny_run)
    first = ev.evaluate(model, ["fid", "kid"], 24, "random-conv")
    second = ev.evaluate(model, ["fid", "kid"], 24, "random-conv")
    assert first["reference_cached"] == {"random-conv": False}
    assert second["reference_cached"] == {"random-conv": True}
    assert first["metrics"] == second["metrics"]
    other = ev.evaluate(model, ["fid"], 20, "random-conv")
    assert other["reference_cached"] == {"random-conv": False}
    entries = list(cache_dir("reference").glob("*.npz"))
    assert len(entries) == 2
    entries[0].write_bytes(b"damaged")              # a damaged entry is recomputed
    again = [ev.evaluate(model, ["fid"], n, "random-conv") for n in (24, 20)]
    assert sorted(r["reference_cached"]["random-conv"] for r in again) == [False, True]


def test_eval_reads_an_image_folder_as_training_did(tmp_path):
    """A conditional model trained on a raw folder of class sub-folders: eval (and the
    memorization check and report, which share open_training_images) find the archive
    training prepared, instead of preparing the folder a second time without labels."""
    import numpy as np
    from PIL import Image

    import ganvas
    from ganvas.metrics import evaluate as ev
    from ganvas.paths import cache_dir

    from tests.helpers import TINY
    rng = np.random.default_rng(0)
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(12):
            img = np.full((20, 20, 3), 255, np.uint8)
            img[rng.integers(0, 10):, rng.integers(0, 10):][:8, :8] = colour
            Image.fromarray(img).save(tmp_path / "pics" / name / f"{i}.png")
    run = ganvas.train(str(tmp_path / "pics"), out=tmp_path / "runs", kimg=0.064,
                       resolution=16, conditional=True, **TINY)
    prepared = sorted(cache_dir("prepared").glob("*.zip"))
    model = ganvas.load(run)
    assert ev.evaluate(model, ["swd"], 8)["metrics"]["swd"] > 0
    assert sorted(cache_dir("prepared").glob("*.zip")) == prepared
