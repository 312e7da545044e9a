"""`ganvas import`, a .pkl (or URL) as every verb's MODEL, and fine-tuning from a pickle: on a
ganvas StyleGAN2 written back in stylegan2-ada-pytorch's layout (tests/nvlabs/from_ganvas.py),
so what comes back must be exactly the model that went in."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

import ganvas
from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.runfolder import snapshots
from tests.helpers import make_toy_archive, usage_error
from tests.nvlabs.from_ganvas import stylegan2_pickle, tiny_stylegan2

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def source():
    cfg, G, D = tiny_stylegan2()
    return cfg, G, D, stylegan2_pickle(cfg, G, D, p=0.25)


@pytest.fixture
def pkl(source, tmp_path):
    path = tmp_path / "network-snapshot-000012.pkl"
    path.write_bytes(source[3])
    return path


def _images_of(G, cfg, seeds):
    """What ganvas makes of G for these seeds, through a Model built around it."""
    return ganvas.api.Model(G, {"model": {}}, "original").generate(seeds)


def test_import_writes_the_model_that_went_in(source, pkl, tmp_path, capsys):
    cfg, G, D, _ = source
    out = tmp_path / "imported"
    assert main(["import", str(pkl), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["D.safetensors", "G.safetensors",
                                                     "G_ema.safetensors", "model.json"]
    info = json.loads((out / "model.json").read_text())
    assert info["imported"]["augment_p"] == pytest.approx(0.25)
    assert info["imported"]["kimg"] == 12 and info["kimg"] == 12
    assert info["imported"]["sha256"] == hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert info["imported"]["format"] == "stylegan2-ada-pytorch" and info["preset"] == "stylegan2"
    want = _images_of(G, cfg, SEEDS)
    assert np.array_equal(ganvas.load(out, device="cpu").generate(SEEDS), want)
    from_pickle = ganvas.load(pkl, device="cpu")
    assert "converted in memory, none of its code run" in capsys.readouterr().err
    assert np.array_equal(from_pickle.generate(SEEDS), want)
    assert from_pickle.kimg == 12
    # A second import never writes over the first.
    before = (out / "G_ema.safetensors").read_bytes()
    line = usage_error(["import", str(pkl), "--out", str(out)], capsys)
    assert "not empty; import into a new or empty folder" in line
    assert (out / "G_ema.safetensors").read_bytes() == before


def test_the_verbs_take_the_pickle(pkl, tmp_path, capsys):
    assert main(["generate", str(pkl), "--seeds", "0-3", "--out", str(tmp_path / "g.png"),
                 "--truncation", "0.7"]) == 0
    assert main(["style-mix", str(pkl), "--rows", "0,1", "--cols", "2,3",
                 "--out", str(tmp_path / "mix.png")]) == 0
    assert main(["export", str(pkl), "--out", str(tmp_path / "exp")]) == 0
    assert (tmp_path / "g.png").exists() and (tmp_path / "mix.png").is_file()
    exported = ganvas.load(tmp_path / "exp", device="cpu")
    assert np.array_equal(exported.generate(SEEDS), ganvas.load(pkl, "cpu").generate(SEEDS))


def test_a_url_is_fetched_once_into_the_cache_and_a_pin_is_checked(pkl, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setenv("GANVAS_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256(pkl.read_bytes()).hexdigest()
    url = pkl.as_uri()
    wrong = "0" * 64
    with pytest.raises(GanvasError, match=f"expected {wrong}; not kept"):
        ganvas.load(f"{url}#sha256={wrong}", "cpu")
    assert not list((tmp_path / "cache" / "networks").iterdir())
    with pytest.raises(GanvasError, match="sha256=<64 hex digits>"):
        ganvas.load(f"{url}#md5=abc", "cpu")
    model = ganvas.load(f"{url}#sha256={digest}", "cpu")
    assert "downloading" in capsys.readouterr().out
    cached = list((tmp_path / "cache" / "networks").iterdir())
    assert len(cached) == 1 and cached[0].name.endswith("network-snapshot-000012.pkl")
    pkl.unlink()                                            # the cache serves it now
    assert np.array_equal(ganvas.load(url, "cpu").generate(SEEDS), model.generate(SEEDS))
    cached[0].write_bytes(cached[0].read_bytes()[:-1] + b"\0")   # damaged in the cache
    with pytest.raises(GanvasError, match="does not have sha256"):
        ganvas.load(f"{url}#sha256={digest}", "cpu")


def test_bad_pickles_are_one_line(source, tmp_path, capsys):
    cfg, G, D, _ = source
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle at all")
    assert "garbage.pkl" in usage_error(["generate", str(garbage), "--out",
                                         str(tmp_path / "x.png")], capsys)
    assert not (tmp_path / "x.png").exists()
    D.blocks[0].fromrgb.weight = torch.nn.Parameter(torch.zeros(3, 3, 1, 1))  # a lying shape
    lying = tmp_path / "lying.pkl"
    lying.write_bytes(stylegan2_pickle(cfg, G, D))
    line = usage_error(["import", str(lying), "--out", str(tmp_path / "out")], capsys)
    assert "blocks.0.fromrgb.weight has shape [3, 3, 1, 1]" in line
    assert not (tmp_path / "out").exists()
    assert "no such network pickle" in usage_error(
        ["generate", str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "y.png")], capsys)


RUN = dict(snap_kimg=0.016, tick_kimg=0.016, batch=4, progress=False, device="cpu", seed=1,
           grid_size=4)


def _weights(folder, name):
    from safetensors.torch import load_file
    return load_file(str(folder / f"{name}.safetensors"))


def test_fine_tuning_from_a_pickle_starts_from_it_with_its_p_and_kimg(source, pkl, tmp_path,
                                                                      capsys):
    data = make_toy_archive(tmp_path / "toy.zip", resolution=32, n=8)
    run = ganvas.train(str(data), out=tmp_path / "runs", init_from=str(pkl), kimg=0.016,
                       lr_g=1e-30, lr_d=1e-30, **RUN)
    config = json.loads((run / "config.json").read_text())
    assert config["augment"]["p"] == pytest.approx(0.25)
    assert config["train"]["start_kimg"] == 12 and config["model"]["z_dim"] == source[0].z_dim
    snap = snapshots.list_snapshots(run)[-1]
    assert snap.name == "kimg-000012.016"
    imported = ganvas.load(pkl, "cpu").G.state_dict()
    trained = _weights(snap, "G")
    moved = [k for k in imported if not torch.allclose(imported[k], trained[k], atol=1e-6)]
    assert sorted(moved) == ["mapping.w_avg", "pl_mean"]     # running means training updates
    log = (run / "log.txt").read_text()
    assert "fine-tuning from" in log and "counting on from its 12 kimg" in log
    assert "augmentation p starts at 0.25 (the source's)" in log


def test_fine_tuning_with_classes_and_freeze_d(pkl, tmp_path):
    data = make_toy_archive(tmp_path / "labelled.zip", resolution=32, n=8, labelled=True)
    run = ganvas.train(str(data), out=tmp_path / "runs", init_from=str(pkl), kimg=0.008,
                       conditional=True, freeze_d=1, **{**RUN, "snap_kimg": 0.008})
    log = (run / "log.txt").read_text()
    assert "a new class embedding for 2 classes (the source had none)" in log
    model = ganvas.load(run, "cpu")
    assert model.num_classes == 2 and model.generate([0], label=1).shape == (1, 32, 32, 3)


def test_fine_tuning_on_data_the_model_cannot_follow_names_what_would(pkl, tmp_path, capsys):
    grey = make_toy_archive(tmp_path / "grey.zip", resolution=32, n=8, channels=1)
    line = usage_error(["train", str(grey), "--init-from", str(pkl), "--kimg", "0.008",
                        "--out", str(tmp_path / "runs")], capsys)
    assert "it makes 32x32 px RGB pictures, this run's are 32x32 px grey" in line
    assert "--channels 3" in line
