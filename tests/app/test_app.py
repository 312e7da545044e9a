"""ganvas app: the page driven with Streamlit's AppTest (gallery, sliders, walks, style mixing,
uploads and projection, model card), its input checks, and the `ganvas app` command line."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import ganvas

from tests.helpers import usage_error
from tests.helpers import DC, SG2, export_random

# AppTest drives lazy tabs, uploads and download buttons from Streamlit 1.67 on (the app itself
# runs on 1.65, the last release for Python 3.10).
pytest.importorskip("streamlit", minversion="1.67", reason="needs streamlit>=1.67's AppTest")
from streamlit.testing.v1 import AppTest  # noqa: E402

from ganvas.app import direction_sliders, inputs, launch, projection, render  # noqa: E402
from ganvas.app.inputs import parse_seeds, read_upload  # noqa: E402

TIMEOUT = 60                 # seconds per AppTest run (a 2-core CPU shared with other work)


def page(model_path: str) -> None:
    """The page as AppTest.from_function runs it (its source is copied into a script)."""
    from ganvas.app.page import main
    main([model_path])


def open_page(path) -> AppTest:
    at = AppTest.from_function(page, args=(str(path),), default_timeout=TIMEOUT)
    return ok(at.run())


def open_tab(at: AppTest, name: str) -> AppTest:
    """Switch to a tab (only the open tab runs) and rerun."""
    at.session_state["section"] = name
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    """The run raised nothing and showed no error message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def captions(at: AppTest) -> list[str]:
    """The captions of all pictures shown (older AppTests know images only as "imgs")."""
    return [img.caption for el in at.get("image") or at.get("imgs") for img in el.proto.imgs]


def gallery_captions(at: AppTest) -> list[str]:
    return [c for c in captions(at) if re.fullmatch(r"seed \d+", c)]


def png(size=(40, 30), mode="RGB", fmt="PNG", colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour if mode != "RGBA" else (*colour, 0)).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("app-dc") / "model", **DC)


@pytest.fixture(scope="module")
def cond_dc(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("app-cdc") / "model", ("cat", "dog", "fox"),
                         **DC)


@pytest.fixture(scope="module")
def sg2(tmp_path_factory):
    return export_random(tmp_path_factory.mktemp("app-sg2") / "model", **SG2)


@pytest.fixture
def offline_distance(monkeypatch):
    """Projection without VGG-16 weights (no download): the pixel distance."""
    def no_vgg(*args, **kwargs):
        raise ganvas.GanvasError("no VGG-16 weights in the tests")
    monkeypatch.setattr("ganvas.latent.perceptual.load_vgg16", no_vgg)


# --- input checks --------------------------------------------------------------------------

def test_parse_seeds_forms_and_limits():
    assert parse_seeds("0-3, 10,12-13", 10) == [0, 1, 2, 3, 10, 12, 13]
    assert parse_seeds(f"{ganvas.MAX_SEED}", 1) == [ganvas.MAX_SEED]
    assert parse_seeds("", 5, minimum=0) == []
    for bad in ("a", "3-1", "-2", f"{ganvas.MAX_SEED + 1}", "1.5", "0-99999999999"):
        with pytest.raises(ganvas.GanvasError, match=rf"bad seed(s| range) '{re.escape(bad)}'"):
            parse_seeds(bad, 64)
    with pytest.raises(ganvas.GanvasError, match="at most 4"):
        parse_seeds("0-4", 4)
    with pytest.raises(ganvas.GanvasError, match="at least 2"):
        parse_seeds("7", 4, minimum=2)


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("JPEG", "JPEG"),
                                     ("WEBP", "webp")])
def test_read_upload_accepts_pictures(fmt, ext):
    up = read_upload(f"cat.{ext}", png(fmt=fmt))
    assert up.pixels.shape == (30, 40, 3) and up.pixels.dtype == np.uint8
    assert abs(int(up.pixels[5, 5, 0]) - 200) < 8           # the colour survives (JPEG: about)
    assert Image.open(io.BytesIO(up.png)).size == (40, 30)


def test_read_upload_transparency_on_white_and_exif_rotation():
    assert (read_upload("a.png", png(mode="RGBA")).pixels == 255).all()
    im = Image.new("RGB", (40, 30), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6                                         # rotate 90 degrees to view
    out = io.BytesIO()
    im.save(out, format="JPEG", exif=exif)
    assert read_upload("r.jpg", out.getvalue()).pixels.shape == (40, 30, 3)


def test_read_upload_rejects_bad_files(monkeypatch):
    good = png()
    cases = {"notes.txt": (good, "not a picture this page takes"),
             "noext": (good, "not a picture this page takes"),
             "fake.png": (b"<html>hello</html>", "not a PNG, JPEG or WebP"),
             "cut.png": (good[:len(good) // 2], "damaged or cut short"),
             "anim.png": (png(fmt="GIF"), "not a PNG, JPEG or WebP"),   # a GIF in disguise
             "empty.webp": (b"", "empty")}
    for name, (data, message) in cases.items():
        with pytest.raises(ganvas.GanvasError, match=message):
            read_upload(name, data)
    monkeypatch.setattr(inputs, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(ganvas.GanvasError, match="the limit is"):
        read_upload("big.png", good + b"\0" * 100)
    monkeypatch.setattr(inputs, "MAX_UPLOAD_BYTES", 10 * 2**20)
    monkeypatch.setattr(inputs, "MAX_UPLOAD_PIXELS", 1000)
    with pytest.raises(ganvas.GanvasError, match="40x30 pixels"):
        read_upload("wide.png", good)


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height (what a decompression bomb does)."""
    data = bytearray(png(size=(1, 1)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    return bytes(data)


def test_read_upload_refuses_too_many_pixels_before_decoding():
    with pytest.raises(ganvas.GanvasError, match="7000x7000 pixels; the limit is 40"):
        read_upload("big.png", png_claiming(7000, 7000))           # 49 MP: our limit
    with pytest.raises(ganvas.GanvasError, match="too many pixels"):
        read_upload("bomb.png", png_claiming(30000, 30000))        # 900 MP: Pillow's too


# --- cached renders equal the API -----------------------------------------------------------

def test_renders_equal_the_api(sg2):
    model, path = ganvas.load(sg2), str(sg2)
    s = ganvas.Look(truncation=0.7, noise_mode="const")
    assert np.array_equal(render.generate(path, [3, 4], s),
                          model.generate([3, 4], truncation=0.7, noise_mode="const"))
    assert np.array_equal(render.shifted(path, 3, {}, s), model.generate([3], truncation=0.7))
    moved = render.shifted(path, 3, {0: 2.0, 5: -1.0}, s)
    z = model.z([3])
    z[0, 0] += 2.0
    z[0, 5] -= 1.0
    assert np.array_equal(moved, model.synthesize(z, None, 0.7, "const"))
    assert not np.array_equal(moved, model.generate([3], truncation=0.7))


# --- the page ----------------------------------------------------------------------------

def test_gallery_seeds_truncation_and_downloads(dc):
    at = open_page(dc)
    assert at.title[0].value == "ganvas playground"
    assert gallery_captions(at) == [f"seed {s}" for s in range(18)]
    at.text_input(key="gallery_seeds").set_value("5-7,40")
    ok(at.run())
    assert gallery_captions(at) == ["seed 5", "seed 6", "seed 7", "seed 40"]
    labels = [d.label for d in at.download_button]
    assert "Grid (PNG)" in labels and "Seed 5 (PNG)" in labels
    at.slider(key="truncation").set_value(0.5)
    ok(at.run())
    at.text_input(key="gallery_seeds").set_value("0-100")         # too many: a message
    at.run()
    assert not at.exception and "at most 64" in at.error[0].value


def test_only_the_open_tab_runs_and_values_survive_a_tab_switch(dc):
    at = open_page(dc)
    at.text_input(key="gallery_seeds").set_value("7-9")
    ok(at.run())
    open_tab(at, "Interpolation")
    assert not captions(at)                                  # nothing of the gallery made
    at.text_input(key="walk_seeds").set_value("5,6")
    ok(at.run())
    open_tab(at, "Gallery")
    assert gallery_captions(at) == ["seed 7", "seed 8", "seed 9"]
    open_tab(at, "Interpolation")
    assert at.text_input(key="walk_seeds").value == "5,6"


def test_gallery_random_seeds_roll(dc):
    at = open_page(dc)
    at.radio(key="gallery_mode").set_value("Random").run()
    at.slider(key="gallery_count").set_value(5)
    ok(at.run())
    first = gallery_captions(at)
    assert len(first) == 5
    at.button(key="gallery_roll").click()
    ok(at.run())
    assert len(gallery_captions(at)) == 5 and gallery_captions(at) != first


def test_conditional_class_and_class_walk(cond_dc):
    at = open_page(cond_dc)
    label = at.selectbox(key="label")
    assert label.options == ["by seed (seed % classes)", "cat", "dog", "fox"]
    label.set_value(1)                                         # dog
    ok(at.run())
    assert "3 classes" in at.caption[0].value
    open_tab(at, "Interpolation")
    at.radio(key="walk_mode").set_value("Classes").run()
    at.multiselect(key="walk_classes").set_value([0, 2])
    at.slider(key="walk_frames").set_value(4)
    at.checkbox(key="walk_loop").uncheck()
    at.button(key="walk_render").click()
    ok(at.run())
    walk = at.session_state["walk_result"]
    assert walk["gif"][:4] == b"GIF8" and walk["frames"] == 4 + 1   # 1 step + last frame


def test_interpolation_gif_and_mp4_downloads(dc):
    at = open_tab(open_page(dc), "Interpolation")
    at.text_input(key="walk_seeds").set_value("0,1,2")
    at.slider(key="walk_frames").set_value(3)
    at.checkbox(key="walk_mp4").check()
    at.button(key="walk_render").click()
    ok(at.run())
    walk = at.session_state["walk_result"]
    assert walk["frames"] == 3 * 3                              # loop: 3 steps of 3 frames
    with Image.open(io.BytesIO(walk["gif"])) as gif:
        assert gif.n_frames == 9
    assert walk["mp4"][4:8] == b"ftyp"
    assert walk["storyboard"].shape[1] > walk["storyboard"].shape[0]   # rows of 4 frames
    labels = [d.label for d in at.download_button]
    assert {"GIF", "MP4", "Storyboard (PNG)"} <= set(labels)
    at.text_input(key="walk_seeds").set_value("0")              # one seed: a message
    at.run()
    assert not at.exception and "at least 2" in at.error[0].value
    assert any("controls changed" in c.value for c in at.caption)


def test_latent_sliders(dc):
    at = open_tab(open_page(dc), "Latent sliders")
    at.number_input(key="sliders_seed").set_value(9)
    at.slider(key="sliders_z1").set_value(2.5)
    ok(at.run())
    assert "seed 9 + shifts" in captions(at)
    assert "Sweep (PNG)" not in [d.label for d in at.download_button]     # closed: not made
    at.session_state["sliders_sweep"] = True
    ok(at.run())
    assert "Sweep (PNG)" in [d.label for d in at.download_button]


@pytest.mark.parametrize("name", ["sg2", "dc"])
def test_direction_sliders(name, request):
    """The sliders move the seed along the model's top SeFa directions, several at once."""
    path = request.getfixturevalue(name)
    at = open_tab(open_page(path), "Directions")
    assert [s.key for s in at.slider if s.key.startswith("directions_d")] == [
        f"directions_d{r}" for r in range(direction_sliders.NUM_DIRECTIONS)]
    at.number_input(key="directions_seed").set_value(4)
    at.slider(key="directions_d0").set_value(3.0)
    at.slider(key="directions_d2").set_value(-2.0)
    ok(at.run())
    assert "seed 4 + directions" in captions(at)
    model, s = ganvas.load(path), ganvas.Look()
    found = model.directions("sefa", num=direction_sliders.NUM_DIRECTIONS)
    cells = model.explore_directions(4, found, rows=[0], lo=-3, hi=3, steps=2)
    assert np.array_equal(render.along(str(path), 4, {0: -3.0}, 5, s), cells[0, 0])
    assert np.array_equal(render.along(str(path), 4, {}, 5, s), model.generate([4])[0])
    both = render.along(str(path), 4, {0: 3.0, 2: -2.0}, 5, s)
    assert not np.array_equal(both, render.along(str(path), 4, {0: 3.0}, 5, s))


def test_style_mixing_stylegan2_and_explained_for_others(sg2, dc):
    at = open_tab(open_page(sg2), "Style mixing")
    assert at.selectbox(key="mix_styles").options == ["coarse: pose, shape, layout (4-8 px "
                                                      "layers)", "middle: smaller features "
                                                      "(16-32 px layers)"]
    at.text_input(key="mix_rows").set_value("1,2")
    at.selectbox(key="mix_styles").set_value("middle")
    at.selectbox(key="noise_mode").set_value("random")
    ok(at.run())
    assert "Style mix (PNG)" in [d.label for d in at.download_button]
    at.text_input(key="mix_cols").set_value("0-9")
    at.run()
    assert not at.exception and "at most 6" in at.error[0].value
    at = open_tab(open_page(dc), "Style mixing")
    assert any("needs a model with per-layer styles" in i.value for i in at.info)


def test_upload_project_and_walk_through_projection(dc, offline_distance):
    at = open_tab(open_page(dc), "Projection")
    uploader = at.file_uploader(key="project_upload")
    uploader.upload("notes.png", b"not a picture", "image/png")
    at.run()
    assert not at.exception and "'notes.png' is not a PNG" in at.error[0].value
    uploader = at.file_uploader(key="project_upload")
    uploader.clear().upload("red.png", png(), "image/png")
    at.slider(key="project_steps").set_value(10)
    ok(at.run())
    at.button(key="project_run").click()
    ok(at.run())
    (item,) = at.session_state["projections"]
    assert item["latents"]["z"].shape == (1, DC["z_dim"])
    assert np.isfinite(item["report"]["targets"][0]["distance"])
    with Image.open(io.BytesIO(item["reconstruction"])) as im:     # upload | reconstruction
        assert im.size == (8 * (2 * DC["resolution"] + 1), 8 * DC["resolution"])   # 128 px
    assert {"Latents (.npz)", "Reconstruction (PNG)"} <= {d.label for d in at.download_button}
    open_tab(at, "Interpolation")
    at.radio(key="walk_mode").set_value("Projected pictures").run()
    at.text_input(key="walk_projected_seeds").set_value("4")
    at.slider(key="walk_frames").set_value(2)
    at.checkbox(key="walk_loop").uncheck()
    at.button(key="walk_render").click()
    ok(at.run())
    assert at.session_state["walk_result"]["frames"] == 3


def test_projection_progress_follows_a_step_callback(dc, offline_distance, monkeypatch):
    """The page's progress bar is driven by Model.project's `callback`, step by step."""
    calls = []
    original = ganvas.Model.project

    def project(self, targets, out="projection", callback=None, **kwargs):
        for step in range(1, kwargs["steps"] + 1):
            callback(step, kwargs["steps"], 0.5)
            calls.append(step)
        return original(self, targets, out, **kwargs)

    monkeypatch.setattr(ganvas.Model, "project", project)
    at = open_tab(open_page(dc), "Projection")
    at.file_uploader(key="project_upload").upload("red.png", png(), "image/png")
    at.slider(key="project_steps").set_value(10)
    ok(at.run())
    at.button(key="project_run").click()
    ok(at.run())
    assert calls == list(range(1, 11)) and len(at.session_state["projections"]) == 1


def test_projected_keyframes_stylegan2_mix_w_w_plus_and_seeds(sg2):
    """Projections (w or w+) and seeds share one StyleGAN2 walk: every keyframe becomes
    (num_ws, w_dim), a seed's keyframe is its own w."""
    model = ganvas.load(sg2)
    num_ws = model.w([0]).shape[1]
    w = {"latents": {"w": np.zeros((1, SG2["w_dim"]), np.float32)}}
    w_plus = {"latents": {"w": np.ones((1, num_ws, SG2["w_dim"]), np.float32)}}
    arrays = projection.keyframe_arrays(model, [w, w_plus], [1], None)["w"]
    assert arrays.shape == (3, num_ws, SG2["w_dim"])
    assert (arrays[0] == 0).all() and (arrays[1] == 1).all()
    assert np.array_equal(arrays[2], model.w([1])[0].numpy())


def fake_run(folder):
    """A run directory in an instant: an untrained snapshot and two training grids."""
    export_random(folder / "checkpoints" / "kimg-000000.256", **DC)
    (folder / "samples").mkdir()
    for kimg in ("000000.128", "000000.256"):
        Image.new("RGB", (34, 34), "white").save(folder / "samples" / f"kimg-{kimg}.png")
    return folder


def test_model_card_with_metrics_and_training_grid(tmp_path):
    run = fake_run(tmp_path / "run")
    entries = [{"kimg": 0.128, "metrics": {"swd": 30.5, "fid": 200.0, "swd_levels": [1, 2]},
                "extractors": {"fid": "random-conv"}},
               {"kimg": 0.256, "metrics": {"swd": 25.25, "fid": 150.0},
                "extractors": {"fid": "random-conv"}}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(e) for e in entries) + "\n{half")
    at = open_tab(open_page(run), "Model card")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"swd": "25.25", "fid": "150"}
    assert "latest training grid: kimg-000000.256.png" in captions(at)
    assert any("kimg-000000.256" in m.value for m in at.markdown)
    assert any("random-conv" in c.value for c in at.caption)


def test_model_card_of_an_exported_model(dc):
    at = open_tab(open_page(dc), "Model card")
    assert any("Start the app with a run directory" in c.value for c in at.caption)
    assert not at.metric


def test_streamlit_script_reads_the_model_from_its_command_line(dc, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py", str(dc)])
    at = ok(AppTest.from_file(str(launch.SCRIPT), default_timeout=TIMEOUT).run())
    assert at.title[0].value == "ganvas playground"
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py", str(dc / "missing")])
    at = AppTest.from_file(str(launch.SCRIPT), default_timeout=TIMEOUT).run()
    assert not at.exception and "Cannot load the model" in at.error[0].value


# --- the command line ----------------------------------------------------------------------

def test_cli_app_user_mistakes(tmp_path, dc, capsys):
    assert "model not found" in usage_error(["app", str(tmp_path / "nope")], capsys)
    assert "--port must be" in usage_error(["app", str(dc), "--port", "0"], capsys)


LAUNCH_WITH_A_SLEEPING_CHILD = """
import sys
from ganvas.app import launch
launch.check = lambda model, port, device: None
launch.command = lambda model, host, port, device: [sys.executable, "-c", (
    "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"),
    sys.argv[1]]
launch.launch("model")
"""


def test_launch_stops_streamlit_when_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", LAUNCH_WITH_A_SLEEPING_CHILD,
                               str(pid_file)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.05)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGTERM)                  # the parent alone, not its group
        assert parent.wait(timeout=20) == 128 + signal.SIGTERM
        with pytest.raises(ProcessLookupError, match="No such process"):
            os.kill(child, 0)
    finally:
        parent.kill()
        parent.wait()


def test_streamlit_command_line(dc):
    cmd = launch.command(dc, "127.0.0.1", 8765)
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(launch.SCRIPT)]
    flags = dict(zip(cmd[5:cmd.index("--"):2], cmd[6:cmd.index("--"):2]))
    assert flags["--server.address"] == "127.0.0.1" and flags["--server.port"] == "8765"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.headless"] == "true"
    # Given on the command line, so that a .streamlit/config.toml cannot turn them off.
    assert flags["--server.enableXsrfProtection"] == "true"
    assert flags["--server.enableCORS"] == "true"
    assert cmd[-2:] == ["--", str(dc)]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost",
                                  "LOCALHOST"])
def test_no_warning_for_loopback_hosts(host):
    assert launch.is_loopback(host) and launch.exposure_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.org",
                                  "localhost.evil.example"])
def test_a_host_other_computers_reach_is_warned_about(host):
    warning = launch.exposure_warning(host)
    assert warning and host in warning and "\n" not in warning


def test_launch_prints_the_warning_on_the_console(monkeypatch, capsys):
    monkeypatch.setattr(launch, "check", lambda model, port, device: None)
    monkeypatch.setattr(launch, "command",
                        lambda model, host, port, device: [sys.executable, "-c", "pass"])
    assert launch.launch("model", host="0.0.0.0") == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning" in err and "0.0.0.0" in err
    launch.launch("model", host="127.0.0.1")
    assert capsys.readouterr().err == ""


HOSTILE_NAME = "**bold** <script>alert(1)</script> [x](http://e.example) :red[r] $x$ `c` | _i_"


def test_escape_leaves_no_markdown():
    from ganvas.app.card import MARKDOWN_SPECIAL, escape
    out = escape(HOSTILE_NAME + "\n# title")
    assert "\n" not in out
    for i, c in enumerate(out):                      # every special character is escaped
        if c in MARKDOWN_SPECIAL and c != "\\":
            assert out[i - 1] == "\\", (c, out[:i + 1])
    assert out.replace("\\", "") == (HOSTILE_NAME + " # title").replace("\\", "")


@pytest.fixture(scope="module")
def hostile_names(tmp_path_factory):
    path = export_random(tmp_path_factory.mktemp("app-hostile") / "model",
                         (HOSTILE_NAME, "dog"), **DC)
    info = json.loads((path / "model.json").read_text())
    info["dataset"]["name"] = "<img src=x onerror=alert(1)> **data**"
    (path / "model.json").write_text(json.dumps(info))
    return path


def test_dataset_and_class_names_are_shown_literally(hostile_names):
    from ganvas.app.card import escape
    at = open_page(hostile_names)
    header = at.caption[0].value
    assert escape("<img src=x onerror=alert(1)> **data**") in header
    assert not re.search(r"(?<!\\)[<*\[]", header), header      # none left unescaped
    at = open_tab(at, "Model card")
    table = "\n".join(m.value for m in at.markdown)
    assert escape(HOSTILE_NAME) in table
    assert "**bold**" not in table and not re.search(r"(?<!\\)<script", table)


def test_a_walk_above_the_pixel_budget_is_refused(dc, monkeypatch):
    monkeypatch.setattr(render, "MAX_JOB_PIXELS", 1000)
    at = open_tab(open_page(dc), "Interpolation")
    at.text_input(key="walk_seeds").set_value("0,1")
    at.button(key="walk_render").click()
    at.run()
    assert not at.exception and "too much for the page" in at.error[0].value
    assert "walk_result" not in at.session_state


def test_one_heavy_job_at_a_time(dc):
    at = open_tab(open_page(dc), "Interpolation")
    at.text_input(key="walk_seeds").set_value("0,1")
    at.slider(key="walk_frames").set_value(2)
    assert render.HEAVY.acquire(blocking=False)      # another session's walk is running
    try:
        at.button(key="walk_render").click()
        at.run()
        assert not at.exception and "busy" in at.error[0].value
    finally:
        render.HEAVY.release()
    at.button(key="walk_render").click()
    ok(at.run())
    assert at.session_state["walk_result"]["frames"] == 2 * 2


def test_projection_steps_are_within_the_pixel_budget(dc, monkeypatch):
    monkeypatch.setattr(render, "MAX_JOB_PIXELS", 16 * 16 * 5)
    model = ganvas.load(dc)
    with pytest.raises(ganvas.GanvasError, match="too much for the page"):
        projection.project(model, png(), "x.png", 10, 0, None, False)


def test_a_wide_model_is_shown_wide(tmp_path):
    """A 2:1 model: its size in the header and the card, a wide walk."""
    wide = export_random(tmp_path / "wide", **{**DC, "aspect": "2:1"})
    at = open_page(wide)
    assert "32x16 (2:1)" in at.caption[0].value
    at = open_tab(at, "Interpolation")
    at.text_input(key="walk_seeds").set_value("0,1")
    at.slider(key="walk_frames").set_value(2)
    at.button(key="walk_render").click()
    ok(at.run())
    with Image.open(io.BytesIO(at.session_state["walk_result"]["gif"])) as gif:
        assert gif.size[0] == 2 * gif.size[1]
    at = open_tab(at, "Model card")
    assert "32x16 (2:1)" in "\n".join(m.value for m in at.markdown)


def test_a_blended_model_opens_like_any_other(tmp_path):
    base = export_random(tmp_path / "base", seed=1, **SG2)
    fine = export_random(tmp_path / "fine", seed=2, **SG2)
    blended = ganvas.load(base).blend(fine, tmp_path / "blended", swap_at=8)
    at = open_page(blended)
    assert gallery_captions(at)[:3] == ["seed 0", "seed 1", "seed 2"]
    model = ganvas.load(blended)
    assert np.array_equal(render.generate(str(blended), [3], ganvas.Look()), model.generate([3]))


def test_every_tab_opens_on_a_wide_stylegan2(tmp_path):
    wide = export_random(tmp_path / "wide", **{**SG2, "aspect": "2:1"})
    at = open_page(wide)
    for name in ("Latent sliders", "Directions", "Interpolation", "Style mixing",
                 "Projection", "Model card"):
        open_tab(at, name)
    assert "64x32 (2:1)" in at.caption[0].value


def test_the_page_opens_a_network_pickle(tmp_path):
    """An NVlabs pickle is a MODEL like any other: the gallery shows the imported model's
    pictures, the card says where it came from."""
    from tests.nvlabs.from_ganvas import stylegan2_pickle, tiny_stylegan2
    path = tmp_path / "network-snapshot-000012.pkl"
    path.write_bytes(stylegan2_pickle(*tiny_stylegan2()))
    at = open_page(path)
    assert len(gallery_captions(at)) > 0
    at = open_tab(at, "Model card")
    table = "\n".join(m.value for m in at.markdown)
    assert "stylegan2-ada-pytorch StyleGAN2 (network-snapshot-000012.pkl, sha256" in table
