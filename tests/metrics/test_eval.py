"""`ganvas eval`: metrics of a model against its training images, as JSON and a table."""

from __future__ import annotations

import json

import pytest
import torch

from ganvas.cli import main

from tests.helpers import usage_error


def test_eval_writes_json_and_prints_a_table(tiny_run, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["eval", str(tiny_run), "--metrics", "swd,fid,kid,pr", "--num", "48",
                 "--extractor", "random-conv", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    # 48 generated against all 64 training images, in the JSON and on the console
    assert result["generated"] == 48 and result["reals"] == 64 and "num" not in result
    assert printed.splitlines()[0].startswith("SWD ")
    assert ": 48 generated vs 64 training images of " in printed.splitlines()[0]
    # FID and PR on 64 reals: a note says they are mostly bias and KID is the figure
    assert result["note"] == next(line for line in printed.splitlines()
                                  if "dominated by small-sample bias" in line)
    assert "64 training images" in result["note"] and "KID" in result["note"]
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
    reals = ev.model_real_subset(model)[0]
    assert len(reals) == 64                        # all the training images
    model.generate = lambda seeds: reals[: len(list(seeds))]
    m = ev.evaluate(model, ["swd", "fid"], 64, "random-conv")["metrics"]
    assert m["swd"] < 1e-6 and abs(m["fid"]) < 1e-6


def test_the_generated_count_is_independent_of_the_reals(tiny_run):
    """100 fakes against the 64 reals: as many seeds as asked, the reals all of the set."""
    import ganvas
    from ganvas.metrics import evaluate as ev
    model = ganvas.load(tiny_run)
    asked, generate = [], model.generate
    model.generate = lambda seeds: asked.append(list(seeds)) or generate(asked[-1])
    result = ev.evaluate(model, ["swd", "kid"], 100, "random-conv")
    assert asked == [list(range(100))]
    assert (result["generated"], result["reals"]) == (100, 64)
    assert "note" not in result                    # KID and SWD: no small-sample note
    assert ev.evaluate(model, ["kid"], 8, "random-conv")["reals"] == 64
    assert ev.table(result).startswith("SWD ")


def test_the_small_sample_note():
    from ganvas.metrics import evaluate as ev
    assert ev.bias_note({"fid": 1.0, "kid": 0.1}, ev.BIAS_REALS) is None
    assert ev.bias_note({"swd": 1.0, "kid": 0.1}, 10) is None
    note = ev.bias_note({"fid": 1.0, "precision": 0.5, "recall": 0.5}, 300)
    assert note.startswith("note: with 300 training images (under 2,000) fid, precision, "
                           "recall are dominated by small-sample bias")
    assert note.endswith("(add kid to the metrics)")
    assert ev.counts(5000, 300) == "5,000 generated vs 300 training images"
    # The default generated count follows the feature device (a CPU run stays practical).
    assert ev.default_num(torch.device("cpu")) == 1_000
    assert ev.default_num(torch.device("cuda")) == ev.default_num(torch.device("mps")) == 5_000


@pytest.mark.parametrize("argv,needle", [
    (["--metrics", "fidd"], "choose from"),
    (["--num", "1"], "at least 2"),
    (["--num", "1000000000000"], "at most 50,000"),
    (["--num", "50001", "--memorization"], "at most 50,000"),
    (["--metrics", "fid", "--extractor", "inception"], "choose from"),
])
def test_eval_errors_are_one_line(argv, needle, tiny_run, tmp_path, capsys):
    err = usage_error(["eval", str(tiny_run), "--out", str(tmp_path / "m.json"), *argv], capsys)
    assert needle in err and not (tmp_path / "m.json").exists()


def test_the_error_for_too_many_comes_before_any_work(tmp_path, capsys):
    err = usage_error(["eval", str(tmp_path / "no-model"), "--num", "1000000000000"], capsys)
    assert "at most 50,000" in err and "MAX_GENERATED" in err and "no-model" not in err


def test_reference_features_are_cached_by_dataset_extractor_and_subset(tiny_run, monkeypatch):
    """The second evaluation reuses the real images' features and gets the same numbers;
    another generated count measures the same reals (the same entry); another real subset
    (above the limit of reals) is another cache entry."""
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
    assert other["reference_cached"] == {"random-conv": True}
    # (monkeypatch.context, not undo(): undo would also drop the isolated cache folder)
    with monkeypatch.context() as patched:
        patched.setattr(ev, "MAX_REALS", 32)
        fewer = ev.evaluate(model, ["fid"], 20, "random-conv")
        assert fewer["reals"] == 32 and fewer["reference_cached"] == {"random-conv": False}
        entries = list(cache_dir("reference").glob("*.npz"))
        assert len(entries) == 2
        entries[0].write_bytes(b"damaged")          # a damaged entry is recomputed
        again = [ev.evaluate(model, ["fid"], 20, "random-conv")]
    again.append(ev.evaluate(model, ["fid"], 20, "random-conv"))
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
