"""The memorization check: copies score ~1, new images from the same distribution ~0.05."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import re
from PIL import Image

from ganvas.data.archive import ArchiveWriter, file_hash, read_archive
from ganvas.errors import GanvasError
from ganvas.metrics import memorization as mem
from ganvas.metrics.extractors import EXTRACTORS

from tests.helpers import make_toy_archive

RES = 16


class FakeModel:
    """What the check uses of a ganvas Model; `generate` returns the given pictures."""

    def __init__(self, archive, pictures: np.ndarray, path):
        digest = file_hash(archive) if Path(archive).is_file() else ""   # "x": no data
        self.info = {"dataset": {"name": str(archive), "sha256": digest}}
        self.resolution, self.channels, self.num_classes = RES, 3, 0
        self.kimg, self.path, self.pictures = 0.0, path, pictures

    def generate(self, seeds):
        return self.pictures[list(seeds)]          # uint8 (N, H, W, C)


@pytest.fixture(scope="module")
def train_archive(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("mem") / "train.zip", n=100, resolution=RES)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """64 new pictures of the training distribution (another seed of the same generator)."""
    path = make_toy_archive(tmp_path_factory.mktemp("mem") / "held.zip", n=64, resolution=RES,
                            seed=1)
    return read_archive(path).images


@pytest.fixture(scope="module")
def extractor():
    return EXTRACTORS.get("random-conv")()


def run(model, out, extractor, **kw):
    return mem.memorization(model, len(model.pictures), extractor, out, mirror=False, **kw)


def test_a_copier_scores_one_and_finds_the_copied_image(train_archive, extractor, tmp_path):
    train = read_archive(train_archive).images
    copied = np.arange(3, 67)[::-1]                          # seed s copies image copied[s]
    result = run(FakeModel(train_archive, train[copied], tmp_path), tmp_path, extractor)
    for space, s in result["spaces"].items():
        assert s["score"] >= 0.9, space
        assert s["median_sample_nn"] < 1e-5 < s["median_train_nn"]
        for c in s["closest"]:
            assert c["train_index"] == copied[c["seed"]] and c["distance"] < 1e-5
    assert result["spaces"]["pixels"]["closest"][0]["distance"] == 0
    assert result["verdict"].startswith("looks like copying: 100% of samples")
    assert "looks like copying" in mem.table(result)


def test_new_images_of_the_same_distribution_score_low(train_archive, held_out, extractor,
                                                       tmp_path):
    result = run(FakeModel(train_archive, held_out, tmp_path), tmp_path, extractor)
    for space, s in result["spaces"].items():
        assert s["score"] < 0.3, space
        assert s["median_sample_nn"] > 0.5 * s["median_train_nn"], space
        assert s["near_copies"] < 3, space
    assert result["verdict"].startswith("no sign of copying")


def test_a_few_copies_among_new_images_are_flagged(train_archive, held_out, extractor,
                                                   tmp_path):
    """5 exact copies in 64 samples hardly move the 5% score, but each is closer to its
    training image than any two training images are to each other."""
    train = read_archive(train_archive).images
    pictures = held_out.copy()
    pictures[[3, 17, 30, 41, 60]] = train[[9, 8, 7, 6, 5]]
    result = run(FakeModel(train_archive, pictures, tmp_path), tmp_path, extractor)
    for space, s in result["spaces"].items():
        assert s["near_copies"] >= 5 and s["near_copies_expected"] < 1, space
        assert {c["seed"] for c in s["closest"][:5]} == {3, 17, 30, 41, 60}, space
    assert result["verdict"].startswith("some samples may be copies")


def test_grids_and_json(train_archive, extractor, tmp_path):
    train = read_archive(train_archive).images
    num, k = 20, 2
    model = FakeModel(train_archive, train[:num], tmp_path)
    result = mem.memorization(model, num, extractor, tmp_path / "out", neighbours=k,
                              mirror=False)
    assert json.loads((tmp_path / "out" / "memorization.json").read_text()) == \
        json.loads(json.dumps(result))
    rows, scale = min(num, mem.GRID_ROWS), 64 // RES
    height = rows * (RES + mem.PAD) - mem.PAD
    width = (1 + k) * RES + (k - 1) * mem.PAD + mem.SEP
    for space in ("features", "pixels"):
        grid = np.asarray(Image.open(result["files"][f"{space}_grid"]))[::scale, ::scale]
        assert grid.shape == (height, width, 3)
        sample, first = grid[:RES, :RES], grid[:RES, RES + mem.SEP:2 * RES + mem.SEP]
        assert np.array_equal(sample, first)                # a copy beside its original
        assert (grid[:, RES:RES + mem.SEP] == mem.SEP_GREY).all()


def test_mirrored_copies_are_found_when_training_used_mirror(train_archive, extractor,
                                                             tmp_path):
    train = read_archive(train_archive).images
    model = FakeModel(train_archive, train[:32, :, ::-1], tmp_path)
    plain = mem.memorization(model, 32, extractor, tmp_path / "a", mirror=False)
    mirror = mem.memorization(model, 32, extractor, tmp_path / "b", mirror=True)
    assert plain["spaces"]["pixels"]["score"] < 0.5
    symmetric = {i for i in range(32) if np.array_equal(train[i], train[i, :, ::-1])}
    for s in mirror["spaces"].values():
        assert s["score"] >= 0.9
        for c in s["closest"]:         # a symmetric image matches as it is (a tie)
            assert c["train_index"] == c["seed"] and c["distance"] < 1e-5
            assert c["mirrored"] or c["seed"] in symmetric


def test_threshold_is_calibrated_on_fresh_points():
    """Points from the training distribution are closer than the 5% threshold ~5% of the
    time (binomial std for 3000 samples: 0.4%)."""
    rng = np.random.default_rng(0)
    train, fresh = rng.normal(size=(3000, 6)).astype(np.float32), \
        rng.normal(size=(3000, 6)).astype(np.float32)
    mem_train_nn = mem.nearest(train, train, 1, skip=np.arange(3000))[0][:, 0]
    score, threshold = mem.copy_score(mem.nearest(fresh, train, 1)[0][:, 0], mem_train_nn)
    assert 0.035 < score < 0.065 and threshold > 0


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(1)
    q, g = rng.normal(size=(37, 5)).astype(np.float32), rng.normal(size=(50, 5)).astype(np.float32)
    gf = rng.normal(size=(50, 5)).astype(np.float32)
    skip = rng.integers(0, 50, 37)
    dist, idx, flipped = mem.nearest(q, g, 4, gf, skip=skip)
    d = np.minimum(np.linalg.norm(q[:, None].astype(np.float64) - g[None], axis=2),
                   np.linalg.norm(q[:, None].astype(np.float64) - gf[None], axis=2))
    d[np.arange(37), skip] = np.inf
    assert np.array_equal(idx, np.argsort(d, axis=1)[:, :4])
    assert np.allclose(dist, np.sort(d, axis=1)[:, :4], rtol=1e-12)
    is_f = np.linalg.norm(q[:, None] - gf[idx], axis=2) < np.linalg.norm(q[:, None] - g[idx],
                                                                          axis=2)
    assert np.array_equal(flipped, is_f)


def test_duplicates_are_kept_once(tmp_path):
    a = np.zeros((4, 4, 3), np.uint8)
    a[:, 0] = 255
    b = np.full((4, 4, 3), 7, np.uint8)
    images = np.stack([a, b, a, a[:, ::-1], b])
    assert mem.distinct(images).tolist() == [0, 1, 3]
    assert mem.distinct(images, mirror=True).tolist() == [0, 1]


def write_archive(path, images):
    with ArchiveWriter(path, RES, 3) as w:
        for i, img in enumerate(images):
            w.add(img, source=f"x/{i}.png")
        w.close()
    return path


@pytest.mark.parametrize("case,needle", [
    ("num", "at least 2 samples"),
    ("small", "at least 10 distinct training images, got 5"),
    ("duplicates", "at least 10 distinct training images, got 1"),
])
def test_errors_are_one_line(case, needle, train_archive, extractor, tmp_path):
    train = read_archive(train_archive).images
    archive, num = train_archive, 8
    if case == "num":
        num = 1
    elif case == "small":
        archive = write_archive(tmp_path / "small.zip", train[:5])
    else:
        archive = write_archive(tmp_path / "dup.zip", np.repeat(train[:1], 30, axis=0))
    with pytest.raises(GanvasError, match=re.escape(needle)) as e:
        mem.memorization(FakeModel(archive, train, tmp_path), num, extractor, tmp_path,
                         mirror=False)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "memorization.json").exists()


def test_on_a_trained_run(tiny_run, extractor, tmp_path):
    """A real ganvas Model: dataset, mirror flag and sources come from its run."""
    import ganvas
    result = mem.memorization(ganvas.load(tiny_run), 24, extractor, tmp_path, train_limit=40)
    assert result["train_images"] == 40 and result["mirror"] is False
    for s in result["spaces"].values():
        assert 0 <= s["score"] <= 1 and s["threshold"] > 0
        assert s["closest"][0]["source"].startswith("toy/")
    assert all(Path(p).is_file() for p in result["files"].values())
    assert "verdict:" in mem.table(result)


def test_mirror_flag_comes_from_the_run(tmp_path):
    snapshot = tmp_path / "00001-run" / "checkpoints" / "kimg-000001"
    snapshot.mkdir(parents=True)
    (tmp_path / "00001-run" / "config.json").write_text(json.dumps({"train": {"mirror": True}}))
    assert mem.trained_with_mirror(FakeModel("x", None, snapshot)) is True
    assert mem.trained_with_mirror(FakeModel("x", None, tmp_path)) is False   # exported


def test_alpha_is_composited_on_white():
    rgba = np.array([[[[10, 20, 30, 255], [10, 20, 30, 0], [0, 0, 0, 51]]]], np.uint8)
    assert mem.on_white(rgba).tolist() == [[[[10, 20, 30], [255, 255, 255], [204, 204, 204]]]]


def test_eval_memorization_from_the_command_line(tiny_run, tmp_path, capsys):
    from ganvas.cli import main
    out = tmp_path / "mem"
    assert main(["eval", str(tiny_run), "--memorization", "--extractor", "random-conv",
                 "--num", "16", "--memorization-dir", str(out), "--out",
                 str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert "verdict:" in printed and (out / "memorization.json").is_file()
    assert not (tmp_path / "m.json").exists()          # no metrics asked for, none written
    assert main(["eval", str(tiny_run), "--memorization", "--num", "16",
                 "--feature-weights", str(tmp_path / "none.pth"),
                 "--memorization-dir", str(out)]) == 2
    assert "inception-v3 weights not found" in capsys.readouterr().err
