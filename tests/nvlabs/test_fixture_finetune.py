"""Each kind of pickle NVlabs' code wrote (shared/fixtures/nvlabs) imports, plays through the
verbs and fine-tunes on a small folder: the imported model's pictures are NVlabs' numbers
(test_convert_*), here the whole path from the file to a trained run and back to the verbs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ganvas
from ganvas.cli import main
from tests.helpers import make_png_folder
from tests.nvlabs.test_fixtures import FILES, FIXTURES

pytestmark = pytest.mark.skipif(FIXTURES is None, reason="NVlabs fixtures absent (set "
                                "GANVAS_NVLABS_FIXTURES or put shared/ beside the repository)")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_png_folder(tmp_path_factory.mktemp("pics") / "pics", n=8, size=40)


@pytest.mark.parametrize("name", sorted(FILES))
def test_import_play_and_fine_tune(name, folder, tmp_path):
    pkl = FIXTURES / f"{name}.pkl"
    out = tmp_path / "imported"
    assert main(["import", str(pkl), "--out", str(out)]) == 0
    info = json.loads((out / "model.json").read_text())
    expected_p = float(np.load(FIXTURES / f"{name}.expected.npz")["ada_p"])
    assert (info["imported"]["augment_p"] or -1.0) == pytest.approx(expected_p, abs=1e-6)
    model = ganvas.load(out, device="cpu")
    label = 0 if model.num_classes else None
    assert np.array_equal(model.generate([0, 1], label=label),
                          ganvas.load(pkl, device="cpu").generate([0, 1], label=label))
    assert main(["interpolate", str(out), "--seeds", "0,1", "--frames", "3",
                 "--out", str(tmp_path / "walk.gif")]
                + (["--class", "0"] if label is not None else [])) == 0
    run = ganvas.train(str(folder), out=tmp_path / "runs", init_from=str(pkl), kimg=0.008,
                       batch=4, snap_kimg=0.008, tick_kimg=0.008, grid_size=4,
                       progress=False, device="cpu", seed=0)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["family"] == info["model"]["family"]
    if expected_p >= 0:
        assert config["augment"]["p"] == pytest.approx(expected_p, abs=1e-6)
    tuned = ganvas.load(run, device="cpu")
    assert tuned.generate([0, 1], truncation=0.7).shape == (2, 32, 32, 3)
    assert main(["style-mix", str(run), "--rows", "0,1", "--cols", "2",
                 "--out", str(tmp_path / "mix.png")]) == 0
