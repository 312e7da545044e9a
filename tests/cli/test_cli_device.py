"""--device on every verb that computes: cpu works, a GPU this machine lacks is one line and
exit 2 before anything is written; the app hands the device to its page."""

from __future__ import annotations

import pytest
import torch

import ganvas
from ganvas.app import launch
from ganvas.cli import main

from tests.helpers import usage_error
from tests.helpers import DC, SG2, export_random
from tests.latent.test_project import offline  # noqa: F401  (autouse: project uses its pixel fallback)

# Each verb's arguments after MODEL, with OUT for the place it writes (a file or folder in
# tmp_path/out); "sg2" verbs need a StyleGAN2 model, "run" verbs a trained run with data.
VERBS = {
    "generate": ("dc", ["--seeds", "0-2", "--grid", "OUT/g.png", "--out", "OUT/png"]),
    "interpolate": ("dc", ["--seeds", "0,1", "--frames-per-step", "2", "--out", "OUT/w.png"]),
    "explore": ("dc", ["--dims", "0", "--steps", "2", "--out", "OUT/e.png"]),
    "style-mix": ("sg2", ["--rows", "1", "--cols", "2", "--out", "OUT/s.png"]),
    "project": ("dc", ["TARGET", "--steps", "1", "--out", "OUT/p"]),
    "export": ("dc", ["--out", "OUT/m"]),
    "eval": ("run", ["--num", "8", "--out", "OUT/m.json"]),
    "eval-memorization": ("run", ["--memorization", "--extractor", "random-conv", "--num",
                                  "12", "--memorization-dir", "OUT/mem"]),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_run):
    folder = tmp_path_factory.mktemp("device-models")
    return {"dc": export_random(folder / "dc", **DC), "sg2": export_random(folder / "sg2", **SG2),
            "run": tiny_run}


def argv_of(verb: str, models: dict, tmp_path, device: str) -> list[str]:
    kind, args = VERBS[verb]
    target = tmp_path / "target.png"
    if not target.exists():
        ganvas.load(models["dc"], "cpu").save_images([4], grid=target)
    args = [str(target) if a == "TARGET" else a.replace("OUT", str(tmp_path / "out"))
            for a in args]
    return [verb.split("-memorization")[0], str(models[kind]), *args, "--device", device]


@pytest.mark.parametrize("verb", VERBS)
def test_device_cpu_works_for_every_verb(verb, models, tmp_path, capsys):
    assert main(argv_of(verb, models, tmp_path, "cpu")) == 0, capsys.readouterr().err
    assert any((tmp_path / "out").iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("verb", [*VERBS, "app"])
def test_a_missing_gpu_is_one_line_and_writes_nothing(verb, models, tmp_path, capsys):
    if verb == "app":
        pytest.importorskip("streamlit")          # else the app's first complaint is that
    argv = (["app", str(models["dc"]), "--device", "cuda"] if verb == "app"
            else argv_of(verb, models, tmp_path, "cuda"))
    err = usage_error(argv, capsys)
    assert "this machine has no CUDA GPU" in err
    assert not (tmp_path / "out").exists()


def test_unknown_device_is_one_line(models, tmp_path, capsys):
    err = usage_error(argv_of("generate", models, tmp_path, "tpu"), capsys)
    assert "unknown device 'tpu'" in err and not (tmp_path / "out").exists()


def test_app_passes_the_device_to_its_page(models, monkeypatch, capsys):
    started = []

    class Child:
        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(launch.subprocess, "Popen", lambda cmd: started.append(cmd) or Child())
    assert main(["app", str(models["dc"]), "--device", "cpu"]) == 0
    assert started[0][-4:] == ["--", str(models["dc"]), "--device", "cpu"]
    assert launch.command("m")[-2:] == ["--", "m"]            # auto: the page's default


def test_page_reads_model_and_device_from_its_command_line():
    pytest.importorskip("streamlit")
    from ganvas.app.page import parse_argv
    assert parse_argv(["m"]) == ("m", "auto")
    assert parse_argv(["m", "--device", "cpu"]) == ("m", "cpu")
    assert parse_argv([]) is None and parse_argv(["m", "--port", "1"]) is None
