"""The shipped demo dataset demo:emoji and its lookup helpers.

These tests read only the shipped archive (no font, no fontTools); the test that rebuilds the
archive is skipped where the Debian font, unicode-data or fontTools are missing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.data.archive import file_hash, read_archive, read_manifest
from ganvas.data.demo import DEMO_DATASETS, demo_archive, is_demo_spec
from ganvas.errors import GanvasError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_emoji_dataset.py"
EMOJI_GROUPS = {"Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
                "Travel & Places", "Activities", "Objects", "Symbols", "Flags"}
MAX_BYTES = 8_000_000


@pytest.fixture(scope="module")
def emoji():
    return read_archive(demo_archive("emoji"))


def test_every_demo_name_has_a_shipped_archive():
    for name in DEMO_DATASETS:
        path = demo_archive(name)
        assert path.is_file() and path.suffix == ".zip"
    assert demo_archive("demo:emoji") == demo_archive("emoji")


def test_emoji_archive_shape_and_size(emoji):
    assert emoji.images.dtype == np.uint8
    assert emoji.images.shape[1:] == (64, 64, 3)
    assert (emoji.resolution, emoji.channels) == (64, 3)
    assert len(emoji) >= 1500
    assert demo_archive("emoji").stat().st_size <= MAX_BYTES


def test_emoji_classes_are_unicode_groups_and_all_used(emoji):
    assert emoji.class_names and set(emoji.class_names) <= EMOJI_GROUPS
    assert "Component" not in emoji.class_names
    assert emoji.labels is not None and emoji.labels.shape == (len(emoji),)
    counts = np.bincount(emoji.labels, minlength=len(emoji.class_names))
    assert len(counts) == len(emoji.class_names)
    assert counts.min() > 0, dict(zip(emoji.class_names, counts))


def test_emoji_provenance(emoji):
    extra = emoji.meta["extra"]
    assert extra["name"] == "emoji"
    assert extra["license"] == "Apache-2.0"
    assert "Noto Color Emoji" in extra["source"]
    sources = [e["source"] for e in emoji.meta["images"]]
    assert sources[0].startswith("U+") and len(set(sources)) == len(sources)
    # skin-tone variants were left out
    assert not any(f"U+1F3F{d}" in s for s in sources for d in "BCDEF")
    summary = read_manifest(demo_archive("emoji"))["summary"]
    assert summary["num_images"] == len(emoji)


def test_emoji_license_file_names_apache():
    text = (demo_archive("emoji").parent / "LICENSE-emoji.txt").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0" in text
    assert "Noto" in text and "TERMS AND CONDITIONS" in text   # the full text, not a pointer


def test_emoji_images_are_colourful_on_white(emoji):
    x = emoji.images
    sat = np.stack([np.asarray(Image.fromarray(im).convert("HSV"))[..., 1] for im in x])
    assert sat.mean() > 40                       # a grey image has 0
    assert (sat.reshape(len(x), -1).mean(1) > 20).mean() > 0.7
    assert x.reshape(len(x), -1).std(1).min() > 5   # no blank (all-white) image
    assert (x.min(-1) >= 250).mean() < 0.8        # not mostly background
    corners = x[:, [0, 0, -1, -1], [0, -1, 0, -1]]  # (N, 4, 3)
    assert (corners >= 250).all(axis=(1, 2)).mean() > 0.9   # white background
    assert len(np.unique(x.reshape(len(x), -1), axis=0)) == len(x)   # no duplicates


def test_unknown_demo_lists_available_names():
    with pytest.raises(GanvasError, match="emoji"):
        demo_archive("nope")
    with pytest.raises(GanvasError, match="emoji"):
        demo_archive("demo:nope")


def test_is_demo_spec():
    assert is_demo_spec("demo:emoji")
    assert is_demo_spec("demo:nope")             # a spec; whether it exists is demo_archive's job
    assert not is_demo_spec("demo:")
    assert not is_demo_spec("emoji")
    assert not is_demo_spec("data/demo:emoji")
    assert not is_demo_spec("pictures/")


# ------------------------------------------------------------------ the build script itself

def _load_script():
    if "build_emoji_dataset" in sys.modules:
        return sys.modules["build_emoji_dataset"]
    spec = importlib.util.spec_from_file_location("build_emoji_dataset", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_build_script_squares_without_cutting():
    build = _load_script()
    rgba = np.zeros((128, 136, 4), np.uint8)
    rgba[10:120, 4:132] = 255                          # art inside the 128-wide square
    out = build.square(rgba)
    assert out.shape == (128, 128, 4) and out[..., 3].sum() == rgba[..., 3].sum()
    rgba[50, 0] = 255                                  # art in the margin: pad, do not cut
    out = build.square(rgba)
    assert out.shape == (136, 136, 4) and out[..., 3].sum() == rgba[..., 3].sum()


def test_build_script_names_missing_debian_packages(tmp_path, capsys):
    build = _load_script()
    with pytest.raises(SystemExit, match="^2$") as exc:   # its message is the exit code
        build.main(["--out", str(tmp_path / "e.zip"), "--font", str(tmp_path / "no.ttf")])
    assert exc.value.code == 2 and "fonts-noto-color-emoji" in capsys.readouterr().err
    font = tmp_path / "font.ttf"
    font.write_bytes(b"")
    with pytest.raises(SystemExit, match="^2$") as exc:   # its message is the exit code
        build.main(["--out", str(tmp_path / "e.zip"), "--font", str(font),
                    "--emoji-test", str(tmp_path / "no.txt")])
    assert exc.value.code == 2 and "unicode-data" in capsys.readouterr().err
    assert not (tmp_path / "e.zip").exists()


@pytest.mark.slow
def test_build_script_reproduces_archive(tmp_path):
    build = _load_script()
    font, emoji_test = Path(build.DEFAULT_FONT), Path(build.DEFAULT_EMOJI_TEST)
    if not font.is_file() or not emoji_test.is_file():
        pytest.skip("needs Debian's fonts-noto-color-emoji and unicode-data")
    pytest.importorskip("fontTools")
    out = tmp_path / "emoji.zip"
    build.build(font, emoji_test, out)
    rebuilt, shipped = read_archive(out), read_archive(demo_archive("emoji"))
    assert rebuilt.class_names == shipped.class_names
    assert out.stat().st_size <= MAX_BYTES
    if rebuilt.meta["extra"] == shipped.meta["extra"]:   # same font and Unicode data
        assert file_hash(out) == file_hash(demo_archive("emoji"))
