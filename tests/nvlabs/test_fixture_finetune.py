"""Each kind of pickle NVlabs' code wrote (shared/fixtures/nvlabs) imports, plays through the
verbs and fine-tunes on a small folder: the imported model's pictures are NVlabs' numbers
(test_convert_*), here the whole path from the file to a trained run and back to the verbs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

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
    direct = ganvas.load(pkl, device="cpu")
    assert all(torch.equal(t, direct.G.state_dict()[k]) for k, t in model.G.state_dict().items())
    if model.num_classes:               # the imported conditional model draws by class
        assert model.generate([0], label=model.num_classes - 1).shape == (1, 32, 32, 3)
    # One step of fine-tuning (StyleGAN3's G is slow on a CPU: each picture verb costs one
    # 16-row chunk), then the verbs on the result.
    run = ganvas.train(str(folder), out=tmp_path / "runs", init_from=str(pkl), kimg=0.004,
                       batch=4, snap_kimg=0.004, tick_kimg=0.004, grid_size=4,
                       progress=False, device="cpu", seed=0)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["family"] == info["model"]["family"]
    if expected_p >= 0:
        assert config["augment"]["p"] == pytest.approx(expected_p, abs=1e-6)
    assert main(["generate", str(run), "--seeds", "0-1", "--truncation", "0.7",
                 "--out", str(tmp_path / "pics")]) == 0
    assert main(["interpolate", str(run), "--seeds", "0,1", "--frames", "2",
                 "--out", str(tmp_path / "walk.gif")]) == 0
    if model.capabilities.style_mixing:
        assert main(["style-mix", str(run), "--rows", "0", "--cols", "1",
                     "--out", str(tmp_path / "mix.png")]) == 0
    assert len(list((tmp_path / "pics").glob("*.png"))) == 2 and (tmp_path / "walk.gif").is_file()
