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


# Issue 30: eval's output goes into the run it measured, with directions and real references.

@pytest.fixture
def own_run(tiny_run, tmp_path):
    """A private copy of the tiny run (eval writes into it)."""
    import shutil
    return shutil.copytree(tiny_run, tmp_path / "runs" / tiny_run.name)


def test_eval_writes_into_the_run_and_its_report_shows_it(own_run, tmp_path, monkeypatch,
                                                          capsys):
    """`ganvas eval RUN` leaves the working folder alone, writes RUN/eval/<snapshot>-<metrics>
    .json (and the path it printed), and the report then shows the result instead of "No
    metrics yet"; eval of an earlier snapshot is another file beside it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["report", str(own_run)]) == 0
    assert "No metrics yet" in (own_run / "report.html").read_text()
    capsys.readouterr()
    assert main(["eval", str(own_run), "--num", "8"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert list(work.iterdir()) == []                           # nothing in the working folder
    out = own_run / "eval" / "kimg-000000.256-swd.json"
    assert printed[-1] == str(out)
    result = json.loads(out.read_text())
    assert result["kimg"] == 0.256 and result["generated"] == 8
    first = own_run / "checkpoints" / "kimg-000000.128"
    assert main(["eval", str(first), "--num", "8"]) == 0
    assert (own_run / "eval" / "kimg-000000.128-swd.json").is_file()
    assert main(["report", str(own_run)]) == 0
    page = (own_run / "report.html").read_text()
    assert "No metrics yet" not in page and "Measured by ganvas eval" in page
    section = page[page.index('id="metrics"'):page.index('id="augment"')]
    assert f"<td>{result['metrics']['swd']:.6g}</td><td>lower is better</td>" in section
    assert "kimg-000000.256-swd.json" in section and "kimg-000000.128" not in section
    assert "real vs real: " in section


def test_eval_of_a_model_that_is_no_run_asks_for_out(tmp_path, monkeypatch, capsys):
    """An exported model is not a run: eval writes nowhere without --out (exit 2, one line,
    before any work)."""
    from tests.helpers import DC, export_random
    model = export_random(tmp_path / "exported", **DC)
    before = sorted(p.name for p in model.iterdir())
    monkeypatch.chdir(tmp_path)
    err = usage_error(["eval", str(model), "--num", "8"], capsys)
    assert "--out" in err and "not a run" in err
    assert sorted(p.name for p in model.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]
    err = usage_error(["eval", str(tmp_path / "x.pkl"), "--num", "8"], capsys)
    assert "--out" in err


def test_eval_prints_each_metric_with_its_direction_and_real_reference(own_run, capsys):
    """Every figure says which way is better and what two disjoint halves of the training
    images score against each other (the same metric code, on the halves: as many as the
    generated images, or half the reals); a second eval reads the references from the
    cache and prints the same."""
    import ganvas
    from ganvas.metrics import evaluate as ev
    from ganvas.metrics.distances import frechet_distance, statistics
    from ganvas.metrics.extractors import EXTRACTORS
    from ganvas.metrics.swd import swd
    argv = ["eval", str(own_run), "--metrics", "swd,fid,kid,pr", "--num", "48",
            "--extractor", "random-conv"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    out = own_run / "eval" / "kimg-000000.256-swd-fid-kid-pr-random-conv.json"
    assert printed.splitlines()[-1] == str(out)
    result = json.loads(out.read_text())
    ref = result["real_reference"]
    lines = {line.split()[0]: line for line in printed.splitlines()}
    for key, better in (("swd", "lower"), ("fid", "lower"), ("kid", "lower"),
                        ("precision", "higher"), ("recall", "higher")):
        assert result["better"][key] == f"{better} is better"
        assert ref[key]["images"] == [32, 32] and ref[key]["kind"] == "real vs real"
        assert lines[ev.label(key)].endswith(
            f"({better} is better; real vs real: {ref[key]['value']:.4g})")
    assert "kid_std" in lines and "better" not in lines["kid_std"]
    assert ("real vs real: two disjoint halves of the training images, 32 vs 32 (as many as "
            "the generated images, or half the training images when there are fewer)") in printed
    # the references are the metrics themselves on two disjoint halves of the reals
    reals = ev.model_real_subset(ganvas.load(own_run))[0]
    a, b = ev.real_halves(len(reals), 48)
    assert len(a) == len(b) == 32 and not set(a) & set(b)
    assert ref["swd"]["value"] == swd(reals[a], reals[b])["mean"]
    feats = EXTRACTORS.get("random-conv")().extract(reals)["features"]
    fid = frechet_distance(*statistics(feats[a]), *statistics(feats[b]))
    assert ref["fid"]["value"] == pytest.approx(fid, rel=1e-4)       # cached as float32
    assert not any(e["cached"] for e in ref.values())
    # another generated count: halves of that size; the first count again: from the cache
    few = ev.evaluate(ganvas.load(own_run), ["swd"], 8)["real_reference"]["swd"]
    assert few["images"] == [8, 8] and few["value"] != ref["swd"]["value"]
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[:-1] == printed.splitlines()[:-1]
    result = json.loads((own_run / "eval" / "kimg-000000.256-swd-fid-kid-pr-random-conv.json")
                        .read_text())
    assert all(e["cached"] for e in result["real_reference"].values())


def test_is_reference_is_the_is_of_the_reals_and_too_few_are_said():
    """IS compares no sets: its reference is the IS of as many reals as generated images
    (all when fewer). A reference that cannot be computed says why instead of a number."""
    import numpy as np
    from ganvas.metrics import evaluate as ev
    logits = np.random.default_rng(0).normal(size=(30, 10)) * 3
    outputs = {"inception-v3": ({"logits": logits}, {}, False)}
    reals = np.zeros((30, 16, 16, 3), np.uint8)
    ref = ev.real_reference(["is"], reals, 12, outputs, {"is": "inception-v3"}, None, {})
    assert ref["is"]["kind"] == "real images" and ref["is"]["images"] == [12]
    idx = np.sort(np.random.default_rng(ev.FLOOR_SEED).permutation(30)[:12])
    assert ref["is"]["value"] == ev.inception_score_metric(None, logits[idx])["is"]
    assert ev.direction("is") == "higher is better" and ev.direction("is_std") is None
    assert ev.reference_text(ref["is"]) == f"real images: {ref['is']['value']:.4g}"
    one = ev.real_reference(["swd"], reals[:1], 12, {}, {}, None, {})["swd"]
    assert one["value"] is None
    assert ev.reference_text(one).startswith("real vs real: not computed (needs at least 4")
