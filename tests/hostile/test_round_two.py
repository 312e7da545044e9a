"""Hostile input, round two (issue 31, items 4-11, 13, 14): files and settings that were
trusted and should not have been, and failures that printed more than one line. Each case
runs through the CLI and must be one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from ganvas.checkpoint import model_info
from ganvas.config.schema import ModelConfig
from ganvas.models import build_discriminator, build_generator
from ganvas.runfolder.snapshots import write_snapshot

from tests.helpers import DC, export_random, make_toy_archive, run, usage_error


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """{"nan": model, "inf": model}: tiny exported DCGANs whose G_ema holds a NaN or an
    infinity in one weight."""
    out = {}
    for kind, value in (("nan", float("nan")), ("inf", float("inf"))):
        folder = export_random(tmp_path_factory.mktemp(kind) / "model", **DC)
        path = folder / "G_ema.safetensors"
        tensors = load_file(str(path))
        name = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
        tensors[name].view(-1)[1] = value
        save_file(tensors, str(path))
        out[kind] = (folder, name)
    return out


@pytest.mark.parametrize("kind", ["nan", "inf"])
@pytest.mark.parametrize("verb", ["generate", "eval", "blend", "export"])
def test_weights_that_are_not_finite_are_refused(poisoned, kind, verb, tmp_path, capsys):
    model, tensor = poisoned[kind]
    argv = {"generate": ["generate", model, "--seeds", "0-1", "--out", tmp_path / "out"],
            "eval": ["eval", model, "--metrics", "swd", "--num", "8", "--out",
                     tmp_path / "out.json"],
            "blend": ["blend", model, model, "--swap-at", "8", "--out", tmp_path / "out"],
            "export": ["export", model, "--out", tmp_path / "out"]}[verb]
    err = usage_error([str(a) for a in argv + ["--device", "cpu"] * (verb != "blend")], capsys)
    assert "G_ema.safetensors" in err and tensor in err
    assert ("NaN" if kind == "nan" else "infinite") in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.json").exists()


def tune_argv(toy, out, *more):
    return ["tune", str(toy), "--out", str(out), "--model", "dcgan-tiny", "--metric", "swd",
            "--kimg-per-trial", "0.064", "--trials", "1", *map(str, more)]


@pytest.mark.parametrize("line, flag", [
    ("kimg: [100000000]", "--kimg-per-trial"),
    ("minutes: {low: 1, high: 100000}", "--minutes-per-trial"),
    ("snap_kimg: [0.001, 0.002]", "--snap-kimg"),
    ("grid_size: [16, 4096]", "--grid-size"),
    ("metrics_num: [2, 50000]", "--metrics-num"),
])
def test_a_search_space_cannot_set_a_trials_budget_or_output(toy_archive, tmp_path, capsys,
                                                             line, flag):
    pytest.importorskip("optuna")
    space = tmp_path / "space.yaml"
    space.write_text(f"lr_g: default\n{line}\n")
    err = usage_error(tune_argv(toy_archive, tmp_path / "t", "--space", space), capsys)
    name = line.split(":")[0]
    assert f"--space {name}: not searchable" in err and flag in err
    assert not (tmp_path / "t").exists()


def test_a_foreign_database_is_not_made_a_study(toy_archive, tmp_path, capsys):
    pytest.importorskip("optuna")
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO customers (name) VALUES ('Ada')")
    con.close()
    before = db.read_bytes()
    url = f"sqlite:///{db}"
    for argv in (tune_argv(toy_archive, tmp_path / "t", "--storage", url),
                 ["tune", "--show", "--storage", url, "--out", str(tmp_path / "t")]):
        err = usage_error(argv, capsys)
        assert "another program's tables (customers)" in err and str(db) in err
    assert db.read_bytes() == before
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()
    assert tables == ["customers"]
    assert not (tmp_path / "t").exists()


TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.mark.parametrize("env, named", [
    (dict(RANK="x", WORLD_SIZE="-3"), "RANK='x': not a whole number"),
    (dict(RANK="0", WORLD_SIZE="-3", LOCAL_RANK="0"), "WORLD_SIZE=-3"),
    (dict(RANK="0", WORLD_SIZE="two", LOCAL_RANK="0"), "WORLD_SIZE='two'"),
    (dict(RANK="0", WORLD_SIZE="2"), "LOCAL_RANK is not"),
    (dict(RANK="3", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
          MASTER_PORT="29500"), "RANK=3: give a rank from 0 to 1"),
    (dict(RANK="1", WORLD_SIZE="2", LOCAL_RANK="-1", MASTER_ADDR="127.0.0.1",
          MASTER_PORT="29500"), "LOCAL_RANK=-1"),
    # issue 31, item 11: torchrun's rendezvous variables missing were a torch traceback
    (dict(RANK="5", WORLD_SIZE="2", LOCAL_RANK="5"), "MASTER_ADDR and MASTER_PORT are not set"),
    (dict(RANK="1", WORLD_SIZE="2", LOCAL_RANK="1", MASTER_PORT="29500"),
     "MASTER_ADDR is not set"),
    (dict(RANK="1", WORLD_SIZE="2", LOCAL_RANK="1", MASTER_ADDR="127.0.0.1",
          MASTER_PORT="99999"), "MASTER_PORT='99999'"),
])
def test_malformed_torchrun_variables_are_named(toy_archive, tmp_path, capsys, monkeypatch,
                                                env, named):
    for name in TORCHRUN:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = usage_error(["train", str(toy_archive), "--out", str(tmp_path / "runs"),
                       "--model", "dcgan-tiny", "--kimg", "0.016", "--device", "cpu"], capsys)
    assert err.startswith("ganvas train") and named in err
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def dcgans(tmp_path_factory):
    """{"plain": an unconditional tiny DCGAN, "classes": one with classes a and b}."""
    root = tmp_path_factory.mktemp("dcgans")
    return {"plain": export_random(root / "plain", **DC),
            "classes": export_random(root / "classes", classes=("a", "b"), **DC)}


def keyframes(path, labels, z_dim=DC["z_dim"]):
    np.savez(path, z=np.random.default_rng(0).normal(size=(len(labels), z_dim)),
             labels=np.array(labels))
    return path


@pytest.mark.parametrize("model, labels, message", [
    ("plain", [99, -1, 5], "holds 'labels', but"),
    ("plain", [0, 0, 0], "holds 'labels', but"),
    ("classes", [99, -1, 5], "label 99 is not a class"),
    ("classes", [0, 1, -1], "label -1 is not a class"),
])
def test_keyframe_labels_the_model_does_not_have_are_refused(dcgans, tmp_path, capsys, model,
                                                             labels, message):
    keys = keyframes(tmp_path / "keys.npz", labels)
    err = usage_error(["interpolate", str(dcgans[model]), "--latents", str(keys), "--out",
                       str(tmp_path / "walk.png"), "--frames-per-step", "2", "--device",
                       "cpu"], capsys)
    assert str(keys) in err and message in err
    assert not (tmp_path / "walk.png").exists()


def test_keyframe_labels_of_the_models_classes_still_walk(dcgans, tmp_path, capsys):
    keys = keyframes(tmp_path / "keys.npz", [0, 1, 0])
    assert run(["interpolate", dcgans["classes"], "--latents", keys, "--out",
                tmp_path / "walk.png", "--frames-per-step", "2", "--device", "cpu"]) == 0
    assert (tmp_path / "walk.png").is_file()


def directions_file(path, vectors):
    vectors = np.asarray(vectors, dtype=np.float32)
    np.savez(path, directions=vectors, values=np.arange(len(vectors), 0, -1.0),
             space=np.array("z"), method=np.array("sefa"), layers=np.zeros(0, np.int64))
    return path


def test_an_all_zero_direction_is_refused_naming_it(dcgans, tmp_path, capsys):
    vectors = np.eye(4, DC["z_dim"])
    vectors[2] = 0
    dirs = directions_file(tmp_path / "dirs.npz", vectors)
    err = usage_error(["explore", str(dcgans["plain"]), "--directions", str(dirs), "--out",
                       str(tmp_path / "grid.png"), "--steps", "3", "--device", "cpu"], capsys)
    assert str(dirs) in err and "direction 2 is all zeros" in err
    assert not (tmp_path / "grid.png").exists()
    # the same file with that direction set right sweeps
    vectors[2, 5] = 1
    directions_file(dirs, vectors)
    assert run(["explore", dcgans["plain"], "--directions", dirs, "--out",
                tmp_path / "grid.png", "--steps", "3", "--device", "cpu"]) == 0
    assert (tmp_path / "grid.png").is_file()


@pytest.mark.parametrize("verb", ["eval", "eval-memorization", "train", "tune-final",
                                  "tune-snapshots"])
def test_a_sample_count_beyond_the_limit_is_named_not_shrunk(verb, dcgans, toy_archive,
                                                             tmp_path, capsys):
    huge = "1000000000000"
    argv = {"eval": ["eval", dcgans["plain"], "--metrics", "swd", "--num", huge],
            "eval-memorization": ["eval", dcgans["plain"], "--memorization", "--num", huge],
            "train": ["train", toy_archive, "--model", "dcgan-tiny", "--metrics", "swd",
                      "--metrics-num", huge, "--out", tmp_path / "out"],
            "tune-final": [*tune_argv(toy_archive, tmp_path / "out", "--final-num", huge)],
            "tune-snapshots": [*tune_argv(toy_archive, tmp_path / "out", "--metrics-num",
                                          huge)]}[verb]
    if verb.startswith("tune"):
        pytest.importorskip("optuna")
    err = usage_error([str(a) for a in argv], capsys)
    assert ("1,000,000,000,000" in err or huge in err) and "50,000" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("keys, scale, message", [
    (100_000, 1, "a PNG grid of 199998 frames is too big (at most 4096)"),
    (2_049, 16, "4,096 frames of 256x256, 268,435,456 pixels (at most 134,217,728)"),
])
def test_a_storyboard_is_bounded_before_any_latent_is_computed(dcgans, tmp_path, capsys,
                                                               monkeypatch, keys, scale,
                                                               message):
    from ganvas.latent import animate

    def never(*args, **kwargs):
        raise AssertionError("latents interpolated before the storyboard was bounded")

    monkeypatch.setattr(animate, "interpolate", never)
    path = tmp_path / "keys.npz"
    np.savez(path, z=np.random.default_rng(0).normal(size=(keys, DC["z_dim"])))
    err = usage_error(["interpolate", str(dcgans["plain"]), "--latents", str(path),
                       "--frames-per-step", "1", "--scale", str(scale), "--out",
                       str(tmp_path / "board.png"), "--device", "cpu"], capsys)
    assert message in err
    assert not (tmp_path / "board.png").exists()


@pytest.mark.parametrize("suffix", [".mp3", ".wav", ".ogg", ".flac"])
def test_a_picture_named_as_a_song_is_one_line_even_from_the_decoders(dcgans, tmp_path, capfd,
                                                                      suffix):
    pytest.importorskip("librosa")
    song = tmp_path / f"song{suffix}"
    Image.new("RGB", (8, 8), (200, 40, 40)).save(song, format="PNG")
    err = usage_error(["interpolate", str(dcgans["plain"]), "--seeds", "1,2", "--audio",
                       str(song), "--out", str(tmp_path / "v.mp4"), "--device", "cpu"], capfd)
    assert f"cannot read {song} as audio" in err        # and nothing else: no decoder notes
    assert not (tmp_path / "v.mp4").exists()


@pytest.fixture(scope="module")
def dcgan_snapshot(tmp_path_factory):
    """A 32 px DCGAN snapshot with G, G_ema and D (a fine-tuning source; untrained: only
    its configuration matters) and a 32 px dataset."""
    root = tmp_path_factory.mktemp("source")
    cfg = ModelConfig(**{**DC, "resolution": 32})
    nets = {"G": build_generator(cfg), "G_ema": build_generator(cfg),
            "D": build_discriminator(cfg)}
    snap = write_snapshot(root / "snap", nets, model_info(cfg, 0, {}, preset="dcgan-tiny"))
    return snap, make_toy_archive(root / "toy32.zip", n=16, resolution=32)


@pytest.mark.parametrize("options, says", [
    (["--model", "stylegan2-tiny"], "it is a dcgan model, this run a stylegan2 one (9 more "
                                    "fields differ)"),
    (["--z-dim", "20"], "its z_dim 16 there, 20 here;"),
    (["--model", "dcgan"], "its z_dim 16 there, 100 here; g_width 8 there, 64 here (+1 more)"),
])
def test_a_fine_tuning_mismatch_names_the_few_fields_that_matter(dcgan_snapshot, tmp_path,
                                                                 capsys, options, says):
    snap, data = dcgan_snapshot
    err = usage_error(["train", str(data), "--init-from", str(snap), "--out",
                       str(tmp_path / "runs"), "--kimg", "0.016", "--device", "cpu", *options],
                      capsys)
    assert says in err and "drop --model and the model options" in err
    assert len(err.replace(str(snap), "SOURCE")) < 200
    assert not (tmp_path / "runs").exists()
